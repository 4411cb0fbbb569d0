"""`troupe serve`: served scenarios behind an OpenAI-compatible API, a runs API with live events, and a
page to watch and steer runs.

    from autogen_troupe.serve import Catalog, ServeConfig, create_app
    app = create_app(ServeConfig.checked(), Catalog.find(["scenarios"]))   # any ASGI server runs it
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._lazy import lazy_exports

if TYPE_CHECKING:
    from ._app import bind, create_app, run_server
    from ._catalog import Catalog
    from ._config import ServeConfig

__all__ = [
    "Catalog",
    "ServeConfig",
    "bind",
    "create_app",
    "run_server",
]

_WHERE = {
    "Catalog": "._catalog",
    "ServeConfig": "._config",
    "create_app": "._app",
    "bind": "._app",
    "run_server": "._app",
}
__getattr__ = lazy_exports(__name__, _WHERE)
