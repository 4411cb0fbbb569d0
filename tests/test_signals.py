"""Stop signals: `troupe run` and `troupe record` stopped by SIGTERM, SIGHUP or Ctrl-C while a tool call
hangs, and a cancelled `run_scenario`, leave no MCP server or descendant behind, finish the transcript and
print no traceback.

The MCP server (mcp_fixtures/stubborn.py) hangs in its tool call after starting a child and a grandchild in
a session of its own that ignores SIGTERM and SIGHUP, so neither a process-group kill nor SIGTERM ends it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import psutil
import pytest
from fake_openai import FakeOpenAI, Reply

from autogen_troupe import RunOptions, load_scenario, run_scenario
from autogen_troupe.models._endpoints import Overrides

TESTS = Path(__file__).resolve().parent
ROOT = TESTS.parent
STUBBORN = TESTS / "mcp_fixtures" / "stubborn.py"
WAIT_S = 60.0  # bounds a hang or a leak; nothing here is timed


def _alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def _wait_for(check: Any, what: str) -> None:
    deadline = time.monotonic() + WAIT_S
    while not check():
        if time.monotonic() > deadline:
            pytest.fail(f"gave up after {WAIT_S:g} s waiting for {what}")
        time.sleep(0.05)


def _family(pidfile: Path) -> list[int]:
    """The hung server, its child and its setsid grandchild, once the tool call has started them all."""
    _wait_for(pidfile.exists, "the tool call to start its processes")
    pids = [int(p) for p in pidfile.read_text().split()]
    assert len(pids) == 3 and all(_alive(p) for p in pids), pids
    assert psutil.Process(pids[2]).ppid() == pids[1]  # a descendant of the server...
    assert os.getsid(pids[2]) != os.getsid(pids[0])  # ...in a session of its own
    return pids


def _assert_all_gone(pids: list[int]) -> None:
    deadline = time.monotonic() + WAIT_S
    while any(_alive(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert [p for p in pids if _alive(p)] == []


def _records(folder: Path) -> list[dict[str, Any]]:
    (path,) = folder.glob("stuck-*.jsonl")
    return [json.loads(line) for line in path.read_text().splitlines()]


@pytest.fixture
def srv():
    """An endpoint whose first answer calls the hanging tool."""
    with FakeOpenAI() as s:
        s.script([Reply(tool_calls=[("hang", {})])])
        s.default = Reply(text="done TERMINATE")
        yield s


@pytest.fixture
def scenario(tmp_path: Path) -> tuple[Path, Path]:
    """A one-agent scenario using the stubborn server, and the file where the server writes its pids."""
    pidfile = tmp_path / "pids"
    path = tmp_path / "stuck.yaml"
    path.write_text(
        textwrap.dedent(
            f"""
            name: stuck
            task: go
            team: {{kind: single, agents: [{{name: a, mcp: [stubborn]}}]}}
            mcp_servers:
              stubborn: {{command: python, args: [{str(STUBBORN)!r}, {str(pidfile)!r}]}}
            """
        )
    )
    return path, pidfile


def _start_troupe(*args: str, sigint_ignored: bool = False) -> subprocess.Popen[str]:
    """`troupe ARGS` as a terminal starts it (a test runner in the background hands its children SIGINT
    ignored, and nohup SIGHUP), or with SIGINT ignored, as a script's background job (`troupe run &`)."""
    on_sigint = "signal.SIG_IGN" if sigint_ignored else "signal.default_int_handler"
    boot = (
        "import signal, sys\n"
        "signal.signal(signal.SIGTERM, signal.SIG_DFL)\n"
        "signal.signal(signal.SIGHUP, signal.SIG_DFL)\n"
        f"signal.signal(signal.SIGINT, {on_sigint})\n"
        "sys.argv = ['troupe', *sys.argv[1:]]\n"
        "from autogen_troupe.cli import main\n"
        "main()\n"
    )
    return subprocess.Popen(
        [sys.executable, "-c", boot, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )


def _finish(proc: subprocess.Popen[str]) -> tuple[int, str]:
    try:
        out, err = proc.communicate(timeout=WAIT_S)
    except subprocess.TimeoutExpired:
        # it, or a descendant still holding its output pipes, did not end: end its whole group (the test
        # would otherwise wait forever on those pipes), then fail with what it printed
        _end_group(proc)
        try:
            out, err = proc.communicate(timeout=WAIT_S)
        except subprocess.TimeoutExpired:
            out, err = "", "(its output pipes are still held open)"
        pytest.fail(f"troupe, or a process it started, did not stop within {WAIT_S:g} s:\n{out}\n{err}")
    return proc.returncode, out + err


def _end_group(proc: subprocess.Popen[str]) -> None:
    """SIGKILL to the process group `proc` leads (started with start_new_session), else to `proc`."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        proc.kill()


@pytest.mark.parametrize(
    ("signals", "sigint_ignored", "code"),
    [
        (["SIGTERM"], False, 143),
        (["SIGHUP"], False, 129),
        (["SIGINT"], False, 130),
        (["SIGTERM", "SIGTERM"], True, 143),  # a script's background job; the second signal stops at once
    ],
    ids=["sigterm", "sighup", "ctrl-c", "sigterm-twice-sigint-ignored"],
)
def test_a_stop_signal_during_a_hung_tool_call_ends_the_run_and_every_process(
    srv: FakeOpenAI,
    scenario: tuple[Path, Path],
    tmp_path: Path,
    signals: list[str],
    sigint_ignored: bool,
    code: int,
) -> None:
    path, pidfile = scenario
    out = tmp_path / "out"
    args = ("run", str(path), "--base-url", srv.base_url, "--model", "fake-model", "--out", str(out))
    proc = _start_troupe(*args, sigint_ignored=sigint_ignored)
    try:
        pids = _family(pidfile)
        for name in signals:
            proc.send_signal(getattr(signal, name))
            time.sleep(0.2)
        returncode, output = _finish(proc)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert returncode == code, output
    assert "Traceback" not in output and "task_done" not in output
    name = signal.Signals(code - 128).name
    assert ("Interrupted" if code == 130 else f"Stopped by {name}") in output
    records = _records(out)
    assert records[-1]["record"] == "result" and records[-1]["stopped_by"] == "interrupted"
    assert [r["kind"] for r in records if r["record"] == "entry"] == ["text", "tool_call"]
    _assert_all_gone(pids)


def test_sigterm_stops_troupe_record_without_a_cassette(
    srv: FakeOpenAI, scenario: tuple[Path, Path], tmp_path: Path
) -> None:
    path, pidfile = scenario
    cassette = tmp_path / "stuck.cassette.json"
    args = ("record", str(path), "--cassette", str(cassette), "--out", str(tmp_path / "out"))
    proc = _start_troupe(*args, "--base-url", srv.base_url, "--model", "fake-model")
    try:
        pids = _family(pidfile)
        proc.send_signal(signal.SIGTERM)
        returncode, output = _finish(proc)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert returncode == 143, output
    assert "Traceback" not in output
    assert "Stopped by SIGTERM; no cassette was written" in output
    assert not cassette.exists()
    assert _records(tmp_path / "out")[-1]["record"] == "result"
    _assert_all_gone(pids)


async def test_a_cancelled_run_ends_its_processes_and_tasks_and_leaves_signals_alone(
    srv: FakeOpenAI, scenario: tuple[Path, Path], tmp_path: Path
) -> None:
    """The library's own teardown does the work on any cancellation; it installs no signal handler."""
    path, pidfile = scenario
    stops = [getattr(signal, n) for n in ("SIGINT", "SIGTERM", "SIGHUP")]
    before = {s: signal.getsignal(s) for s in stops}
    options = RunOptions(
        overrides=Overrides(base_url=srv.base_url, model="fake-model"), out_dir=tmp_path / "out"
    )
    run = asyncio.ensure_future(run_scenario(load_scenario(path), options=options))
    deadline = time.monotonic() + WAIT_S
    while not pidfile.exists():
        assert time.monotonic() < deadline and not run.done(), "the tool call did not start"
        await asyncio.sleep(0.05)
    pids = _family(pidfile)
    assert {s: signal.getsignal(s) for s in stops} == before
    run.cancel()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(asyncio.shield(run), WAIT_S)
    # AutoGen's handlers were ended with the run: left behind, asyncio.run's shutdown would cancel them and
    # AutoGen's queue would raise "task_done() called too many times".
    left = [t for t in asyncio.all_tasks() if "autogen_core" in repr(t) or "autogen_agentchat" in repr(t)]
    assert left == []
    records = _records(tmp_path / "out")
    assert records[-1]["record"] == "result" and records[-1]["stopped_by"] == "interrupted"
    _assert_all_gone(pids)


# --------------------------------------------------------------------------- the helpers themselves


def _python(code: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(code)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )


def _run_async(program: str) -> subprocess.Popen[str]:
    """`program` (its `async def main()` and what that needs) run by `run_async` as the CLI runs a command:
    a stop prints the exception (`Interrupted SIGINT`) and exits with its code."""
    head = (
        "import asyncio, signal, sys\n"
        "from autogen_troupe import run_async\n"
        "from autogen_troupe.runtime._signals import exit_code\n"
    )
    tail = (
        "try:\n"
        "    run_async(main())\n"
        "except KeyboardInterrupt as e:\n"
        "    print(type(e).__name__, e, flush=True)\n"
        "    sys.exit(exit_code(e))\n"
    )
    return _python(head + textwrap.dedent(program) + tail)


def _ready(proc: subprocess.Popen[str]) -> None:
    assert proc.stdout is not None
    line = proc.stdout.readline()
    assert line == "ready\n", line + (proc.stderr.read() if proc.stderr else "")


def test_run_async_leaves_ignored_signals_ignored_and_cancels_on_sigterm() -> None:
    """Started with SIGINT and SIGHUP ignored (a script's `cmd &`, nohup), only SIGTERM stops it; the
    coroutine sees the cancellation and cleans up."""
    proc = _run_async(
        """
        for s in (signal.SIGINT, signal.SIGHUP):
            signal.signal(s, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)

        async def main():
            print("ready", flush=True)
            try:
                await asyncio.sleep(60)
            except asyncio.CancelledError:
                print("cleaned up", flush=True)
                raise
        """
    )
    _ready(proc)
    for sig in (signal.SIGINT, signal.SIGHUP, signal.SIGTERM):  # delivered in this order
        proc.send_signal(sig)
    out, err = proc.communicate(timeout=WAIT_S)
    assert proc.returncode == 143, out + err
    assert out.splitlines() == ["cleaned up", "Interrupted SIGTERM"]
    assert "Traceback" not in err


def test_a_stream_left_half_read_by_a_stop_closes_without_a_traceback() -> None:
    """After Ctrl-C, an async generator that cannot close (as an HTTP body stream inside the openai SDK
    could not in `troupe eval`) no longer prints asyncio's traceback; the exit stays 130."""
    proc = _run_async(
        """
        async def body():
            try:
                while True:
                    yield b"chunk"
                    await asyncio.sleep(0)
            except GeneratorExit:
                raise RuntimeError("aclose(): asynchronous generator is already running")

        async def main():
            stream = body()
            await stream.__anext__()  # started, never finished: asyncio.run closes it at shutdown
            print("ready", flush=True)
            await asyncio.sleep(60)
        """
    )
    _ready(proc)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=WAIT_S)
    assert proc.returncode == 130, out + err
    assert out.splitlines() == ["Interrupted SIGINT"]
    assert "Traceback" not in err and "asynchronous generator" not in err, err


