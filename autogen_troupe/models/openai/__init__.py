"""The `openai` provider: any OpenAI-compatible endpoint (vLLM's server, LMDeploy, AIOS, GenOS, GenStudio)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..._lazy import lazy_exports

if TYPE_CHECKING:
    from ._client import TroupeOpenAIClient, TroupeOpenAIConfig, create_client, list_models

__all__ = [
    "TroupeOpenAIClient",
    "TroupeOpenAIConfig",
    "create_client",
    "list_models",
]

_WHERE = {
    "TroupeOpenAIClient": "._client",
    "TroupeOpenAIConfig": "._client",
    "create_client": "._client",
    "list_models": "._client",
}
__getattr__ = lazy_exports(__name__, _WHERE)
