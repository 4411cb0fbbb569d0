"""vLLM's own OpenAI-compatible server as a child process, for tests and benchmarks comparing against it.

The parity test and the benchmark start it for the very folder, chat template, tool parser and context
length the in-process engine uses, on a free port of 127.0.0.1. It runs as
`python -m vllm.entrypoints.openai.api_server` because `vllm serve` does not work in the CPU build (see
FACTS); the start-up guard our wheel installs hides the mismatched torch extras in its processes.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import httpx2

from autogen_troupe.models.vllm._default_model import builtin_chat_template
from autogen_troupe.models.vllm._engine import ENV_DEFAULTS

__all__ = ["RunningServer", "free_port", "vllm_openai_server"]


@dataclass(frozen=True)
class RunningServer:
    base_url: str  # ends in /v1
    process: subprocess.Popen[bytes]
    ready_s: float  # from start until /v1/models answered


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def vllm_openai_server(
    model_dir: str,
    *,
    max_model_len: int,
    log: Path,
    served_model_name: str = "smol",
    template: str | None = "chatml_hermes",
    tool_parser: str | None = "hermes",
    reasoning_parser: str | None = None,
    eager: bool = True,
    ready_timeout_s: float = 300.0,
    extra_args: Sequence[str] = (),
    env: Mapping[str, str] | None = None,
) -> Iterator[RunningServer]:
    """Start the server, wait until it answers, yield it; stop it (and its engine core) on exit.

    `extra_args` go on its command line (e.g. `--otlp-traces-endpoint URL`), `env` over ours; `template` is
    a built-in name, a file or None (the model's own); `eager` False compiles as `vllm serve` does. Its output
    goes to `log`; when it exits early or is not ready in time, the RuntimeError carries the log's tail.
    """
    port = free_port()
    env = {**os.environ, **ENV_DEFAULTS, **(env or {})}
    env.pop("VLLM_LOGGING_LEVEL")  # its start-up log is what explains a failure
    cmd = [
        sys.executable, "-m", "vllm.entrypoints.openai.api_server",
        "--model", model_dir, "--served-model-name", served_model_name,
        "--host", "127.0.0.1", "--port", str(port),
        "--max-model-len", str(max_model_len),
        *(["--enforce-eager"] if eager else []),
        *(["--enable-auto-tool-choice", "--tool-call-parser", tool_parser] if tool_parser else []),
        *(["--reasoning-parser", reasoning_parser] if reasoning_parser else []),
        *(["--chat-template", str(builtin_chat_template(template) or template)] if template else []),
        *extra_args,
    ]  # fmt: skip
    started = time.perf_counter()
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + ready_timeout_s
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"vLLM's server exited with {proc.returncode}:\n{_tail(log)}")
            try:
                if httpx2.get(f"{base}/v1/models", timeout=2).status_code == 200:
                    break
            except httpx2.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"vLLM's server was not ready in {ready_timeout_s:.0f} s:\n{_tail(log)}")
            time.sleep(0.5)
        yield RunningServer(f"{base}/v1", proc, time.perf_counter() - started)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _tail(log: Path, chars: int = 3000) -> str:
    return log.read_text(errors="replace")[-chars:]