def test_an_error_the_stop_caused_still_exits_as_the_stop() -> None:
    """Ctrl-C also reaches the in-process engine's worker process, and the engine's death can reach the
    run before the cancellation: what the coroutine raises once a stop signal came exits as the stop."""
    proc = _run_async(
        """
        async def main():
            print("ready", flush=True)
            try:
                await asyncio.sleep(60)
            except asyncio.CancelledError:
                raise RuntimeError("EngineDeadError: EngineCore encountered an issue") from None
        """
    )
    _ready(proc)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=WAIT_S)
    assert proc.returncode == 130, out + err
    assert out.splitlines() == ["Interrupted SIGINT"] and "EngineDeadError" not in err, err


def test_stop_on_signals_raises_interrupted_in_sync_code_and_restores_handlers() -> None:
    proc = _python(
        """
        import signal, sys, time
        from autogen_troupe.runtime._signals import exit_code, stop_on_signals
        signal.signal(signal.SIGHUP, signal.SIG_DFL)
        before = signal.getsignal(signal.SIGHUP)
        try:
            with stop_on_signals():
                print("ready", flush=True)
                time.sleep(60)
        except KeyboardInterrupt as e:
            assert signal.getsignal(signal.SIGHUP) == before
            print(type(e).__name__, e, flush=True)
            sys.exit(exit_code(e))
        """
    )
    _ready(proc)
    proc.send_signal(signal.SIGHUP)
    out, err = proc.communicate(timeout=WAIT_S)
    assert proc.returncode == 129, out + err
    assert out.splitlines() == ["Interrupted SIGHUP"]


