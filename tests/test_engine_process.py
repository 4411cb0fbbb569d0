"""The engine core out of our process (V1 multiprocessing, the CUDA default), tested on the CPU build by
forcing it (VLLM_ENABLE_V1_MULTIPROCESSING=1, which the CPU build starts with spawn, as CUDA does once
initialised): a script without a `__main__` guard gets one line naming the line to guard, before anything
loads; the engine core serves two `asyncio.run()`s of one process and goes with it; SIGTERM or Ctrl-C to
`troupe run` leaves no engine process behind."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import psutil
import pytest

from autogen_troupe.models.vllm._spawn import spawns

FORCED = {"VLLM_ENABLE_V1_MULTIPROCESSING": "1"}
GUARD_PROBE = """
from autogen_troupe.models.vllm._spawn import main_guard_problem

def start():
    print(main_guard_problem())

{body}
"""


def _script(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "team.py"
    path.write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
    return path


def _python(
    *args: str, env: dict[str, str] | None = None, timeout: float = 600
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
    )


def test_when_vllm_spawns_its_engine_core() -> None:
    assert spawns("cpu", {}) and spawns("cpu", FORCED)
    assert not spawns("cpu", {"VLLM_ENABLE_V1_MULTIPROCESSING": "0"})  # the CPU default: no child at all
    assert not spawns("cuda", {})  # fork: the script is not re-run
    assert spawns("cuda", {"VLLM_WORKER_MULTIPROC_METHOD": "spawn"})


@pytest.mark.parametrize(
    ("body", "flagged_line"),
    [
        ("start()", 6),
        ('if __name__ == "__main__":\n    start()', None),
        ("if '__main__' == __name__:\n    start()", None),
        ("def main():\n    start()\n\nmain()", 9),  # the script's top-level line that led there
    ],
)
def test_the_unguarded_line_of_the_main_script_is_named(
    tmp_path: Path, body: str, flagged_line: int | None
) -> None:
    path = _script(tmp_path, GUARD_PROBE.format(body=body))
    out = _python(str(path), timeout=60)
    assert out.returncode == 0, out.stderr
    if flagged_line is None:
        assert out.stdout.strip() == "None"
    else:
        assert out.stdout.startswith(f'{path}:{flagged_line}: put this under `if __name__ == "__main__":`')
        assert len(out.stdout.strip().splitlines()) == 1


def test_code_run_as_python_c_needs_no_guard() -> None:
    out = _python(
        "-c", "from autogen_troupe.models.vllm._spawn import main_guard_problem; print(main_guard_problem())"
    )
    assert out.stdout.strip() == "None", out.stderr


ASK = """
import asyncio, os, psutil
from autogen_core.models import UserMessage
from autogen_troupe.models.vllm import VllmChatCompletionClient

client = VllmChatCompletionClient("smollm2-135m-instruct", max_tokens=4, temperature=0.0)

async def ask():
    result = await client.create([UserMessage(content="Say hi.", source="user")])
    print("answer", bool(result.content), engines(), flush=True)

def engines():  # live children but multiprocessing's resource tracker (an exited one is a zombie till reaped)
    found = []
    for p in psutil.Process().children(recursive=True):
        try:
            if p.status() != psutil.STATUS_ZOMBIE and "resource_tracker" not in " ".join(p.cmdline()):
                found.append(p.pid)
        except psutil.Error:
            pass
    return sorted(found)

