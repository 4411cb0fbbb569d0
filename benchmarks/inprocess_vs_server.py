"""In-process vLLM client vs vLLM's OpenAI server, same model, same machine, measured in turns.

    python benchmarks/inprocess_vs_server.py [--model PATH] [--rounds 3] [--max-tokens 64] [--runs 1,2,4,8]
                                             [--stream-runs 1,8] [--gpu-memory-utilization 0.45] [--no-server]

Both sides serve the same model (`--model`: a Hugging Face folder or cached hub id; by default the embedded
SmolLM2-135M-Instruct, converted once into the user's cache) with the same chat template, tool parser and
context length, and the settings each would pick on this device: on the CPU both eager, on a GPU both
compiled with CUDA graphs and the engine core in its own process (`vllm serve`'s defaults; ours from
`models/vllm/_device.py`, printed first). On a GPU both engines are loaded at once, so each gets
`--gpu-memory-utilization` of it (0.45: two copies of the model and their KV caches must fit).

Every completion is forced to exactly `--max-tokens` tokens (`ignore_eos`), so both sides do the same
work. A "run" is the travel-planning team's four agents answering in turn (4 sequential `create()` calls,
each seeing the earlier answers, as in a round-robin chat); `--runs` says how many runs go at once on the
one engine, each to another destination; `--stream-runs` does the same with `create_stream`, as agents
with `stream: true` do. Time to first token is one streamed request of `--single-tokens` tokens, from the
call to its first text.

Both engines are loaded first, then measured in rounds. Within a round every cell (the single request,
each concurrency level) is measured on both sides back to back, taking turns on who goes first (A B, then
B A for the next cell or round) while the other side idles. The two halves of a pair are seconds apart, so a
machine that speeds up or slows down (other tenants, thermal) weighs on both alike. Each cell is the median
over the rounds; the ratio column is the median of the pairs' in-process / server ratios.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import resource
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import psutil
from autogen_core.models import ChatCompletionClient, CreateResult, LLMMessage, SystemMessage, UserMessage

from autogen_troupe.models.vllm import _engine as _vllm_engine
from autogen_troupe.models.vllm._client import create_client
from autogen_troupe.models.vllm._device import detect_device
from autogen_troupe.scenario._schema import ModelSpec

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))  # vLLM's server, a test helper
from vllm_server import vllm_openai_server

DESTINATIONS = ["Nepal", "Peru", "Japan", "Morocco", "Iceland", "Vietnam", "Chile", "Kenya", "Norway", "Laos"]
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
    ttft_s: float | None = None  # time to first token, for the streamed single request

    @property
    def tokens_per_s(self) -> float:
        return self.completion_tokens / self.wall_s


async def one_run(client: ChatCompletionClient, extra: dict, destination: str, stream: bool = False) -> int:
    """The four agents in turn; each sees the task and the earlier answers as named user messages.

    `stream` uses `create_stream` (an agent with `stream: true`): text arrives token by token.
    """
    said: list[LLMMessage] = [UserMessage(content=f"Plan a 3 day trip to {destination}.", source="user")]
    completion = 0
    for name, system in AGENTS.items():
        messages = [SystemMessage(content=system), *said]
        if stream:
            async for item in client.create_stream(messages, extra_create_args=extra):
                result = item
            assert isinstance(result, CreateResult)
        else:
            result = await client.create(messages, extra_create_args=extra)
        assert isinstance(result.content, str)
        said.append(UserMessage(content=result.content, source=name))
        completion += result.usage.completion_tokens
    return completion


def cells(args: argparse.Namespace) -> list[object]:
    """The keys of one round's measurements, in the order they are taken."""
    return ["single", "ttft", *args.runs, *(f"{n} streamed" for n in args.stream_runs)]


