"""Shared test setup: tests never see the developer's own profiles or TROUPE_* settings; the fake endpoint's
fixtures. Plain helpers (the `troupe` command, scenario files, a free port) are in tests/helpers.py."""

from __future__ import annotations

import atexit
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
TESTS = ROOT / "tests"
sys.path.insert(0, str(TESTS))  # tests/fake_openai.py, tests/helpers.py and friends

from fake_openai import FakeOpenAI  # noqa: E402  (found through the path just set)

# vLLM's model-info cache starts empty in every session, as on a new user's machine: with it warm, vLLM
# skips the child interpreter that inspects a model, and a broken install passes unseen.
_VLLM_CACHE = tempfile.mkdtemp(prefix="troupe-test-vllm-cache-")
os.environ["VLLM_CACHE_ROOT"] = _VLLM_CACHE
atexit.register(shutil.rmtree, _VLLM_CACHE, True)

# The Ctrl-C tests send SIGINT to the processes they start, which take their parent's dispositions: a
# suite started in the background of a script (`cmd &`, `nohup`), as CI may start it, has SIGINT ignored,
# and `troupe` (rightly) leaves an ignored signal ignored. Their children start as a terminal's would.
if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> None:
    for name in list(os.environ):
        if name.startswith("TROUPE_") and name != "TROUPE_CACHE_DIR":
            monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("TROUPE_PROFILES", str(tmp_path_factory.getbasetemp() / "no-profiles.yaml"))
    # OAuth tokens of MCP servers go to the test's folder, never the user's config folder.
    monkeypatch.setenv("TROUPE_MCP_TOKENS", str(tmp_path_factory.getbasetemp() / "mcp-tokens"))


@pytest.fixture
def scenarios_dir() -> Path:
    return ROOT / "scenarios"


# --------------------------------------------------------------------------- the fake endpoint


@pytest.fixture(scope="module")
def server() -> Iterator[FakeOpenAI]:
    """One fake OpenAI-compatible endpoint per test module, on 127.0.0.1 (use `srv` in a test)."""
    with FakeOpenAI() as srv:
        yield srv


@pytest.fixture
def srv(server: FakeOpenAI) -> FakeOpenAI:
    """The module's fake endpoint with its script, settings and records cleared."""
    server.reset()
    return server


@pytest.fixture
def fake_process(tmp_path: Path) -> Iterator[Callable[[Any], tuple[str, Path]]]:
    """Start the fake endpoint as a process of its own (for `troupe` subprocesses) from a script (see
    tests/fake_openai.py); gives its base URL and the file it logs every request to, as JSON lines."""
    procs: list[subprocess.Popen[str]] = []

    def start(script: Any) -> tuple[str, Path]:
        n = len(procs)
        sf, log = tmp_path / f"script{n or ''}.json", tmp_path / f"requests{n or ''}.jsonl"
        sf.write_text(json.dumps(script))
        cmd = [sys.executable, str(TESTS / "fake_openai.py"), "--port", "0", "--script", str(sf)]
        proc = subprocess.Popen([*cmd, "--log", str(log)], stdout=subprocess.PIPE, text=True)
        procs.append(proc)
        line = proc.stdout.readline() if proc.stdout else ""
        assert line.startswith("READY "), line
        return line.split()[1], log

    yield start
    for p in procs:
        p.terminate()
        p.wait(10)
        if p.stdout is not None:
            p.stdout.close()
