"""What the console says while a model gets ready: the status a model client reports (preparing its files,
loading an engine, ready after N s) and the runtime's `waiting for the first token` for each call, until
the agent's streamed line begins.

The stand-in below reports what the in-process vLLM client reports while its engine loads (the real
engine's statuses are checked once in test_default_run.py); the run, the console and the clients' wrapper
are the real ones.
"""

from __future__ import annotations

import asyncio
import io
from typing import Any

from rich.console import Console

from autogen_troupe import RunOptions, load_scenario, run_scenario
from autogen_troupe.cli.run_view import ConsoleView
from autogen_troupe.models._status import ModelStatus, report_status
from autogen_troupe.runtime._transcript import Chunk, Text
from autogen_troupe.testing import ScriptedClient

SCENARIO = """
name: greet
task: Say hello.
team:
  kind: round_robin
  agents: [{name: greeter}, {name: closer}]
  termination: {max_messages: 3}
"""


class LoadingEngine(ScriptedClient):
    """Scripted answers behind an engine that takes a while to load, reported as vLLM's client does."""

    __test__ = False

    async def prepare(self) -> None:
        report_status(ModelStatus("preparing", "Preparing the embedded default model (once, ~30 s)"))
        await asyncio.sleep(0.05)
        report_status(ModelStatus("loading", "loading the engine (stand-in, CPU)", model="stand-in"))
        await asyncio.to_thread(lambda: report_status(ModelStatus("loading", "from the engine's thread")))
        await asyncio.sleep(0.05)
        report_status(
            ModelStatus("ready", "engine ready in 0 s (stand-in, CPU)", model="stand-in", seconds=0.1)
        )


async def _run(tmp_path: Any, on_event: Any, on_status: Any) -> None:
    path = tmp_path / "greet.yaml"
    path.write_text(SCENARIO)
    clients = LoadingEngine({"greeter": ["Hello there, traveller."], "closer": ["Goodbye."]})
    await run_scenario(
        load_scenario(path), clients=clients, options=RunOptions(on_status=on_status), on_event=on_event
    )


async def test_the_run_reports_loading_then_waiting_then_the_first_token(tmp_path: Any) -> None:
    seen: list[Any] = []
    await _run(tmp_path, seen.append, seen.append)
    said = [
        (s.phase, s.agent) if isinstance(s, ModelStatus) else (type(s).__name__, s.source)
        for s in seen
        if not isinstance(s, Chunk)
        or s is next(c for c in seen if isinstance(c, Chunk) and c.source == s.source)
    ]
    said.remove(("Text", "user"))  # the task: AutoGen passes it on once the first call is out
    assert said == [
        ("preparing", None),
        ("loading", None),
        ("loading", None),  # reported from a worker thread, heard on the run's loop in order
        ("ready", None),
        ("waiting", "greeter"),
        ("Chunk", "greeter"),  # the first token ends the wait
        ("Text", "greeter"),
        ("waiting", "closer"),
        ("Chunk", "closer"),
        ("Text", "closer"),
    ]
    assert [s.message for s in seen if isinstance(s, ModelStatus) and s.phase == "waiting"] == [
        "greeter: waiting for the first token",
        "closer: waiting for the first token",
    ]


async def test_a_console_that_is_not_a_terminal_says_each_step_once(tmp_path: Any) -> None:
    buffer = io.StringIO()
    view = ConsoleView(Console(file=buffer, width=200, force_terminal=False))
    await _run(tmp_path, view, view.status)
    view.close()
    lines = [line.strip() for line in buffer.getvalue().splitlines() if line.strip()]
    assert lines[:4] == [
        "Preparing the embedded default model (once, ~30 s)…",
        "loading the engine (stand-in, CPU)…",
        "from the engine's thread…",
        "engine ready in 0 s (stand-in, CPU)",
    ]
    assert "waiting" not in buffer.getvalue()  # no line per model call in a log or a pipe
    assert lines.index("Hello there, traveller.") > lines.index("engine ready in 0 s (stand-in, CPU)")


async def test_a_terminal_shows_a_counting_line_that_goes_when_the_answer_streams(tmp_path: Any) -> None:
    buffer = io.StringIO()
    console = Console(file=buffer, width=120, force_terminal=True, color_system=None)
    view = ConsoleView(console)
    view.status(ModelStatus("loading", "loading the engine (stand-in, CPU)"))
    shown = buffer.getvalue()
    assert "loading the engine (stand-in, CPU)… 0 s" in shown
    view.status(ModelStatus("ready", "engine ready in 41 s (stand-in, CPU)", seconds=41))
    view.status(ModelStatus("waiting", "greeter: waiting for the first token", agent="greeter"))
    view(Text(source="user", content="Say hello.", elapsed_s=0.0))  # printed above the waiting line
    assert "greeter: waiting for the first token… 0 s" in buffer.getvalue()
    assert view._status is not None  # still waiting for the greeter
    view(Chunk(source="greeter", content="Hello", elapsed_s=0.5))
    view.status(ModelStatus("waiting", "never shown: the line is half written", agent="x"))
    view(Text(source="greeter", content="Hello", elapsed_s=0.6))
    view.close()
    out = buffer.getvalue()
    assert "never shown" not in out
    assert "engine ready in 41 s (stand-in, CPU)" in out  # what finished stays
    assert out.index("greeter: waiting") < out.index("greeter (streaming)")
    # every live line was taken down: the cursor it hid is shown again, nothing left half drawn
    assert out.count("\x1b[?25l") == out.count("\x1b[?25h") == 2
