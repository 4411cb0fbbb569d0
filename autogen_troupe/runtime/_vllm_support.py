"""What the in-process vLLM client needs besides vLLM: AutoGen messages in OpenAI form, chat templates,
model presets and where a model's folder is. Imports no vLLM code."""

from __future__ import annotations

import re
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from autogen_core import Image
from autogen_core.models import (
    AssistantMessage,
    FunctionExecutionResultMessage,
    LLMMessage,
    SystemMessage,
    UserMessage,
)

from ..errors import ProfileError
from ._default_model import DEFAULT_MODEL_ALIAS, builtin_chat_template, ensure_default_model
from ._files import TEMPLATE_MAX_BYTES, FileProblem, read_text

__all__ = ["load_template", "model_folder", "preset_for", "to_openai_messages"]

# Settings by model name, applied by `create_client` under what the spec says (first match wins).
_PRESETS: tuple[tuple[re.Pattern[str], Mapping[str, Any]], ...] = (
    (
        re.compile(r"smollm2"),
        {
            "tool_parser": "hermes",
            "chat_template": "chatml_hermes",
            "force_tool_choice": True,
            "engine_args": {"max_model_len": 4096},
        },
    ),
    (re.compile(r"qwen3"), {"tool_parser": "hermes", "reasoning_parser": "qwen3"}),
    (re.compile(r"qwen2|qwq|hermes"), {"tool_parser": "hermes"}),
    (re.compile(r"llama-?4"), {"tool_parser": "llama4_pythonic"}),
    (re.compile(r"llama-?3"), {"tool_parser": "llama3_json"}),
    (re.compile(r"mistral|mixtral|ministral"), {"tool_parser": "mistral"}),
    (re.compile(r"granite"), {"tool_parser": "granite"}),
    (re.compile(r"deepseek-r1"), {"reasoning_parser": "deepseek_r1"}),
)


def preset_for(model: str) -> dict[str, Any]:
    """The preset settings for a model name or folder (matched on its last path part, lower case)."""
    name = Path(model).name.lower() or model.lower()
    for pattern, settings in _PRESETS:
        if pattern.search(name):
            return {k: dict(v) if isinstance(v, Mapping) else v for k, v in settings.items()}
    return {}


def to_openai_messages(messages: Sequence[LLMMessage], *, vision: bool) -> list[dict[str, Any]]:
    """AutoGen messages as OpenAI chat messages, the way autogen-ext's OpenAI client sends them:
    other agents' turns are `user` messages with a `name`; tool results are one `tool` message each."""
    out: list[dict[str, Any]] = []
    for m in messages:
        if isinstance(m, SystemMessage):
            if out and out[-1]["role"] == "system" and len(out) == 1:
                out[-1]["content"] += "\n" + m.content  # consecutive leading system messages merge
            else:
                out.append({"role": "system", "content": m.content})
        elif isinstance(m, UserMessage):
            msg: dict[str, Any] = {"role": "user", "name": m.source}
            if isinstance(m.content, str):
                msg["content"] = m.content
            else:
                parts: list[dict[str, Any]] = []
                for part in m.content:
                    if isinstance(part, str):
                        parts.append({"type": "text", "text": part})
                    elif isinstance(part, Image):
                        if not vision:
                            raise ValueError("this model does not take images (model_info vision is false)")
                        parts.append(dict(part.to_openai_format()))
                msg["content"] = parts
            out.append(msg)
        elif isinstance(m, AssistantMessage):
            if isinstance(m.content, str):
                out.append({"role": "assistant", "content": m.content})
            else:
                out.append(
                    {
                        "role": "assistant",
                        "content": m.thought,
                        "tool_calls": [
                            {
                                "id": c.id,
                                "type": "function",
                                "function": {"name": c.name, "arguments": c.arguments},
                            }
                            for c in m.content
                        ],
                    }
                )
        elif isinstance(m, FunctionExecutionResultMessage):
            out.extend({"role": "tool", "tool_call_id": r.call_id, "content": r.content} for r in m.content)
        else:
            raise ValueError(f"unknown message type {type(m).__name__}")
    return out


def load_template(value: str | None) -> str | None:
    """Template text from a built-in name, a file, or the text itself."""
    if value is None:
        return None
    builtin = builtin_chat_template(value)
    if builtin is not None:
        return builtin.read_text(encoding="utf-8")
    if "{{" in value or "{%" in value:
        return value
    path = Path(value).expanduser()
    if path.is_file():
        try:
            return read_text(path, limit=TEMPLATE_MAX_BYTES, what="chat template")
        except FileProblem as e:
            raise ProfileError(str(e)) from None
    raise ProfileError(
        f"chat_template {value!r} is neither a built-in template (chatml_hermes), an existing file, "
        "nor Jinja text"
    )


def model_folder(model: str) -> str:
    """A folder vLLM can load: the converted default model for its alias, else `model` as given."""
    if model.lower() == DEFAULT_MODEL_ALIAS:
        return str(ensure_default_model(console_print=lambda text: print(text, file=sys.stderr, flush=True)))
    path = Path(model).expanduser()
    if path.exists():
        return str(path.resolve())
    if model.startswith((".", "/", "~")):
        raise ProfileError(f"model folder {model!r} does not exist")
    return model  # a hub id, found only if already in the local Hugging Face cache (HF_HUB_OFFLINE)
