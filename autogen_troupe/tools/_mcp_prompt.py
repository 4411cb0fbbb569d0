"""MCP servers' questions on the terminal: accept, decline or cancel, then a form field by field, read a line
at a time (so answers can be typed ahead, and one reader can serve every question of a run)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from .._redact import redact_text
from .._text import safe_text, terminal_safe
from ._mcp_client import Answer, Ask, Question

__all__ = ["ReadLine", "terminal_ask"]

ReadLine = Callable[[], Awaitable["str | None"]]
"""The next line the person typed (None once input has ended)."""


def terminal_ask(console: Any = None, read_line: ReadLine | None = None) -> Ask | None:
    """An Ask that puts questions on the terminal, a form field by field; None when standard input is not
    a terminal (nobody can answer, so the default policy declines).

    `read_line` shares the terminal's reader with other questions of the run (`troupe run` gives its user
    agents' reader); without it, a daemon thread of its own reads standard input, so that after Ctrl-C the
    run ends without waiting for someone to finish typing.
    """
    import sys

    if not sys.stdin.isatty():
        return None
    if console is None:
        from rich.console import Console

        console = Console(stderr=True)
    reader = read_line or _stdin_lines()
    lock = asyncio.Lock()  # one question at a time

    async def ask(question: Question) -> Answer:
        async with lock:
            return await _ask(console, reader, question)

    return ask


def _stdin_lines() -> ReadLine:
    import queue
    import sys

    lines: queue.Queue[str] = queue.Queue()
    started: list[threading.Thread] = []

    def read() -> None:
        while True:
            try:
                line = sys.stdin.readline()
            except (OSError, ValueError):
                line = ""
            lines.put(line)
            if not line:
                return

    async def read_line() -> str | None:
        if not started:
            started.append(threading.Thread(target=read, name="troupe-mcp-input", daemon=True))
            started[0].start()
        while True:
            try:
                line = lines.get_nowait()
            except queue.Empty:
                await asyncio.sleep(0.05)
                continue
            if not line:
                lines.put(line)  # the end stays the end for the next question
                return None
            return line.rstrip("\r\n")

    return read_line


async def _ask(console: Any, read_line: ReadLine, question: Question) -> Answer:
    """One question: accept, decline or cancel, then (accepted, form mode) each field in turn."""

    def say(text: str) -> None:  # the server's words and our own, as text: never markup, never escapes
        console.print(terminal_safe(text), markup=False, highlight=False)

    console.rule(safe_text(f"MCP server {question.server} asks"), align="left")
    say(redact_text(question.message))
    if question.url is not None:
        say(f"It asks you to open: {question.url}\nOpen it yourself, then type y to accept (Enter: decline):")
        reply = await read_line()
        return Answer("accept" if (reply or "").strip().lower() in ("y", "yes") else "decline")
    say("Answer it? a = answer, d = decline, c = cancel [a]:")
    reply = await read_line()
    if reply is None:
        return Answer("cancel")
    choice = reply.strip().lower()[:1] or "a"
    if choice != "a":
        return Answer("decline" if choice == "d" else "cancel")
    schema = question.schema or {}
    required = set(schema.get("required") or ())
    content: dict[str, Any] = {}
    for name, prop in (schema.get("properties") or {}).items():
        spec = prop if isinstance(prop, Mapping) else {}
        value = await _field(say, read_line, name, spec, name in required)
        if value is _ENDED:
            return Answer("cancel")
        if value is not None:
            content[name] = value
    return Answer("accept", content)


_ENDED = object()


async def _field(say: Any, read_line: ReadLine, name: str, prop: Mapping[str, Any], required: bool) -> Any:
    """One form field, asked until it reads as its type (at most 3 times); empty takes the default."""
    kind = prop.get("type")
    default = prop.get("default")
    choices = [str(c) for c in prop.get("enum") or ()] or [
        str(o.get("const")) for o in prop.get("oneOf") or () if isinstance(o, Mapping)
    ]
    label = str(prop.get("title") or name) + (f" ({prop['description']})" if prop.get("description") else "")
    hints = [f"one of {', '.join(choices)}"] if choices else []
    hints += ["y/n"] if kind == "boolean" else []
    hints += [f"Enter: {default}"] if default is not None else ([] if required else ["Enter: leave out"])
    for _ in range(3):
        say(f"{label}" + (f" [{'; '.join(hints)}]" if hints else "") + ":")
        text = await read_line()
        if text is None:
            return _ENDED
        text = text.strip()
        if not text:
            if default is not None or not required:
                return default
            continue
        try:
            if kind == "boolean":
                return text.lower() in ("y", "yes", "true", "1")
            value: Any = int(text) if kind == "integer" else float(text) if kind == "number" else text
        except ValueError:
            say(f"{text!r} is not a number")
            continue
        if choices and str(value) not in choices:
            say(f"{text!r} is not one of {', '.join(choices)}")
            continue
        return value
    return default
