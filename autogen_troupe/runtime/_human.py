"""A person in the team: what a user agent's turn asks (`Question`), who answers it (`AskHuman`: the
terminal for `troupe run`, the page or an API client for `troupe serve`), and the rule when nobody
does: after the agent's `answer_timeout_s` (default 300 s) it answers its `default_answer` (default
`TERMINATE`, so a team that stops on TERMINATE ends when the person has gone). With nobody to ask at all
(a library run without `RunOptions.ask_human`), it answers the default at once.
"""

from __future__ import annotations

import asyncio
import queue
import sys
import threading
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import IO, Any

from .._text import terminal_safe
from ..scenario._schema import DEFAULT_ANSWER_TIMEOUT_S, Agent

__all__ = ["Answer", "AskHuman", "ConsoleAsk", "InputFunc", "Question", "input_func_for", "tool_confirm"]


@dataclass(frozen=True)
class Question:
    """A user agent's turn: whose it is, AutoGen's prompt, and what happens if nobody answers."""

    agent: str
    prompt: str
    timeout_s: float
    default_answer: str
    shown: bool = False  # the prompt says what is asked (a tool approval): a console prints it first
    approval: Mapping[str, Any] | None = None  # a tool approval's call: server, tool, arguments (redacted)


AskHuman = Callable[[Question], Awaitable["str | None"]]
"""Asks the person and returns their answer; None means no answer (the default is used)."""
Answer = Callable[[Question], Awaitable[str]]
"""A question's final answer (the person's, or the default); record and replay wrap this."""
InputFunc = Callable[[str, Any], Awaitable[str]]
"""AutoGen's UserProxyAgent `input_func(prompt, cancellation_token)`."""


async def _answer(question: Question, ask: AskHuman | None) -> str:
    if ask is None:
        return question.default_answer
    try:
        got = await asyncio.wait_for(ask(question), question.timeout_s)
    except asyncio.TimeoutError:
        return question.default_answer
    return question.default_answer if got is None else got


def input_func_for(
    agent: Agent, ask: AskHuman | None, wrap: Callable[[str, Answer], Answer] | None = None
) -> InputFunc:
    """The input function of a user agent: asks through `ask` with the agent's timeout and default,
    through `wrap` (record and replay see or give every answer)."""

    async def answer(question: Question) -> str:
        return await _answer(question, ask)

    final = wrap(agent.name, answer) if wrap is not None else answer

    async def input_func(prompt: str, cancellation_token: Any = None) -> str:
        return await final(Question(agent.name, prompt.strip(), agent.answer_timeout, agent.answer_default))

    return input_func


APPROVAL_TIMEOUT_S = DEFAULT_ANSWER_TIMEOUT_S
_YES = frozenset({"y", "yes", "allow", "approve", "approved", "ok"})


def tool_confirm(ask: AskHuman | None) -> Any:
    """Asks the person whether a tool call may run (`approve: ask`, see tools._approvals), as a user
    agent's turn is asked: the console, the serve page, the runs API. The answer is a yes when it is one of
    yes/y/allow/approve/ok; no answer within the timeout is a no. None with nobody to ask."""
    if ask is None:
        return None

    async def confirm(call: Any) -> bool | None:
        question = Question(
            call.agent or f"mcp:{call.server}",
            call.prompt,
            APPROVAL_TIMEOUT_S,
            "no",
            shown=True,
            approval=call.detail,
        )
        try:
            got = await asyncio.wait_for(ask(question), question.timeout_s)
        except asyncio.TimeoutError:
            return None
        return None if got is None else got.strip().casefold() in _YES

    return confirm


_EOF = object()


class ConsoleAsk:
    """Asks on the terminal (`troupe run`, `troupe record`): a line of input is the answer; an empty line,
    the end of input (no terminal, `< /dev/null`) or the timeout gives the default.

    One daemon thread reads standard input for the whole process, so a question that timed out leaves no
    reader behind. Lines answer questions in order (answers piped in work).
    """

    def __init__(self, console: Any, stream: IO[str] | None = None) -> None:
        self._console = console
        self._stream = stream
        self._lines: queue.Queue[Any] = queue.Queue()
        self._reader: threading.Thread | None = None
        self._ended = False

    def _read(self) -> None:
        stream = self._stream or sys.stdin
        while True:
            try:
                line = stream.readline()
            except (OSError, ValueError):
                line = ""
            self._lines.put(line if line else _EOF)
            if not line:
                return

    async def __call__(self, question: Question) -> str | None:
        if question.shown:
            self._console.print(terminal_safe(question.prompt), markup=False, highlight=False)
        self._console.print(
            terminal_safe(
                f"{question.agent}, your answer (Enter alone, or nothing within {question.timeout_s:g} s: "
                f"{question.default_answer!r}):"
            ),
            markup=False,
            highlight=False,
        )
        line = await self.read_line()
        if line is not None:
            return line or None
        self._console.print(
            terminal_safe(f"(no input: {question.agent} answers {question.default_answer!r})"), markup=False
        )
        return None

    async def read_line(self) -> str | None:
        """The next line typed, without its end; None once input has ended. Other questions on the same
        terminal (an MCP server's) read through here too, so one thread reads standard input."""
        if self._reader is None:
            self._reader = threading.Thread(target=self._read, name="troupe-console-input", daemon=True)
            self._reader.start()
        while not self._ended:
            try:
                line = self._lines.get_nowait()
            except queue.Empty:
                await asyncio.sleep(0.05)
                continue
            if line is _EOF:
                self._ended = True
                break
            return str(line).rstrip("\r\n")
        return None