async def measure(
    client: ChatCompletionClient, key: object, args: argparse.Namespace, round_no: int, stream_extra: dict
) -> Load:
    """One cell on one side: the single request, N concurrent runs, or N concurrent streamed runs."""
    extra = {"extra_body": {"ignore_eos": True}, "max_tokens": args.max_tokens}
    started = time.perf_counter()
    if key == "single":
        place = DESTINATIONS[round_no % len(DESTINATIONS)]
        single = await client.create(
            [UserMessage(content=f"Tell me about {place}.", source="user")],
            extra_create_args={**extra, "max_tokens": args.single_tokens},
        )
        return Load(time.perf_counter() - started, single.usage.completion_tokens)
    if key == "ttft":
        place = DESTINATIONS[(round_no + 1) % len(DESTINATIONS)]
        first: float | None = None
        async for item in client.create_stream(
            [UserMessage(content=f"Tell me about {place}.", source="user")],
            extra_create_args={**extra, **stream_extra, "max_tokens": args.single_tokens},
        ):
            if first is None and isinstance(item, str) and item:
                first = time.perf_counter() - started
            result = item
        assert isinstance(result, CreateResult)
        return Load(time.perf_counter() - started, result.usage.completion_tokens, first)
    stream = isinstance(key, str)
    n = int(str(key).split()[0])
    places = [DESTINATIONS[(round_no + i) % len(DESTINATIONS)] for i in range(n)]
    if stream:
        extra = {**extra, **stream_extra}
    tokens = await asyncio.gather(*(one_run(client, extra, place, stream=stream) for place in places))
    return Load(time.perf_counter() - started, sum(tokens))


async def warm_up(client: ChatCompletionClient) -> None:
    await client.create([UserMessage(content="Hi", source="user")], extra_create_args={"max_tokens": 4})


def peak_rss_of_tree(pid: int) -> int:
    """Summed peak RSS (VmHWM) of a process and its children, read once at the end.

    Read afterwards rather than sampled: a sampling thread in this process would take the GIL the
    in-process engine needs, and only on that side of the comparison.
    """
    total = 0
    root = psutil.Process(pid)
    for proc in [root, *root.children(recursive=True)]:
        try:
            status = Path(f"/proc/{proc.pid}/status").read_text()
        except OSError:
            continue
        for line in status.splitlines():
            if line.startswith("VmHWM:"):
                total += int(line.split()[1]) * 1024
    return total


def table(ours: dict, theirs: dict | None, args: argparse.Namespace) -> str:
    def median(rounds: list[dict], key: object, field: str) -> float:
        return statistics.median(getattr(r[key], field) for r in rounds)

    rows: list[tuple[str, Callable[[dict], float], str, object]] = [
        ("engine load, s (server: until /v1/models answers)", lambda r: r["load_s"], ".1f", None),
        ("peak RSS, GiB (server: its process tree)", lambda r: r["peak_rss"] / 2**30, ".2f", None),
        (
            f"1 request, {args.single_tokens} tokens: tokens/s",
            lambda r: median(r["rounds"], "single", "tokens_per_s"),
            ".1f",
            "single",
        ),
        (
            "1 streamed request: time to first token, ms",
            lambda r: 1000 * statistics.median(x["ttft"].ttft_s for x in r["rounds"]),
            ".0f",
            "ttft",
        ),
    ]
    for n in args.runs:
        rows.append(
            (
                f"{n} run(s): total tokens/s",
                lambda r, n=n: median(r["rounds"], n, "tokens_per_s"),
                ".1f",
                n,
            )
        )
        rows.append(
            (
                f"{n} run(s) x 4 calls x {args.max_tokens} tok: wall s",
                lambda r, n=n: median(r["rounds"], n, "wall_s"),
                ".1f",
                None,
            )
        )
    for n in args.stream_runs:
        key = f"{n} streamed"
        rows.append(
            (
                f"{n} run(s), streamed: total tokens/s",
                lambda r, key=key: median(r["rounds"], key, "tokens_per_s"),
                ".1f",
                key,
            )
        )
    width = max(len(label) for label, *_ in rows)
    lines = [f"{'':{width}}  {'in-process':>10}  {'server':>10}  {'ratio':>6}"]
    for label, cell, fmt, key in rows:
        a = cell(ours)
        b = cell(theirs) if theirs else None
        shown_b = format(b, fmt) if b is not None else "-"
        shown_ratio = f"{paired_ratio(ours, theirs, key):.2f}x" if key is not None and theirs else ""
        lines.append(f"{label:{width}}  {format(a, fmt):>10}  {shown_b:>10}  {shown_ratio:>6}")
    return "\n".join(lines)


def paired_ratio(ours: dict, theirs: dict, key: object) -> float:
    """Median over rounds of in-process / server tokens/s (time to first token: in-process / server,
    lower is better), each pair measured back to back."""
    pairs = zip(ours["rounds"], theirs["rounds"], strict=True)
    if key == "ttft":
        return statistics.median(a[key].ttft_s / b[key].ttft_s for a, b in pairs)
    return statistics.median(a[key].tokens_per_s / b[key].tokens_per_s for a, b in pairs)


