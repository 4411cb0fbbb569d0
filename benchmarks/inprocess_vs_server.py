"""In-process vLLM client vs vLLM's OpenAI server, same model, same machine.

    python benchmarks/inprocess_vs_server.py [--max-tokens 64] [--runs 1,2,4,8] [--no-server]

Both sides serve the embedded SmolLM2-135M-Instruct (converted once into the user's cache) with the same
chat template, tool parser and context length. Every completion is forced to exactly `--max-tokens`
tokens (`ignore_eos`), so both sides do the same work. A "run" is the travel-planning team's four agents
answering in turn (4 sequential `create()` calls, each seeing the earlier answers, as in a round-robin
chat); `--runs` says how many runs go at once on the one engine. The in-process phase runs first and its
engine is shut down before the server starts, so the two never compete for the CPU.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import httpx
import psutil
from autogen_core.models import ChatCompletionClient, LLMMessage, SystemMessage, UserMessage

from autogen_troupe.runtime import _vllm_engine
from autogen_troupe.runtime._default_model import builtin_chat_template
from autogen_troupe.runtime._schema import ModelSpec
from autogen_troupe.runtime._vllm import create_client

TASK = "Plan a 3 day trip to Nepal."
AGENTS = {
    "planner_agent": "You are a helpful assistant that can suggest a travel plan for a user based on their "
    "request.",
    "local_agent": "You are a helpful assistant that can suggest authentic and interesting local activities "
    "or places to visit for a user and can utilize any context information provided.",
    "language_agent": "You are a helpful assistant that can review travel plans, providing feedback on "
    "important/critical tips about how best to address language or communication challenges for the given "
    "destination. If the plan already includes language tips, you can mention that the plan is "
    "satisfactory, with rationale.",
    "travel_summary_agent": "You are a helpful assistant that can take in all of the suggestions and advice "
    "from the other agents and provide a detailed final travel plan. You must ensure that the final plan is "
    "integrated and complete. YOUR FINAL RESPONSE MUST BE THE COMPLETE PLAN. When the plan is complete and "
    "all perspectives are integrated, you can respond with TERMINATE.",
}


@dataclass
class Load:
    wall_s: float
    completion_tokens: int
    prompt_tokens: int

    @property
    def tokens_per_s(self) -> float:
        return self.completion_tokens / self.wall_s


async def one_run(client: ChatCompletionClient, extra: dict) -> tuple[int, int]:
    """The four agents in turn; each sees the task and the earlier answers as named user messages."""
    said: list[LLMMessage] = [UserMessage(content=TASK, source="user")]
    prompt = completion = 0
    for name, system in AGENTS.items():
        result = await client.create([SystemMessage(content=system), *said], extra_create_args=extra)
        assert isinstance(result.content, str)
        said.append(UserMessage(content=result.content, source=name))
        prompt += result.usage.prompt_tokens
        completion += result.usage.completion_tokens
    return prompt, completion


async def measure(client: ChatCompletionClient, extra: dict, runs: Sequence[int], single_tokens: int) -> dict:
    await client.create(
        [UserMessage(content="Hi", source="user")], extra_create_args={**extra, "max_tokens": 4}
    )
    started = time.perf_counter()
    single = await client.create(
        [UserMessage(content="Tell me about Nepal.", source="user")],
        extra_create_args={**extra, "max_tokens": single_tokens},
    )
    out: dict = {"single": Load(time.perf_counter() - started, single.usage.completion_tokens, 0)}
    for n in runs:
        started = time.perf_counter()
        results = await asyncio.gather(*(one_run(client, extra) for _ in range(n)))
        wall = time.perf_counter() - started
        out[n] = Load(wall, sum(c for _, c in results), sum(p for p, _ in results))
    return out


class PeakRss:
    """Samples the summed RSS of a process and its children every 0.2 s."""

    def __init__(self, pid: int) -> None:
        self.proc = psutil.Process(pid)
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                procs = [self.proc, *self.proc.children(recursive=True)]
                self.peak = max(self.peak, sum(p.memory_info().rss for p in procs if p.is_running()))
            except psutil.Error:
                pass
            self._stop.wait(0.2)

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


async def in_process(args: argparse.Namespace) -> dict:
    started = time.perf_counter()
    _vllm_engine.import_vllm()
    import_s = time.perf_counter() - started
    client = create_client(ModelSpec(provider="vllm", model="smollm2-135m-instruct", temperature=0.0))
    started = time.perf_counter()
    await client.start()
    result = {"import_s": import_s, "load_s": time.perf_counter() - started}
    result.update(await measure(client, {"extra_body": {"ignore_eos": True}, "max_tokens": args.max_tokens},
                                args.runs, args.single_tokens))  # fmt: skip
    result["model_dir"], result["max_model_len"] = client.engine.model, client.engine.max_model_len
    await client.close()
    result["peak_rss"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    return result


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def server(args: argparse.Namespace, model_dir: str, max_model_len: int) -> dict:
    from autogen_ext.models.openai import OpenAIChatCompletionClient

    port = _free_port()
    env = {**os.environ, **_vllm_engine.ENV_DEFAULTS}
    cmd = [
        sys.executable, "-m", "autogen_troupe.runtime._torch_extras", "vllm.entrypoints.openai.api_server",
        "--model", model_dir, "--served-model-name", "smol", "--host", "127.0.0.1", "--port", str(port),
        "--enforce-eager", "--max-model-len", str(max_model_len),
        "--enable-auto-tool-choice", "--tool-call-parser", "hermes",
        "--chat-template", str(builtin_chat_template("chatml_hermes")),
    ]  # fmt: skip
    started = time.perf_counter()
    log = tempfile.TemporaryFile()  # noqa: SIM115  (outlives this block: closed in `finally`)
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env)
    try:
        with PeakRss(proc.pid) as rss:
            while True:
                if proc.poll() is not None:
                    log.seek(0)
                    raise SystemExit(f"vLLM's server exited: {log.read().decode()[-2000:]}")
                try:
                    if httpx.get(f"http://127.0.0.1:{port}/v1/models", timeout=2).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                await asyncio.sleep(0.5)
            result: dict = {"load_s": time.perf_counter() - started}
            client = OpenAIChatCompletionClient(
                model="smol",
                base_url=f"http://127.0.0.1:{port}/v1",
                api_key="unused",
                temperature=0.0,
                model_info={
                    "vision": False,
                    "function_calling": True,
                    "json_output": True,
                    "structured_output": True,
                    "family": "unknown",
                    "multiple_system_messages": True,
                },
            )
            extra = {"extra_body": {"ignore_eos": True}, "max_tokens": args.max_tokens}
            result.update(await measure(client, extra, args.runs, args.single_tokens))
            await client.close()
        result["peak_rss"] = rss.peak
        return result
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def table(ours: dict, theirs: dict | None, args: argparse.Namespace) -> str:
    rows: list[tuple[str, Callable[[dict], str]]] = [
        ("engine load, s (server: until /v1/models answers)", lambda r: f"{r['load_s']:.1f}"),
        ("peak RSS, GiB (server: its process tree)", lambda r: f"{r['peak_rss'] / 2**30:.2f}"),
        (f"1 request, {args.single_tokens} tokens: tokens/s", lambda r: f"{r['single'].tokens_per_s:.1f}"),
    ]
    for n in args.runs:
        rows.append(
            (f"{n} run(s) x 4 calls x {args.max_tokens} tok: wall s", lambda r, n=n: f"{r[n].wall_s:.1f}")
        )
        rows.append((f"{n} run(s): total tokens/s", lambda r, n=n: f"{r[n].tokens_per_s:.1f}"))
    width = max(len(label) for label, _ in rows)
    lines = [f"{'':{width}}  {'in-process':>10}  {'server':>10}"]
    for label, cell in rows:
        lines.append(f"{label:{width}}  {cell(ours):>10}  {cell(theirs) if theirs else '-':>10}")
    return "\n".join(lines)


async def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--max-tokens", type=int, default=64, help="completion tokens per agent turn")
    parser.add_argument("--single-tokens", type=int, default=128, help="tokens of the single request")
    parser.add_argument("--runs", default="1,2,4,8", help="concurrent runs to measure, comma separated")
    parser.add_argument("--no-server", action="store_true", help="measure the in-process client only")
    args = parser.parse_args()
    args.runs = [int(n) for n in args.runs.split(",")]
    print(f"load average before: {os.getloadavg()[0]:.2f} (2 cores here; other work on the machine skews)")
    ours = await in_process(args)
    theirs = None if args.no_server else await server(args, ours["model_dir"], ours["max_model_len"])
    print(f"vllm import in-process: {ours['import_s']:.1f} s (not in the load time below)")
    print(table(ours, theirs, args))
    print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    asyncio.run(main())