@pytest.mark.parametrize("name", ["SIGINT", "SIGHUP"])
def test_troupe_test_stops_with_its_workers_on_a_signal_to_its_process_group(
    tmp_path: Path, scenarios_dir: Path, name: str
) -> None:
    """A terminal's Ctrl-C or hang-up reaches every process of the group: the parent stops the suite, and
    its workers, multiprocessing's forkserver and resource tracker print nothing and are gone."""
    suite = tmp_path / "suite"
    suite.mkdir()
    for i in range(300):  # enough cases that the suite is still running when the signal comes
        for ext in ("yaml", "cassette.json"):
            (suite / f"t{i}.{ext}").write_bytes((scenarios_dir / f"travel_planning.{ext}").read_bytes())
    proc = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import signal, sys\n"
            "signal.signal(signal.SIGINT, signal.default_int_handler)\n"
            "signal.signal(signal.SIGHUP, signal.SIG_DFL)\n"
            "sys.argv = ['troupe', *sys.argv[1:]]\n"
            "from autogen_troupe.cli import main\n"
            "main()\n",
            "test",
            str(suite),
            "-j",
            "2",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        start_new_session=True,  # a group of its own, as a terminal's foreground job
    )
    try:
        parent = psutil.Process(proc.pid)

        def workers_busy() -> bool:
            assert proc.poll() is None, "the suite ended before it was interrupted"
            return len(parent.children(recursive=True)) >= 4

        # the resource tracker, the forkserver and the two workers it forked
        _wait_for(workers_busy, "the workers to start")
        helpers = [p.pid for p in parent.children(recursive=True)]
        os.killpg(proc.pid, getattr(signal, name))
        returncode, output = _finish(proc)
    finally:
        with contextlib.suppress(ProcessLookupError):  # the group outlives its leader when a helper is left
            os.killpg(proc.pid, signal.SIGKILL)
    assert returncode == 128 + getattr(signal, name), output
    assert "Traceback" not in output and "Warning" not in output, output
    _assert_all_gone(helpers)
