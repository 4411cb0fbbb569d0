"""How a model is reached and what it can do: providers, endpoint presets and the user's profile file,
model facts, redaction of secrets, the network guard. `openai/` and `vllm/` hold the two providers.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._lazy import lazy_exports

if TYPE_CHECKING:
    from .._redact import redact_text, remember_secrets, safe_url
    from ._endpoints import PRESETS, Overrides, available_profiles, resolve_model, user_profiles_path
    from ._facts import completion_budget_of, context_length_of, infer_model_info, request_settings
    from ._network import network_allowed
    from ._profile_file import pin_settings
    from ._registry import PROVIDERS, ClientPool, create_model_client, get_provider, list_models
    from ._resolved import OpenAIModel, ReplayModel, RequestSettings, ResolvedModel, VllmModel, redacted
    from ._status import ModelStatus
    from .openai._probe import ProbeReport, probe_endpoint

__all__ = [
    "PRESETS",
    "PROVIDERS",
    "ClientPool",
    "ModelStatus",
    "OpenAIModel",
    "Overrides",
    "ProbeReport",
    "ReplayModel",
    "RequestSettings",
    "ResolvedModel",
    "VllmModel",
    "available_profiles",
    "completion_budget_of",
    "context_length_of",
    "create_model_client",
    "get_provider",
    "infer_model_info",
    "list_models",
    "network_allowed",
    "pin_settings",
    "probe_endpoint",
    "redact_text",
    "redacted",
    "remember_secrets",
    "request_settings",
    "resolve_model",
    "safe_url",
    "user_profiles_path",
]

_WHERE = {
    "ClientPool": "._registry",
    "Overrides": "._endpoints",
    "PRESETS": "._endpoints",
    "PROVIDERS": "._registry",
    "available_profiles": "._endpoints",
    "completion_budget_of": "._facts",
    "context_length_of": "._facts",
    "create_model_client": "._registry",
    "get_provider": "._registry",
    "infer_model_info": "._facts",
    "list_models": "._registry",
    "network_allowed": "._network",
    "pin_settings": "._profile_file",
    "probe_endpoint": ".openai._probe",
    "ProbeReport": ".openai._probe",
    "redact_text": ".._redact",
    "redacted": "._resolved",
    "OpenAIModel": "._resolved",
    "ReplayModel": "._resolved",
    "RequestSettings": "._resolved",
    "ResolvedModel": "._resolved",
    "VllmModel": "._resolved",
    "remember_secrets": ".._redact",
    "request_settings": "._facts",
    "resolve_model": "._endpoints",
    "safe_url": ".._redact",
    "user_profiles_path": "._endpoints",
    "ModelStatus": "._status",
}
__getattr__ = lazy_exports(__name__, _WHERE)
