"""`troupe serve` against a scripted endpoint: start-up, first event, events per second, 20 concurrent
streamed runs, memory per idle run, and the latency the server adds per event over a direct run.

    python benchmarks/serve.py [--rounds 5] [--concurrent 20] [--messages 60]

Everything is a process of its own on 127.0.0.1: the fake OpenAI-compatible endpoint
(`tests/fake_openai.py`, every answer a 12-word text, streamed), `troupe serve` (from this checkout's
interpreter), and this script as the client (the official `openai` SDK and httpx2). The scenarios are
written to a temporary folder:

- `pair`: two agents taking turns until `--messages` messages (no TERMINATE), each answer streamed;
- `asker`: an agent, then a user agent (`kind: user`) that waits for the person: an idle run.

What is measured:

1. start-up: `troupe serve` from process start to its first answer on /api/health (median of --rounds);
2. time to first streamed event: a streamed chat completion, from the request to the first chunk of an
   agent's text (median; the first run of a fresh server, which imports AutoGen, is shown apart);
3. events per second through the runs API's SSE (entries and streamed chunks) for one `pair` run;
4. `--concurrent` streamed chat completions at once (`--max-runs` high enough): all must finish, with
   distinct run ids, transcripts and tasks; wall time and the slowest run;
5. memory per idle run: the server's RSS before and after `--concurrent` `asker` runs wait on their
   question, divided by their number;
6. added latency per event: a `pair` run through the server (POST to the `done` event, read over SSE)
   against `run_scenario` in a process of its own with the same scenario and endpoint, both warm, taking
   turns; (served - direct) / events, median over --rounds.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx2
import psutil
from _endpoint import start_scripted_endpoint

ROOT = Path(__file__).resolve().parents[1]
REPLY = "Day one: the old town. Day two: the lakes. Day three: the hills at dawn."

PAIR = """
name: pair
task: Plan a trip.
team:
  kind: round_robin
  agents:
    - {{name: planner, system_message: Plan.}}
    - {{name: critic, system_message: Criticise.}}
  termination: {{max_messages: {messages}}}
  model_context: {{kind: buffered, last: 4}}
"""
ASKER = """
name: asker
task: Plan a trip.
team:
  kind: round_robin
  agents:
    - {name: planner, system_message: Plan.}
    - {name: traveller, kind: user, answer_timeout_s: 600}
  termination: {max_messages: 4}
"""
DIRECT = """
import asyncio, json, sys, time
from autogen_troupe import RunOptions, load_scenario, run_scenario
from autogen_troupe.models._endpoints import Overrides
path, url, rounds, out = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
options = RunOptions(overrides=Overrides(base_url=url, model="m"), out_dir=out)  # a transcript, as served
sc = load_scenario(path)
async def one():
    events = 0
    def on_event(item):
        nonlocal events
        events += 1
    start = time.perf_counter()
    await run_scenario(sc, options=options, on_event=on_event)
    return time.perf_counter() - start, events
asyncio.run(one())  # warm: imports, first client
for _ in range(rounds):
    sys.stdin.readline()  # one round when told: the served run never overlaps it
    print(json.dumps(asyncio.run(one())), flush=True)