{tail}
"""


@pytest.mark.vllm
def test_an_unguarded_script_gets_one_line_before_anything_loads(tmp_path: Path) -> None:
    path = _script(tmp_path, ASK.format(tail="asyncio.run(ask())"))
    out = _python(str(path), env=FORCED)
    assert out.returncode == 1
    last = out.stderr.strip().splitlines()[-1]
    line = path.read_text(encoding="utf-8").splitlines().index("asyncio.run(ask())") + 1
    assert f'{path}:{line}: put this under `if __name__ == "__main__":`' in last, out.stderr
    assert "EngineCore" not in out.stderr  # no engine core was started


@pytest.mark.vllm
def test_the_engine_core_process_serves_every_asyncio_run_and_ends_with_the_script(tmp_path: Path) -> None:
    tail = """
    if __name__ == "__main__":
        asyncio.run(ask())
        asyncio.run(ask())  # a second event loop: the same engine, the same engine core process
        asyncio.run(client.close())
        print("children after close", engines(), flush=True)
    """
    path = _script(tmp_path, ASK.format(tail=textwrap.dedent(tail)))
    out = _python(str(path), env=FORCED)
    assert out.returncode == 0, out.stdout + out.stderr[-3000:]
    lines = [x for x in out.stdout.splitlines() if x.startswith(("answer", "children"))]
    first, second, after = lines
    assert first.startswith("answer True [") and first != "answer True []"  # an engine core child ran
    assert second == first
    assert after == "children after close []"
    pids = [int(p) for p in first.split("[", 1)[1].rstrip("]").split(",")]
    assert not [
        p for p in pids if psutil.pid_exists(p) and psutil.Process(p).status() != psutil.STATUS_ZOMBIE
    ]


SCENARIO = """
name: chat
task: Two travellers talk about a trip to Nepal.
model: {profile: default, max_tokens: 40}
team:
  kind: round_robin
  agents:
    - {name: ann, system_message: You are Ann. Talk about Nepal.}
    - {name: bob, system_message: You are Bob. Talk about Nepal.}
  termination: {max_messages: 12}
"""


def _tree(pid: int) -> dict[int, psutil.Process]:
    try:
        return {p.pid: p for p in psutil.Process(pid).children(recursive=True)}
    except psutil.Error:  # a process of the tree ended while it was walked: look again next time
        return {}


def _cmdline(proc: psutil.Process) -> str:
    try:
        return " ".join(proc.cmdline())
    except psutil.Error:  # it ended (or is a zombie) meanwhile
        return ""


@pytest.mark.vllm
@pytest.mark.parametrize(("stop", "code"), [("sigterm", 143), ("ctrl-c", 130)])
def test_a_stopped_troupe_run_leaves_no_engine_process(tmp_path: Path, stop: str, code: int) -> None:
    """SIGTERM to the process; Ctrl-C as a terminal sends it, SIGINT to the whole process group (the
    engine core gets it too)."""
    scenario = tmp_path / "chat.yaml"
    scenario.write_text(textwrap.dedent(SCENARIO).lstrip(), encoding="utf-8")
    proc = subprocess.Popen(
        [sys.executable, "-m", "autogen_troupe.cli", "run", str(scenario), "--out", str(tmp_path / "runs")],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, **FORCED, "COLUMNS": "200"},
        start_new_session=True,  # a process group of its own, as a terminal's foreground job
    )
    seen: list[str] = []
    spoke = threading.Event()

    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            seen.append(line)
            if "ann" in line.lower():
                spoke.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    descendants: dict[int, psutil.Process] = {}
    try:
        while not spoke.wait(0.5):  # the engine is up: record every process it started meanwhile
            assert proc.poll() is None, "".join(seen)
            descendants.update(_tree(proc.pid))
        descendants.update(_tree(proc.pid))
        commands = [_cmdline(p) for p in descendants.values()]
        # the engine core: spawned by multiprocessing, then titled by vLLM (VLLM::EngineCore)
        assert [c for c in commands if "EngineCore" in c or "spawn_main" in c], f"{commands}\n{''.join(seen)}"
        if stop == "sigterm":
            proc.send_signal(signal.SIGTERM)
        else:
            os.killpg(proc.pid, signal.SIGINT)
        returncode = proc.wait(timeout=300)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    reader.join(timeout=30)
    assert returncode == code, "".join(seen)
    _, alive = psutil.wait_procs(list(descendants.values()), timeout=120)
    assert alive == [], f"left running: {[p.pid for p in alive]}"