def per_round(ours: dict, theirs: dict, args: argparse.Namespace) -> str:
    """Each round's in-process / server tokens/s ratio, to show how steady the comparison was."""
    keys = [k for k in cells(args) if k != "ttft"]
    lines = ["in-process / server tokens/s per round: " + "  ".join(f"{k}" for k in keys)]
    for i, (a, b) in enumerate(zip(ours["rounds"], theirs["rounds"], strict=True)):
        ratios = "  ".join(f"{a[k].tokens_per_s / b[k].tokens_per_s:.2f}" for k in keys)
        lines.append(f"  round {i + 1}: {ratios}")
    return "\n".join(lines)


async def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--max-tokens", type=int, default=64, help="completion tokens per agent turn")
    parser.add_argument("--single-tokens", type=int, default=128, help="tokens of the single request")
    parser.add_argument("--runs", default="1,2,4,8", help="concurrent runs to measure, comma separated")
    parser.add_argument("--stream-runs", default="1,8", help="concurrent streamed runs (empty: none)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds per side (the median is shown)")
    parser.add_argument("--no-server", action="store_true", help="measure the in-process client only")
    parser.add_argument("--model", default="smollm2-135m-instruct", help="a model folder or cached hub id")
    parser.add_argument(
        "--gpu-memory-utilization", type=float, default=0.45, help="each side's share of the GPU (GPU only)"
    )
    args = parser.parse_args()
    args.runs = [int(n) for n in args.runs.split(",") if n]
    args.stream_runs = [int(n) for n in args.stream_runs.split(",") if n]
    print(f"load average before: {os.getloadavg()[0]:.2f} (2 cores here; other work on the machine skews)")

    started = time.perf_counter()
    _vllm_engine.import_vllm()
    print(f"vllm import in-process: {time.perf_counter() - started:.1f} s (not in the load time below)")
    device = detect_device()
    gpu = device.kind == "cuda"
    engine_args = {"gpu_memory_utilization": args.gpu_memory_utilization} if gpu else {}
    client = create_client(
        ModelSpec(provider="vllm", model=args.model, temperature=0.0, engine_args=engine_args)
    )
    started = time.perf_counter()
    await client.start()
    assert client.engine is not None and client.engine.settings is not None
    print("in-process engine settings:\n  " + "\n  ".join(client.engine.settings.lines()))
    ours: dict = {"load_s": time.perf_counter() - started, "rounds": []}
    ours["peak_rss"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    await warm_up(client)
    sides: list[tuple[ChatCompletionClient, dict, dict]] = [(client, ours, {})]
    theirs: dict | None = None
    with tempfile.TemporaryDirectory() as tmp, contextlib.ExitStack() as stack:
        if not args.no_server:
            config = client.config
            server = stack.enter_context(
                vllm_openai_server(
                    client.engine.model,
                    max_model_len=client.engine.max_model_len,
                    log=Path(tmp) / "log",
                    template=config.chat_template,
                    tool_parser=config.tool_parser,
                    reasoning_parser=config.reasoning_parser,
                    eager=not gpu,  # `vllm serve`'s own default on a GPU: compiled, CUDA graphs
                    extra_args=["--gpu-memory-utilization", str(args.gpu_memory_utilization)] if gpu else [],
                    env={"VLLM_ENABLE_V1_MULTIPROCESSING": "1"} if gpu else None,  # its default
                    ready_timeout_s=900.0,
                )
            )
            from autogen_ext.models.openai import OpenAIChatCompletionClient

            remote = OpenAIChatCompletionClient(
                model="smol",
                base_url=server.base_url,
                api_key="unused",
                temperature=0.0,
                model_info=client.model_info,  # what the in-process client claims
            )
            await warm_up(remote)
            theirs = {"load_s": server.ready_s, "rounds": []}
            # usage of a streamed answer comes only when asked for
            sides.append((remote, theirs, {"stream_options": {"include_usage": True}}))
        turn = 0
        for round_no in range(args.rounds):
            for _, side, _ in sides:
                side["rounds"].append({})
            for key in cells(args):
                order = sides if turn % 2 == 0 else sides[::-1]
                turn += 1
                for side_client, side, stream_extra in order:
                    side["rounds"][-1][key] = await measure(side_client, key, args, round_no, stream_extra)
            print(f"round {round_no + 1}/{args.rounds} done", flush=True)
        if theirs is not None:
            await remote.close()
            theirs["peak_rss"] = peak_rss_of_tree(server.process.pid)
    await client.close()
    ours["peak_rss"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print(table(ours, theirs, args))
    if theirs is not None:
        print(per_round(ours, theirs, args))
    print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    asyncio.run(main())
