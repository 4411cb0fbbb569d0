"""Model families: which vLLM tool-call parser, reasoning parser and chat template a model needs.

A model is known by its name (a folder's last part or a hub id such as "Qwen/Qwen3-8B") or, when the name
says nothing (`/data/checkpoint-1200`), by its folder's `config.json` (`model_type`, `architectures`,
`vocab_size`). The name is tried first: it tells a reasoning distil ("DeepSeek-R1-Distill-Llama-8B") from
the architecture it shares. Settings are vLLM's documented ones per family:
- tool parsers: https://docs.vllm.ai/en/latest/features/tool_calling/ (Hermes-style for Qwen 2.5 and
  Qwen3, `llama3_json` for Llama 3.1-3.3, `llama4_pythonic` for Llama 4, `mistral`, `granite`);
- reasoning parsers: https://docs.vllm.ai/en/latest/features/reasoning_outputs/ (`qwen3` for Qwen3,
  `deepseek_r1` for DeepSeek R1 and QwQ-32B);
- gpt-oss: https://docs.vllm.ai/projects/recipes/en/latest/OpenAI/GPT-OSS.html (`--tool-call-parser
  openai --reasoning-parser openai_gptoss`); Qwen3-Coder: its model card and vLLM's `qwen3_coder` parser.
Chat templates: each of these families' own template (in the model folder) renders tools, so none is set;
vLLM's docs suggest `examples/tool_chat_template_llama3.1_json.jinja` for Llama 3.1, which is not in
vLLM's wheel: a profile's `chat_template:` takes that file's path.

Imports no vLLM code: reading a config.json costs well under a millisecond.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

__all__ = ["FAMILIES", "Family", "FamilyMatch", "family_of", "model_config"]

_CONFIG_MAX_BYTES = 1_000_000  # a config.json is a few KiB; a huge one is not a model's


@dataclass(frozen=True)
class Family:
    """One family: how its name looks, which config.json says it is one, and its in-process settings."""

    name: str
    names: re.Pattern[str]
    model_types: tuple[str, ...] = ()
    settings: Mapping[str, Any] = field(default_factory=dict)
    config_check: Callable[[Mapping[str, Any]], bool] | None = None  # more than model_type is needed


def _vocab(size: int) -> Callable[[Mapping[str, Any]], bool]:
    return lambda config: config.get("vocab_size") == size


FAMILIES: tuple[Family, ...] = (
    Family(
        "SmolLM2",
        re.compile(r"smollm2"),
        ("llama",),
        {
            "tool_parser": "hermes",
            "chat_template": "chatml_hermes",  # its own template ignores tools
            "force_tool_choice": True,  # left free, the 135M model never calls a tool (FACTS)
            "engine_args": {"max_model_len": 4096},
        },
        _vocab(49152),
    ),
    Family("DeepSeek R1", re.compile(r"deepseek-?r1"), (), {"reasoning_parser": "deepseek_r1"}),
    Family("QwQ", re.compile(r"qwq"), (), {"tool_parser": "hermes", "reasoning_parser": "deepseek_r1"}),
    Family("Qwen3-Coder", re.compile(r"qwen3-?coder"), (), {"tool_parser": "qwen3_coder"}),
    Family(
        "Qwen3",
        re.compile(r"qwen3"),
        ("qwen3", "qwen3_moe"),
        {"tool_parser": "hermes", "reasoning_parser": "qwen3"},
    ),
    Family("Qwen 2.5", re.compile(r"qwen2|hermes"), ("qwen2", "qwen2_moe"), {"tool_parser": "hermes"}),
    Family(
        "gpt-oss",
        re.compile(r"gpt-?oss"),
        ("gpt_oss",),
        {"tool_parser": "openai", "reasoning_parser": "openai_gptoss"},
    ),
    Family("Llama 4", re.compile(r"llama-?4"), ("llama4",), {"tool_parser": "llama4_pythonic"}),
    # Llama 3.x shares model_type "llama" with Llama 2 and SmolLM2; its tokenizer's 128256 tokens tell it.
    Family("Llama 3", re.compile(r"llama-?3"), ("llama",), {"tool_parser": "llama3_json"}, _vocab(128256)),
    Family(
        "Mistral",
        re.compile(r"mistral|mixtral|ministral"),
        ("mistral", "mixtral"),
        {"tool_parser": "mistral"},
    ),
    Family("Granite", re.compile(r"granite"), ("granite", "granitemoe"), {"tool_parser": "granite"}),
)


class FamilyMatch(NamedTuple):
    family: Family
    how: str  # "name" or "config.json model_type 'qwen3'"


def model_config(model: str) -> dict[str, Any] | None:
    """The model's config.json: from its folder, or from the Hugging Face cache for a hub id."""
    path = Path(model).expanduser() / "config.json"
    if not path.is_file():
        path = _cached_hub_config(model) or path
    try:
        if not path.is_file() or path.stat().st_size > _CONFIG_MAX_BYTES:
            return None
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None  # vLLM will say what is wrong with the folder when it loads it
    return data if isinstance(data, dict) else None


def _cached_hub_config(model: str) -> Path | None:
    if model.count("/") != 1 or model.startswith((".", "/", "~")):
        return None
    try:
        from huggingface_hub import try_to_load_from_cache
    except ImportError:
        return None
    try:
        found = try_to_load_from_cache(model, "config.json")
    except Exception:  # an id the hub library refuses
        return None
    return Path(found) if isinstance(found, str) else None


def family_of(model: str, config: Mapping[str, Any] | None = None) -> FamilyMatch | None:
    """The family of a model name or folder: by its name first, else by its config.json."""
    name = Path(model).name.lower() or model.lower()
    for family in FAMILIES:
        if family.names.search(name):
            return FamilyMatch(family, "name")
    config = model_config(model) if config is None else config
    if not config:
        return None
    model_type = str(config.get("model_type") or "").lower()
    architectures = [str(a).lower() for a in config.get("architectures") or () if isinstance(a, str)]
    for family in FAMILIES:
        by_type = model_type in family.model_types
        by_arch = any(a.startswith(t.replace("_", "")) for a in architectures for t in family.model_types)
        if (by_type or by_arch) and (family.config_check is None or family.config_check(config)):
            what = f"model_type {model_type!r}" if by_type else f"architectures {architectures}"
            return FamilyMatch(family, f"config.json {what}")
    return None
