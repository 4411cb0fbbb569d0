"""Is a 200 answer from a chat-completions endpoint really an answer?

A proxy's HTML page, an empty or cut body, JSON without choices, a stream that stops before its finish
reason, a chunk that is not JSON, or a reply with neither text nor a tool call would otherwise reach
AutoGen, which either raises deep inside (IndexError, JSONDecodeError) or hands the team an empty message
and carries on. Each becomes a `Fault`: what was wrong, in words that follow "answered HTTP 200 with", and
whether asking again may help.

Asking again helps with what a network or an overloaded server does now and then: an empty or cut body,
a stream that breaks off, an empty reply that sampling may not repeat. It does not help with what a
wrong `base_url` or a server's dialect does every time: an HTML page, JSON that is no chat completion,
an empty reply cut by `max_tokens` or a content filter.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

__all__ = ["FAULT_CODE", "Fault", "StreamCheck", "completion_fault", "empty_answer", "parse_body", "sample"]

FAULT_CODE = "troupe_invalid_answer"  # the `code` of the error body a fault is handed on as
_SAMPLE = 80


@dataclass(frozen=True)
class Fault:
    """What was wrong with an answer (a phrase after "answered HTTP 200 with") and whether to retry."""

    problem: str
    retryable: bool

    def error_body(self, status: int = 200) -> dict[str, Any]:
        """The error object the fault travels as, through the openai SDK, to `translate_error`."""
        return {"message": self.problem, "type": "invalid_response", "code": FAULT_CODE, "status": status}


def sample(data: bytes | str) -> str:
    """A short, one-line, quoted sample of what a server sent, for error messages."""
    text = data.decode("utf-8", "replace") if isinstance(data, bytes) else data
    text = " ".join(text.split())
    return repr(text if len(text) <= _SAMPLE else text[:_SAMPLE] + "...")


def _html(body: bytes, content_type: str) -> Fault | None:
    if "html" not in content_type and body.lstrip()[:1] != b"<":
        return None
    return Fault(
        f"an HTML page instead of JSON ({sample(body)}); base_url should be the address of the "
        "OpenAI-compatible API, under which /chat/completions lives (usually ending in /v1)",
        retryable=False,
    )


def parse_body(body: bytes, content_type: str) -> tuple[Any, Fault | None]:
    """The JSON of a non-streamed answer, or the fault that makes it unreadable."""
    if not body.strip():
        return None, Fault("an empty body", retryable=True)
    if fault := _html(body, content_type):
        return None, fault
    try:
        return json.loads(body), None
    except ValueError:
        return None, Fault(f"a body that is not valid JSON ({sample(body)})", retryable=True)


_FUNCTION_CALL = Fault(
    "a deprecated `function_call` in place of `tool_calls`, which AutoGen cannot read; let the server "
    "answer with tool calls (vLLM: --enable-auto-tool-choice --tool-call-parser NAME)",
    retryable=False,
)


def empty_answer(finish_reason: Any, refusal: Any = None) -> Fault:
    """An answer with neither text nor a tool call, explained by its refusal or its finish reason."""
    if isinstance(refusal, str) and refusal.strip():
        return Fault(f"a refusal in place of an answer: {refusal.strip()}", retryable=False)
    if finish_reason == "length":
        return Fault(
            "an empty answer: the model reached its token limit before writing any text or tool call "
            "(finish_reason 'length'); raise max_tokens in the profile",
            retryable=False,
        )
    if finish_reason == "content_filter":
        return Fault(
            "an empty answer stopped by the endpoint's content filter (finish_reason 'content_filter')",
            retryable=False,
        )
    return Fault(
        f"an empty answer: no text and no tool call (finish_reason {finish_reason!r})", retryable=True
    )


def _says_something(message: dict[str, Any]) -> bool:
    content = message.get("content")
    return (isinstance(content, str) and bool(content.strip())) or bool(message.get("tool_calls"))


def completion_fault(obj: Any) -> Fault | None:
    """Why a parsed non-streamed answer is no usable chat completion, or None when it is one."""
    if not isinstance(obj, dict):
        return Fault(f"JSON that is not a chat completion ({sample(json.dumps(obj))})", retryable=False)
    choices = obj.get("choices")
    if not choices and obj.get("error"):
        error = obj["error"]
        message = error.get("message") if isinstance(error, dict) else error
        return Fault(f"an error in place of an answer: {message}", retryable=False)
    if not isinstance(choices, list):
        return Fault(f"JSON without a list of choices ({sample(json.dumps(obj))})", retryable=False)
    if not choices:
        return Fault('no choices ("choices": [])', retryable=False)
    first = choices[0]
    message = first.get("message") if isinstance(first, dict) else None
    if not isinstance(message, dict):
        return Fault(f"a choice without a message ({sample(json.dumps(first))})", retryable=False)
    if message.get("function_call") is not None and not message.get("tool_calls"):
        return _FUNCTION_CALL
    if not _says_something(message):
        return empty_answer(first.get("finish_reason"), message.get("refusal"))
    return None


class StreamCheck:
    """What a chat-completions event stream has said so far, chunk by chunk.

    `passed_on` turns true at the first chunk a reader would show (text, reasoning or a tool call):
    until then the stream can be held back and asked for again; after it, a fault ends the stream.
    """

    def __init__(self) -> None:
        self.chunks = 0
        self.finish_reason: Any = None
        self.finished = False
        self.answered = False
        self.passed_on = False
        self.ended = False
        self.function_call = False
        self.refusal: list[str] = []

    def chunk(self, obj: Any) -> Fault | None:
        """Take one parsed `data:` payload; a fault when it cannot be a chat-completion chunk."""
        if not isinstance(obj, dict):
            return Fault(f"a chunk that is not a JSON object ({sample(json.dumps(obj))})", retryable=False)
        choices = obj.get("choices")
        if choices is None and obj.get("error"):
            self.passed_on = self.ended = True  # the openai SDK raises it with the server's own message
            return None
        if choices is None:
            return None  # a usage-only chunk
        if not isinstance(choices, list):
            return Fault(f"a chunk whose choices are not a list ({sample(json.dumps(obj))})", retryable=False)
        self.chunks += 1
        for choice in choices:
            if not isinstance(choice, dict):
                continue
            delta = choice.get("delta")
            if isinstance(delta, dict):
                if _says_something(delta):
                    self.answered = self.passed_on = True
                reasoning = delta.get("reasoning_content") or delta.get("reasoning")
                if isinstance(reasoning, str) and reasoning:
                    self.passed_on = True  # shown as it comes, though it is no answer
                if isinstance(delta.get("refusal"), str):
                    self.refusal.append(delta["refusal"])
                self.function_call |= delta.get("function_call") is not None
            if choice.get("finish_reason"):
                self.finished = True
                self.finish_reason = choice["finish_reason"]
                self.function_call |= self.finish_reason == "function_call"
        return None

    def end(self, why: str | None = None) -> Fault | None:
        """The stream ended (`[DONE]`, end of body, or a read error `why`): a fault if it said too little."""
        self.ended = True
        if not self.finished:
            if self.chunks == 0 and why is None:
                return Fault("an event stream without a single chunk", retryable=True)
            how = "broke off" if why else "ended"
            cause = f" ({why})" if why else ""
            count = f"{self.chunks} chunk{'' if self.chunks == 1 else 's'}"
            return Fault(
                f"a stream that {how} before its finish reason, after {count}{cause}", retryable=True
            )
        if self.function_call:
            return _FUNCTION_CALL
        if not self.answered:
            return empty_answer(self.finish_reason, "".join(self.refusal))
        return None
