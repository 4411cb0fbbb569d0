"""Model facts: what a model can do and how it is best asked, by model name, in one table.

What depends on how a model is reached (the in-process engine's `ModelInfo` and context length, an
endpoint's credentials) belongs to its provider (`_provider.Provider`); this module knows model names.

Imports no AutoGen, openai or vLLM code. The in-process provider takes its engine settings from here, and
the runner sizes every agent's model context from `context_length_of` and `completion_budget_of`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, NamedTuple

from ..scenario._schema import HeadAndTailContext, ModelContext, ModelInfoSpec
from ._families import family_of
from ._resolved import ResolvedModel

__all__ = [
    "MODEL_FAMILIES",
    "SETTING_KEYS",
    "ModelLimits",
    "completion_budget_of",
    "context_length_of",
    "infer_model_info",
    "limits_of",
    "model_info_keys",
    "preset_for",
    "request_settings",
]

# The model context an agent gets when its scenario chooses none, by model name (first match wins; else
# token_limited). A 135M model strays and copies the message before it when it sees the whole conversation:
# over four travel tasks on SmolLM2-135M, the task and the newest message kept every message on the trip
# (distinct-4 >= 0.93, no message copying the one before) where the whole conversation fell to 0.51
# (benchmarks/default_quality.py).
_DEFAULT_CONTEXTS: tuple[tuple[re.Pattern[str], ModelContext], ...] = (
    (re.compile(r"smollm2"), HeadAndTailContext(head=1, tail=1)),
)

# The request settings that decide an answer besides the messages and tools: what a strict replay compares.
SETTING_KEYS = (
    "temperature",
    "top_p",
    "max_tokens",
    "seed",
    "stop",
    "frequency_penalty",
    "presence_penalty",
    "extra_body",
)
# Room left for the answer when a model states no max_tokens.
_DEFAULT_COMPLETION_BUDGET = 512


def preset_for(model: str) -> dict[str, Any]:
    """The in-process settings for a model name, hub id or folder: its family's (see `_families`)."""
    found = family_of(model)
    if found is None:
        return {}
    return {k: dict(v) if isinstance(v, Mapping) else v for k, v in found.family.settings.items()}


def context_length_of(spec: ResolvedModel) -> int | None:
    """Tokens the model takes (prompt plus answer), when known, as its provider says: stated, or (the
    in-process engine) its `max_model_len`."""
    from ._registry import get_provider

    return get_provider(spec.provider).context_length(spec)


class ModelLimits(NamedTuple):
    """What sizes an agent's model context: the model's context length (None: unknown), the tokens kept
    for its answer, and the context its model works best with when the scenario chooses none."""

    context_length: int | None
    completion: int
    default_context: ModelContext | None = None


def limits_of(spec: ResolvedModel) -> ModelLimits:
    name = Path(spec.model or "").name.lower()
    default = next((ctx for pattern, ctx in _DEFAULT_CONTEXTS if pattern.search(name)), None)
    return ModelLimits(context_length_of(spec), completion_budget_of(spec), default)


def completion_budget_of(spec: ResolvedModel) -> int:
    """Tokens kept free for the model's answer."""
    return spec.settings.max_tokens or _DEFAULT_COMPLETION_BUDGET


def request_settings(spec: ResolvedModel | None) -> dict[str, Any]:
    """The model's request settings that are set, JSON-ready: what record and replay compare."""
    return {} if spec is None else spec.settings.as_dict()


# --------------------------------------------------------------------------- model info


# AutoGen 0.7.5's ModelFamily values (autogen_core.models.ModelFamily); a test checks they match.
MODEL_FAMILIES = {
    "LLAMA_3_3_8B": "llama-3.3-8b",
    "LLAMA_3_3_70B": "llama-3.3-70b",
    "LLAMA_4_SCOUT": "llama-4-scout",
    "LLAMA_4_MAVERICK": "llama-4-maverick",
    "CODESRAL": "codestral",
    "OPEN_CODESRAL_MAMBA": "open-codestral-mamba",
    "MISTRAL": "mistral",
    "MINISTRAL": "ministral",
    "PIXTRAL": "pixtral",
    "R1": "r1",
    "UNKNOWN": "unknown",
}
_F = MODEL_FAMILIES

# First match wins, so reasoning distills of llama or qwen count as R1. Patterns run on the
# lower-cased model id, which may be a path or "org/name".
_FAMILY_RULES: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(p), f)
    for p, f in (
        (r"deepseek[-_ ]?r1|qwq|(^|[-_/.:])r1($|[-_/.:])", _F["R1"]),
        (r"llama[-_ ]?3\.3.*\b8b", _F["LLAMA_3_3_8B"]),
        (r"llama[-_ ]?3\.3", _F["LLAMA_3_3_70B"]),
        (r"llama[-_ ]?4.*scout", _F["LLAMA_4_SCOUT"]),
        (r"llama[-_ ]?4.*maverick", _F["LLAMA_4_MAVERICK"]),
        (r"codestral[-_ ]?mamba", _F["OPEN_CODESRAL_MAMBA"]),
        (r"codestral", _F["CODESRAL"]),
        (r"ministral", _F["MINISTRAL"]),
        (r"pixtral", _F["PIXTRAL"]),
        (r"mistral|mixtral", _F["MISTRAL"]),
    )
)
_VISION = re.compile(r"(^|[^a-z])vl|vl($|[^a-z])|vision|llava|pixtral|gemma[-_ ]?3(?![-_ ]?1b)|llama[-_ ]?4")
_INFO_KEYS = ("vision", "function_calling", "json_output", "structured_output", "family")


def model_info_keys() -> tuple[str, ...]:
    """The `ModelInfo` fields a scenario's `model_info:` block may set."""
    return _INFO_KEYS


def infer_model_info(model_id: str | None, given: ModelInfoSpec | None = None) -> dict[str, Any]:
    """AutoGen `ModelInfo` fields for a model id; every field set in `given` wins.

    Servers such as vLLM (with --enable-auto-tool-choice), LMDeploy and the gateways offer tool calls
    and JSON output, so those default to true; the family is only named when AutoGen knows it.
    """
    mid = (model_id or "").lower()
    family = next((f for pat, f in _FAMILY_RULES if pat.search(mid)), _F["UNKNOWN"])
    info: dict[str, Any] = {
        "vision": bool(_VISION.search(mid)),
        "function_calling": True,
        "json_output": True,
        "structured_output": True,
        "family": family,
        # Local chat templates often reject system messages after the first turn; AutoGen then merges.
        "multiple_system_messages": False,
    }
    if given is not None:
        info.update({k: v for k in _INFO_KEYS if (v := getattr(given, k)) is not None})
    return info
