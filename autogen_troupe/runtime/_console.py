"""The live console view of a run: each message as it arrives, with agent, kind, tokens and elapsed time."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.panel import Panel
from rich.text import Text as RichText

from ..models._redact import redact_text
from ._transcript import (
    Chunk,
    Entry,
    Event,
    Handoff,
    McpEvent,
    Route,
    RunResult,
    Text,
    Thought,
    ToolCall,
    ToolResult,
)

__all__ = ["ConsoleView"]

_PREVIEW_CHARS = 2000
_HOLD_CHARS = 512  # a streamed line longer than this is shown up to its last space before it ends


class ConsoleView:
    """Renders transcript entries to a rich Console, every text redacted.

    Streamed chunks are shown a line at a time, so a secret split across chunks is still masked.
    """

    def __init__(self, console: Console, *, quiet: bool = False, show_chunks: bool = True) -> None:
        self.console = console
        self.quiet = quiet
        self.show_chunks = show_chunks
        self._streaming_from: str | None = None
        self._held: set[str] = set()  # agents streaming beside the one shown: shown whole when done
        self._pending = ""
        self._progress: Any = None  # a rich Progress while a tool reports progress on a terminal
        self._bars: dict[tuple[str, str | None], Any] = {}

    def __call__(self, item: Entry | Chunk) -> None:
        if self.quiet:
            return
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
                return
            self._header(item.source, item.type, item.elapsed_s, item)
            self.console.print(RichText(_clip(item.content)))
        elif isinstance(item, Thought):
            self._header(item.source, "thought", item.elapsed_s, item)
            self.console.print(RichText(_clip(item.content), style="italic dim"))
        elif isinstance(item, ToolCall):
            self._header(item.source, "tool call", item.elapsed_s, item)
            for c in item.calls:
                self.console.print(
                    RichText.assemble(("→ ", "cyan"), (c.name, "bold cyan"), f"({redact_text(c.arguments)})")
                )
        elif isinstance(item, ToolResult):
            self._header(item.source, "tool result", item.elapsed_s, item)
            for r in item.results:
                style = "red" if r.is_error else "green"
                self.console.print(
                    RichText.assemble(("← ", style), (r.name, f"bold {style}"), ": ", _clip(r.content))
                )
        elif isinstance(item, Handoff):
            self._header(item.source, f"handoff → {item.target}", item.elapsed_s, item)
            self.console.print(RichText(_clip(item.content)))
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
                TextColumn("{task.description}"),
                BarColumn(),
                TaskProgressColumn(),
                TextColumn("{task.fields[message]}", style="dim"),
                console=self.console,
                transient=True,
            )
            self._progress.start()
        key = (item.server, item.tool)
        total = float(item.data["total"])
        done = float(item.data.get("progress") or 0)
        message = redact_text(str(item.data.get("message") or ""))
        if key not in self._bars:
            label = f"{item.server}: {item.tool or 'working'}"
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
        self.console.rule(
            f"[bold]{escape(source)}[/bold] [dim]({escape(kind)}) · {elapsed_s:.1f}s{tokens}[/dim]",
            align="left",
        )

    def _footer(self, entry: Text) -> None:
        tokens = f"{entry.usage.prompt_tokens}+{entry.usage.completion_tokens} tok · " if entry.usage else ""
        self.console.print(RichText(f"{tokens}{entry.elapsed_s:.1f}s", style="dim"))

    def _flush_stream(self, *, final: bool) -> None:
        text = self._pending
        if not final:
            cut = text.rfind("\n") + 1
            if not cut and len(text) > _HOLD_CHARS:
                cut = text.rfind(" ") + 1 or len(text)
            text, self._pending = text[:cut], text[cut:]
        else:
            self._pending = ""
        if text:
            self.console.out(redact_text(text), end="", highlight=False)

    def _end_stream(self) -> None:
        if self._streaming_from is not None:
            self._flush_stream(final=True)
            self.console.out("")
            self._streaming_from = None

    def summary(self, result: RunResult) -> None:
        """The closing panel: why the run stopped, messages, tokens, time and where the transcript is."""
        self._end_progress()
        self._end_stream()
        why = {
            "rule": "[green]stopped on its termination rule[/green]",
            "limit": "[yellow]stopped by the run's cap (limits)[/yellow]",
            "error": "[red]failed[/red]",
            "interrupted": "[red]interrupted[/red]",
        }[result.stopped_by]
        lines = [
            f"{escape(result.scenario)}: {why}",
            f"stop reason: {escape(redact_text(result.stop_reason))}",
            f"messages: {len(result.messages)} · tokens: {result.usage.prompt_tokens} prompt + "
            f"{result.usage.completion_tokens} completion · {result.duration_s:.1f} s",
        ]
        if result.transcript_path:
            lines.append(f"transcript: {escape(str(result.transcript_path))}")
        if result.log_path:
            lines.append(f"engine log: {escape(str(result.log_path))}")
        self.console.print(Panel("\n".join(lines), expand=False))


def _clip(text: str) -> str:
    text = redact_text(text)
    return text if len(text) <= _PREVIEW_CHARS else text[:_PREVIEW_CHARS] + f" … ({len(text)} chars)"
