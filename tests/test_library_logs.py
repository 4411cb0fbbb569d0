"""The engine libraries' log lines stay off the console of every command: `troupe serve` and `troupe eval`
write them to a log in their output folder, as `troupe run` does beside its transcript.

The line we look for is vLLM's "Triton is installed, but doesn't include CPU backend", logged when the
engine's modules are imported. A model folder with no model in it gets that far and then fails at once, so
these tests import vLLM (about 10-15 s here) without loading a model.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx2
import pytest
from helpers import troupe, write

pytestmark = pytest.mark.slow_model

CHATTER = ("Triton", "vllm.", "WARNING")


def _scenario(tmp_path: Path) -> Path:
    empty = tmp_path / "no-model"
    empty.mkdir()
    return write(
        tmp_path,
        f"""
        name: nomodel
        task: Say hello.
        model: {{provider: vllm, model: "{empty}"}}
        team: {{kind: single, agents: [{{name: greeter}}]}}
        """,
        "nomodel.yaml",
    )


def _has_triton() -> bool:
    """Whether this vLLM logs the Triton line at all (it does with the CPU build beside PyPI's triton)."""
    from importlib.util import find_spec

    return find_spec("triton") is not None and find_spec("vllm") is not None


def test_serve_keeps_the_engine_libraries_off_its_console(tmp_path: Path) -> None:
    if not _has_triton():
        pytest.skip("needs vLLM and triton installed (the line comes from them)")
    scenario = _scenario(tmp_path)
    out = tmp_path / "runs"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "autogen_troupe.cli",
            "serve",
            str(scenario),
            "--port",
            "0",
            "--out",
            str(out),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "COLUMNS": "300"},
    )
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()
        url = first.split()[2]
        run = httpx2.post(f"{url}api/runs", json={"scenario": "nomodel"}, timeout=30).json()
        deadline = time.monotonic() + 300  # bounds a hang only
        while time.monotonic() < deadline:
            got = httpx2.get(f"{url}api/runs/{run['id']}", timeout=30).json()
            if not got["live"]:
                break
            time.sleep(0.5)
        assert got["status"] == "failed", got
    finally:
        proc.send_signal(2)
        rest, err = proc.communicate(timeout=60)
    console = first + rest + err
    assert not [w for w in CHATTER if w in console], console
    (log,) = out.glob("serve-*.log")
    assert "Triton is installed" in log.read_text()


def test_eval_keeps_the_engine_libraries_off_its_console(tmp_path: Path) -> None:
    if not _has_triton():
        pytest.skip("needs vLLM and triton installed (the line comes from them)")
    scenario = _scenario(tmp_path)
    tasks = write(tmp_path, '{"task": "Say hello."}\n', "tasks.jsonl")
    out = tmp_path / "eval"
    proc = troupe(
        "eval", "run", str(scenario), "--tasks", str(tasks), "--out", str(out), "-j", "1", "--quiet",
        env={"COLUMNS": "300"}, timeout=300,
    )  # fmt: skip
    console = proc.stdout + proc.stderr
    assert not [w for w in CHATTER if w in console], console
    assert "Triton is installed" in (out / "engine.log").read_text()
    verbose = troupe(
        "eval", "run", str(scenario), "--tasks", str(tasks), "--out", str(tmp_path / "eval2"), "-j", "1",
        "--quiet", "--verbose", env={"COLUMNS": "300"}, timeout=300,
    )  # fmt: skip
    assert "Triton is installed" in verbose.stderr  # --verbose shows them
