"""`troupe run` on the embedded default model, in a fresh process as a user runs it: the engine's own log
lines go to a file beside the transcript, not to the console (`--verbose` shows them).

vLLM's model-info cache is empty here (conftest), so vLLM's child interpreter that inspects the model runs
too: the step that failed for every new user while the torch extras were broken.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from autogen_troupe.tapes import read_tape

pytestmark = [pytest.mark.vllm, pytest.mark.slow_model]

SCENARIO = """
name: hello
task: Say hello to a traveller in one short sentence.
model: {profile: default, max_tokens: 12}
team:
  kind: single
  agents: [{name: greeter, system_message: You greet travellers.}]
"""
# "nanobind": triton's bindings list objects left to the end as leaks when the exit skips the GC sweep
ENGINE_CHATTER = ("Triton", " INFO ", "WARNING", "vllm.", "torch.", "nanobind")


def _run(tmp_path: Path, *flags: str) -> tuple[subprocess.CompletedProcess[str], Path]:
    scenario = tmp_path / "hello.yaml"
    scenario.write_text(textwrap.dedent(SCENARIO).lstrip())
    out = tmp_path / f"runs{len(flags)}"
    proc = subprocess.run(
        [sys.executable, "-m", "autogen_troupe.cli", "run", str(scenario), "--out", str(out), *flags],
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "COLUMNS": "400"},  # the summary panel must not wrap the log path
    )
    return proc, out


def test_the_engine_log_goes_beside_the_transcript_not_to_the_console(tmp_path: Path) -> None:
    proc, out = _run(tmp_path)
    assert proc.returncode == 0, proc.stderr
    console = proc.stdout + proc.stderr
    assert not [word for word in ENGINE_CHATTER if word in console], console
    (transcript,) = out.glob("hello-*.jsonl")
    engine_s = read_tape(transcript).run_result().engine_s  # the engine's time of the run, metered for real
    assert engine_s is not None and engine_s > 0
    log = transcript.with_suffix(".log")
    assert "vllm" in log.read_text()
    assert f"engine log: {log}" in " ".join(proc.stdout.split())
    # while the engine loads the console says so, then how long it took, before the agent's first line
    lines = [line.strip() for line in proc.stdout.splitlines()]
    loading = lines.index("loading the engine (SmolLM2-135M-Instruct, CPU)…")
    ready = next(
        i
        for i, line in enumerate(lines)
        if re.fullmatch(r"engine ready in \d+ s \(SmolLM2-135M-Instruct, CPU\)", line)
    )
    greeter = next(i for i, line in enumerate(lines) if line.startswith("greeter ("))
    assert loading < ready < greeter, proc.stdout

    verbose, _ = _run(tmp_path, "--verbose")
    assert verbose.returncode == 0, verbose.stderr
    assert "vllm" in verbose.stderr.lower()