"""


def start_fake(tmp: Path) -> tuple[subprocess.Popen[str], str]:
    return start_scripted_endpoint(tmp, {"default": REPLY})


def start_server(tmp: Path, url: str, max_runs: int) -> tuple[subprocess.Popen[str], str, float]:
    """`troupe serve` on a free port; its URL and the seconds until /api/health answered."""
    started = time.perf_counter()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "autogen_troupe.cli",
            "serve",
            str(tmp / "scenarios"),
            "--port",
            "0",
            "--base-url",
            url,
            "--model",
            "m",
            "--max-runs",
            str(max_runs),
            "--out",
            str(tmp / "runs"),
        ],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "TROUPE_SERVE_TOKEN": ""},
    )
    line = proc.stdout.readline() if proc.stdout else ""
    if not line.startswith("troupe serve: "):
        raise SystemExit(f"troupe serve did not start: {line!r}")
    base = line.split()[2]
    while httpx2.get(base + "api/health").status_code != 200:
        time.sleep(0.005)
    return proc, base, time.perf_counter() - started


def stop(proc: subprocess.Popen[str]) -> None:
    proc.terminate()
    proc.wait(30)


def first_event_s(base: str) -> float:
    import openai

    client = openai.OpenAI(base_url=base + "v1", api_key="x", max_retries=0)
    start = time.perf_counter()
    stream = client.chat.completions.create(
        model="pair", messages=[{"role": "user", "content": "Go."}], stream=True
    )
    took = None
    for chunk in stream:
        ext = (chunk.model_extra or {}).get("troupe") or {}
        if took is None and ext.get("event") in ("chunk", "text"):
            took = time.perf_counter() - start
    if took is None:
        raise SystemExit("no agent text was streamed")
    return took


def served_run(base: str, api: httpx2.Client) -> tuple[float, int, int]:
    """One `pair` run through the runs API: seconds from POST to `done`, entries, chunks."""
    start = time.perf_counter()
    run = api.post(base + "api/runs", json={"scenario": "pair"}).json()
    entries = chunks = 0
    with api.stream("GET", f"{base}api/runs/{run['id']}/events") as r:
        event = ""
        for line in r.iter_lines():
            if line.startswith("event:"):
                event = line[6:].strip()
                entries += event == "entry"
                chunks += event == "chunk"
                if event == "done":
                    break
    return time.perf_counter() - start, entries, chunks


def events_per_second(base: str, api: httpx2.Client) -> tuple[float, int, int]:
    seconds, entries, chunks = served_run(base, api)
    return (entries + chunks) / seconds, entries, chunks


async def concurrent(base: str, n: int, out: Path) -> tuple[float, float, set[str]]:
    import openai

    client = openai.AsyncOpenAI(base_url=base + "v1", api_key="x", max_retries=0, timeout=300)

    async def one(i: int) -> tuple[str, float, str]:
        start = time.perf_counter()
        stream = await client.chat.completions.create(
            model="pair", messages=[{"role": "user", "content": f"Trip number {i}."}], stream=True
        )
        run_id, finish = "", None
        async for chunk in stream:
            ext = (chunk.model_extra or {}).get("troupe") or {}
            run_id = ext.get("run_id", run_id)
            if chunk.choices and chunk.choices[0].finish_reason:
                finish = chunk.choices[0].finish_reason
        if finish is None:
            raise SystemExit(f"run {i} did not finish")
        return run_id, time.perf_counter() - start, f"Trip number {i}."

    start = time.perf_counter()
    done = await asyncio.gather(*(one(i) for i in range(n)))
    wall = time.perf_counter() - start
    await client.close()
    ids = {d[0] for d in done}
    tasks = {}
    for path in out.glob("pair-*.jsonl"):
        records = [json.loads(x) for x in path.read_text().splitlines()]
        if records[0].get("run_id") in ids:
            tasks[records[0]["run_id"]] = next(r["content"] for r in records if r["record"] == "entry")
    if len(ids) != n or len(tasks) != n or sorted(tasks.values()) != sorted(d[2] for d in done):
        raise SystemExit(f"{n} runs: {len(ids)} run ids, {len(tasks)} transcripts with their own task")
    return wall, max(d[1] for d in done), ids


def idle_memory(base: str, server: subprocess.Popen[str], api: httpx2.Client, n: int) -> float:
    proc = psutil.Process(server.pid)
    served_run(base, api)  # warm
    before = proc.memory_info().rss
    ids = [api.post(base + "api/runs", json={"scenario": "asker"}).json()["id"] for _ in range(n)]
    deadline = time.monotonic() + 120
    while any(api.get(f"{base}api/runs/{i}").json()["status"] != "waiting" for i in ids):
        if time.monotonic() > deadline:
            raise SystemExit("the asker runs did not all reach their question")
        time.sleep(0.1)
    after = proc.memory_info().rss
    for i in ids:
        api.post(f"{base}api/runs/{i}/cancel")
    return (after - before) / n


def added_latency(
    base: str, api: httpx2.Client, tmp: Path, url: str, rounds: int
) -> list[tuple[float, float, int]]:
    """(served seconds, direct seconds, events) per round, taking turns on who goes first."""
    direct = subprocess.Popen(
        [
            sys.executable,
            "-c",
            DIRECT,
            str(tmp / "scenarios" / "pair.yaml"),
            url,
            str(rounds),
            str(tmp / "direct"),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert direct.stdin is not None and direct.stdout is not None

    def direct_run() -> tuple[float, int]:
        direct.stdin.write("go\n")  # type: ignore[union-attr]
        direct.stdin.flush()  # type: ignore[union-attr]
        seconds, events = json.loads(direct.stdout.readline())  # type: ignore[union-attr]
        return seconds, events

    served_run(base, api)  # warm
    pairs = []
    for r in range(rounds):
        if r % 2:
            served = served_run(base, api)[0]
            d_seconds, d_events = direct_run()
        else:
            d_seconds, d_events = direct_run()
            served = served_run(base, api)[0]
        pairs.append((served, d_seconds, d_events))
    direct.stdin.close()
    direct.wait(60)
    return pairs


def measure(base: str, server: subprocess.Popen[str], tmp: Path, url: str, args: argparse.Namespace) -> None:
    """Items 2 to 6 against one warm server."""
    n, rounds = args.concurrent, args.rounds
    with httpx2.Client(timeout=300) as api:
        cold = first_event_s(base)
        warm = statistics.median(first_event_s(base) for _ in range(rounds))
        print(
            f"time to first streamed event: {warm * 1000:.0f} ms median warm ({rounds} runs), "
            f"{cold * 1000:.0f} ms for a fresh server's first run"
        )
        rate, entries, chunks = events_per_second(base, api)
        print(f"events per second (runs API SSE, one run): {rate:.0f} ({entries} entries, {chunks} chunks)")
        wall, slowest, _ = asyncio.run(concurrent(base, n, tmp / "runs"))
        print(
            f"{n} concurrent streamed runs of {args.messages} messages: all done, distinct transcripts; "
            f"{wall:.1f} s wall, slowest run {slowest:.1f} s"
        )
        per_idle = idle_memory(base, server, api, n)
        print(f"memory per idle run (waiting on a user agent): {per_idle / 1024:.0f} KiB ({n} runs)")
        pairs = added_latency(base, api, tmp, url, rounds)
        served = statistics.median(p[0] for p in pairs)
        direct = statistics.median(p[1] for p in pairs)
        added = statistics.median((s - d) / e for s, d, e in pairs)
        print(
            f"run of {args.messages} messages ({pairs[0][2]} events): served {served:.2f} s, direct "
            f"run_scenario {direct:.2f} s; added latency per event: median {added * 1000:.2f} ms "
            f"({rounds} rounds)"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--concurrent", type=int, default=20)
    parser.add_argument("--messages", type=int, default=60)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="troupe-bench-serve-") as t:
        tmp = Path(t)
        (tmp / "scenarios").mkdir()
        (tmp / "scenarios" / "pair.yaml").write_text(PAIR.format(messages=args.messages))
        (tmp / "scenarios" / "asker.yaml").write_text(ASKER)
        fake, url = start_fake(tmp)
        try:
            print(f"load average before: {os.getloadavg()[0]:.2f}; {psutil.cpu_count()} cores")
            startups = []
            for _ in range(args.rounds):
                server, base, took = start_server(tmp, url, args.concurrent + 4)
                startups.append(took)
                stop(server)
            print(
                f"start-up to first answer: median {statistics.median(startups):.2f} s, "
                f"min {min(startups):.2f} s ({args.rounds} starts)"
            )
            server, base, _ = start_server(tmp, url, args.concurrent + 4)
            try:
                measure(base, server, tmp, url, args)
            finally:
                stop(server)
        finally:
            stop(fake)
        print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
