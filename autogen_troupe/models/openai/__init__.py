"""The `openai` provider: any OpenAI-compatible endpoint (vLLM's server, LMDeploy, AIOS, GenOS, GenStudio).

`_client` (the AutoGen client and its factory), `_wire` (the transport that fixes dialects and faulty
answers), `_answers` (what a 200 answer that is no answer looks like), `_errors` (SDK errors made readable),
`_discovery` (the model ids from `GET /models`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..._lazy import lazy_exports

if TYPE_CHECKING:
    from ._client import TroupeOpenAIClient, TroupeOpenAIConfig, create_client
    from ._discovery import adiscover_model, discover_model, list_models
    from ._errors import translate_error

__all__ = [
    "TroupeOpenAIClient",
    "TroupeOpenAIConfig",
    "adiscover_model",
    "create_client",
    "discover_model",
    "list_models",
    "translate_error",
]

_WHERE = {
    "TroupeOpenAIClient": "._client",
    "TroupeOpenAIConfig": "._client",
    "adiscover_model": "._discovery",
    "list_models": "._discovery",
    "create_client": "._client",
    "discover_model": "._discovery",
    "translate_error": "._errors",
}
__getattr__ = lazy_exports(__name__, _WHERE)
