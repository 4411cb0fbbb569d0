"""The `vllm` provider: an in-process vLLM engine shared by every client of the process, and the embedded
default model it loads when no endpoint is given.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..._lazy import lazy_exports

if TYPE_CHECKING:
    from ._client import VllmChatCompletionClient, VllmClientConfig, create_client
    from ._default_model import ensure_default_model
    from ._engine import loaded_engines

__all__ = [
    "VllmChatCompletionClient",
    "VllmClientConfig",
    "create_client",
    "ensure_default_model",
    "loaded_engines",
]

_WHERE = {
    "VllmChatCompletionClient": "._client",
    "VllmClientConfig": "._client",
    "create_client": "._client",
    "ensure_default_model": "._default_model",
    "loaded_engines": "._engine",
}
__getattr__ = lazy_exports(__name__, _WHERE)
