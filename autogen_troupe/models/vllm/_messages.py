"""What the in-process vLLM client needs besides vLLM: AutoGen messages in OpenAI form, chat templates,
and where a model's folder is. Imports no vLLM code."""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
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

from ...errors import InvalidModelRequest, ProfileError
from ...scenario._files import TEMPLATE_MAX_BYTES, FileProblem, read_text
from .._status import ModelStatus, Phase, report_status
from ._default_model import (
    DEFAULT_MODEL_ALIAS,
    DEFAULT_MODEL_NAME,
    builtin_chat_template,
    ensure_default_model,
)

__all__ = ["load_template", "model_folder", "to_openai_messages"]


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
                            raise InvalidModelRequest("this model takes no images (model_info: vision false)")
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
            raise InvalidModelRequest(f"unknown message type {type(m).__name__}")
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
    """A folder vLLM can load: the converted default model for its alias, else `model` as given.

    Preparing the default model (once) is reported as a status (`models._status`), or said on stderr
    when nobody listens."""
    if model.lower() == DEFAULT_MODEL_ALIAS:

        def say(phase: Phase) -> Callable[[str], None]:
            def told(text: str) -> None:
                status = ModelStatus(phase, text.rstrip(". "), model=DEFAULT_MODEL_NAME)
                if not report_status(status):
                    print(text, file=sys.stderr, flush=True)

            return told

        return str(ensure_default_model(console_print=say("preparing"), on_ready=say("ready")))
    path = Path(model).expanduser()
    if path.exists():
        return str(path.resolve())
    if model.startswith((".", "/", "~")):
        raise ProfileError(f"model folder {model!r} does not exist")
    return model  # a hub id, found only if already in the local Hugging Face cache (HF_HUB_OFFLINE)
