"""The live console view of a run: each message as it arrives, with agent, kind, tokens and elapsed time.

Everything shown comes from models, servers or the scenario: it reaches rich only through `_shown`/`_clip`
(secrets masked, control characters made visible) and as `Text`, never as a markup string."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.panel import Panel
from rich.text import Text as RichText

from .._redact import StreamRedactor, redact_text
from .._text import terminal_safe
from ..tapes import (
    Chunk,
    Entry,
    Event,
    Guard,
    Handoff,
    McpEvent,
    Route,
    RunResult,
    Text,
    Thought,
    ToolCall,
    ToolResult,
)

if TYPE_CHECKING:
    from ..models import ModelStatus

__all__ = ["ConsoleView"]

_PREVIEW_CHARS = 2000


class ConsoleView:
    """Renders transcript entries to a rich Console, every text redacted.

    Streamed chunks go through a `StreamRedactor`, so a secret split across chunks is still masked.
    """

    def __init__(self, console: Console, *, quiet: bool = False, show_chunks: bool = True) -> None:
        self.console = console
        self.quiet = quiet
        self.show_chunks = show_chunks
        self._streaming_from: str | None = None
        self._held: set[str] = set()  # agents streaming beside the one shown: shown whole when done
        self._pending = ""
        self._stream = StreamRedactor()
        self._progress: Any = None  # a rich Progress while a tool reports progress on a terminal
        self._bars: dict[tuple[str, str | None], Any] = {}
        self._status: Any = None  # a rich Live line while a model prepares, loads or thinks (terminal)
        self._status_line = _StatusLine("")
        self._said: str | None = None

    def status(self, item: ModelStatus) -> None:
        """What a model is doing before it answers (RunOptions.on_status): on a terminal one line that
        counts the seconds, gone once something else is shown; elsewhere a line per step (not per call).
        What finished (`ready`) stays as a dim line."""
        if self.quiet:
            return
        if item.phase == "ready":
            self._end_status()
            if item.message != self._said:  # several clients on one engine all hear it load
                self.console.print(RichText(terminal_safe(item.message), style="dim"))
            self._said = item.message
            return
        if not self.console.is_terminal:
            if item.phase != "waiting" and item.message != self._said:
                self.console.print(RichText(f"{terminal_safe(item.message)}…", style="dim"))
                self._said = item.message
            return
        if self._streaming_from is not None or self._progress is not None:
            return  # a line is half written, or progress bars are up: they say enough
        self._status_line = _StatusLine(item.message, item.agent)
        if self._status is None:
            from rich.live import Live

            self._status = Live(self._status_line, console=self.console, transient=True)
            self._status.start(refresh=True)
        else:
            self._status.update(self._status_line, refresh=True)

    def _end_status(self) -> None:
        if self._status is not None:
            self._status.stop()
            self._status = None

    def close(self) -> None:
        """Take down the live lines (status, progress bars), as the command ends however it ends."""
        self._end_status()
        self._end_progress()

    def __call__(self, item: Entry | Chunk) -> None:
        if self.quiet:
            return
        if self._status is not None and _ends_status(item, self._status_line):
            self._end_status()  # else it stays below what is printed (the task, a message of another)
        if isinstance(item, Chunk):
            if not self.show_chunks or item.source in self._held:
                return
            if self._streaming_from is not None and self._streaming_from != item.source:
                self._held.add(item.source)  # nodes of a graph team run side by side: one stream at a time
                return
            if self._streaming_from != item.source:
                self._end_stream()
                self._header(item.source, "streaming", item.elapsed_s, None)
                self._streaming_from = item.source
                self._stream = StreamRedactor()
            self._pending += item.content
            self._flush_stream(final=False)
            return
        if isinstance(item, McpEvent):
            self._end_stream()
            self._mcp(item)
            return
        self._end_progress()
        streamed = self._streaming_from == item.source and isinstance(item, Text)
        if isinstance(item, Text):
            self._held.discard(item.source)
        self._end_stream()
        if isinstance(item, Text):
            if streamed:
                self._footer(item)
                if item.structured is not None:  # the JSON came as it streamed; now its fields, readably
                    self.console.print(RichText(_clip(_outline(item.structured)), style="cyan"))
                return
            self._header(item.source, item.type, item.elapsed_s, item)
            shown = item.content if item.structured is None else _outline(item.structured)
            self.console.print(RichText(_clip(shown)))
        elif isinstance(item, Thought):
            self._header(item.source, "thought", item.elapsed_s, item)
            self.console.print(RichText(_clip(item.content), style="italic dim"))
        elif isinstance(item, ToolCall):
            self._header(item.source, "tool call", item.elapsed_s, item)
            for c in item.calls:
                self.console.print(
                    RichText.assemble(
                        ("→ ", "cyan"), (_shown(c.name), "bold cyan"), f"({_shown(c.arguments)})"
                    )
                )
        elif isinstance(item, ToolResult):
            self._header(item.source, "tool result", item.elapsed_s, item)
            for r in item.results:
                style = "red" if r.is_error else "green"
                self.console.print(
                    RichText.assemble(
                        ("← ", style), (_shown(r.name), f"bold {style}"), ": ", _clip(r.content)
                    )
                )
        elif isinstance(item, Handoff):
            self._header(item.source, f"handoff → {item.target}", item.elapsed_s, item)
            self.console.print(RichText(_clip(item.content)))
        elif isinstance(item, Guard):
            self.console.print(RichText(_clip(f"guard {item.guard}: {item.content}"), style="bold yellow"))
        elif isinstance(item, Route):
            why = "; ".join(f"from {h.from_node}, edge {h.edge}: {h.why}" for h in item.via) or "entry"
            self.console.print(RichText(_clip(f"→ {item.node} ({why})"), style="dim"))
        elif isinstance(item, Event):
            if item.type == "UserInputRequestedEvent":
                return  # the question itself is asked by whoever answers it (ConsoleAsk)
            self._header(item.source, item.type, item.elapsed_s, item)
            if item.content:
                self.console.print(RichText(_clip(item.content), style="dim"))

    def _mcp(self, item: McpEvent) -> None:
        """An MCP server's note: a progress bar on a terminal (a line elsewhere), else one dim line."""
        if item.what == "progress" and self.console.is_terminal and item.data.get("total"):
            self._bar(item)
            return
        if item.what in ("sampling", "elicitation"):
            self._end_progress()
            self._header(item.source, f"MCP {item.server} · {item.what}", item.elapsed_s, item)
            self.console.print(RichText(_clip(item.content), style="magenta"))
            return
        style = {"log": "dim", "progress": "dim cyan", "roots": "dim"}.get(item.what, "dim")
        line = f"[{item.server} {item.what}] {item.content}"
        if self._progress is not None:
            self._progress.console.print(RichText(_clip(line), style=style))
        else:
            self.console.print(RichText(_clip(line), style=style))

    def _bar(self, item: McpEvent) -> None:
        from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn

        if self._progress is None:
            self._progress = Progress(
                TextColumn("{task.description}", markup=False),  # a server's words: never markup
                BarColumn(),
                TaskProgressColumn(),
                TextColumn("{task.fields[message]}", style="dim", markup=False),
                console=self.console,
                transient=True,
            )
            self._progress.start()
        key = (item.server, item.tool)
        total = float(item.data["total"])
        done = float(item.data.get("progress") or 0)
        message = _shown(str(item.data.get("message") or ""))
        if key not in self._bars:
            label = _shown(f"{item.server}: {item.tool or 'working'}")
            self._bars[key] = self._progress.add_task(label, total=total, message=message)
        self._progress.update(self._bars[key], completed=done, total=total, message=message)

    def _end_progress(self) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None
            self._bars = {}

    def _header(self, source: str, kind: str, elapsed_s: float, entry: Entry | None) -> None:
        tokens = ""
        if entry is not None and entry.usage is not None:
            tokens = f" · {entry.usage.prompt_tokens}+{entry.usage.completion_tokens} tok"
        title = RichText.assemble(
            (_shown(source), "bold"), " ", (f"({_shown(kind)}) · {elapsed_s:.1f}s{tokens}", "dim")
        )
        self.console.rule(title, align="left")

    def _footer(self, entry: Text) -> None:
        tokens = f"{entry.usage.prompt_tokens}+{entry.usage.completion_tokens} tok · " if entry.usage else ""
        self.console.print(RichText(f"{tokens}{entry.elapsed_s:.1f}s", style="dim"))

    def _flush_stream(self, *, final: bool) -> None:
        text = self._stream.feed(self._pending) + (self._stream.end() if final else "")
        self._pending = ""
        if text:
            self.console.out(terminal_safe(text), end="", highlight=False)  # masked by the StreamRedactor

    def _end_stream(self) -> None:
        if self._streaming_from is not None:
            self._flush_stream(final=True)
            self.console.out("")
            self._streaming_from = None

    def summary(self, result: RunResult) -> None:
        """The closing panel: why the run stopped, messages, tokens, time and where the transcript is."""
        self._end_status()
        self._end_progress()
        self._end_stream()
        why = {
            "rule": ("stopped on its termination rule", "green"),
            "limit": ("stopped by the run's cap (limits)", "yellow"),
            "error": ("failed", "red"),
            "interrupted": ("interrupted", "red"),
        }[result.stopped_by]
        text = RichText.assemble(
            _shown(result.scenario),
            ": ",
            why,
            f"\nstop reason: {_shown(result.stop_reason)}",
            f"\nmessages: {len(result.messages)} · tokens: {result.usage.prompt_tokens} prompt + "
            f"{result.usage.completion_tokens} completion · {result.duration_s:.1f} s",
        )
        if result.engine_s is not None:
            text.append(f"\nengine time: {result.engine_s:.2f} s")
        if result.transcript_path:
            text.append(f"\ntranscript: {_shown(str(result.transcript_path))}")
        if result.log_path:
            text.append(f"\nengine log: {_shown(str(result.log_path))}")
        self.console.print(Panel(text, expand=False))


def _shown(text: str) -> str:
    """Outside text as it may reach the terminal: secrets masked, control characters shown as escapes."""
    return terminal_safe(redact_text(text))


def _outline(data: Any) -> str:
    """A structured answer as a reader takes it in: its fields as an indented outline (YAML)."""
    import yaml

    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=1_000_000).rstrip()


def _clip(text: str) -> str:
    text = _shown(text)
    return text if len(text) <= _PREVIEW_CHARS else text[:_PREVIEW_CHARS] + f" … ({len(text)} chars)"


def _ends_status(item: Entry | Chunk, line: _StatusLine) -> bool:
    """Whether the status line goes before `item` is shown: its agent's answer (the first token), a
    streamed line or progress bars (which draw on the same lines), or a question for the person."""
    if isinstance(item, (Chunk, McpEvent)) or item.source == line.agent:
        return True
    return isinstance(item, Event) and item.type == "UserInputRequestedEvent"


class _StatusLine:
    """A status with the seconds since it began, drawn afresh at each refresh of the live line."""

    def __init__(self, message: str, agent: str | None = None) -> None:
        self.message = message
        self.agent = agent
        self.since = time.monotonic()

    def __rich__(self) -> RichText:
        return RichText(f"{terminal_safe(self.message)}… {time.monotonic() - self.since:.0f} s", style="dim")
