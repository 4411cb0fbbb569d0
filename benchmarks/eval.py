"""What `troupe eval` costs and gains: tasks per second and the framework's overhead per task against a
bare `run_scenario` loop, on a scripted endpoint; and tokens per second on the in-process engine at
concurrency 1 and 8.

    python benchmarks/eval.py [--tasks 200] [--engine-tasks 16] [--skip-ray] [--skip-engine]

Part 1 starts the scripted endpoint (tests/fake_openai.py) as a process of its own and runs a one-agent
scenario (one model call per run) over N tasks: a bare loop of `run_scenario` (each writing its
transcript), then `evaluate` at concurrency 1, 8 and 32 in this process, and on a local Ray instance
with 2 workers. The runs phase is timed from the first run handed out to the last record; the report
(summary and HTML with plots) and closing the workers are timed apart ("end s"), being once per eval.
Overhead per task is (eval at concurrency 1 - bare loop) / N. Target: under 20 ms.

Part 2 runs the same kind of scenario on the embedded model in-process (SmolLM2-135M, greedy, 64 tokens
per answer) over 16 tasks at concurrency 1 and 8; the engine is loaded before and held, so its load is
not timed. Target: concurrency 8 gives at least 5x the completion tokens per second of concurrency 1.
Run it by hand on a quiet machine; never in tests.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path
from typing import Any

from _endpoint import start_scripted_endpoint

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from autogen_troupe.eval import EvalTask, evaluate  # noqa: E402
from autogen_troupe.runtime import RunOptions, run_scenario  # noqa: E402
from autogen_troupe.runtime._logs import quiet_autogen_logs  # noqa: E402
from autogen_troupe.scenario import load_scenario  # noqa: E402

OVERHEAD_TARGET_MS = 20.0
SPEEDUP_TARGET = 5.0
CITIES = ["Kyoto", "Lima", "Oslo", "Quito", "Hanoi", "Accra", "Cusco", "Porto"]


def scenario_file(folder: Path, model: str, max_messages: int = 2) -> Path:
    path = folder / "bench.yaml"
    path.write_text(
        textwrap.dedent(f"""\
            name: bench
            task: Describe {{{{city}}}} in one short paragraph.
            model: {model}
            team:
              kind: single
              agents:
                - name: guide
                  system_message: You describe cities briefly.
              termination: {{any: [{{text_mention: TERMINATE}}, {{max_messages: {max_messages}}}]}}
            expect:
              stop_reason: {{regex: 'TERMINATE|Maximum number of messages'}}
            """),
        encoding="utf-8",
    )
    return path


def tasks(n: int) -> list[EvalTask]:
    return [
        EvalTask(id=f"t{i}", task=f"Describe {CITIES[i % len(CITIES)]} #{i} in one short paragraph.")
        for i in range(n)
    ]


def start_endpoint(folder: Path) -> tuple[subprocess.Popen[str], str]:
    return start_scripted_endpoint(
        folder, {"default": "A lively old city by the water, known for its food. TERMINATE"}
    )


async def bare_loop(sc: Any, todo: list[EvalTask], out: Path) -> float:
    started = time.perf_counter()
    for t in todo:
        result = await run_scenario(sc, task=t.task, options=RunOptions(out_dir=out))
        if not result.ok:
            raise SystemExit(f"a bare run failed: {result.error}")
    return time.perf_counter() - started


async def timed_eval(sc: Any, todo: list[EvalTask], out: Path, **kw: Any) -> dict[str, float]:
    marks: dict[str, float] = {}
    done: list[Any] = []

    def start(meta: Any, total: int, kept: Any) -> None:
        marks["start"] = time.perf_counter()

    def record(r: Any) -> None:
        done.append(r)
        marks["last"] = time.perf_counter()

    t0 = time.perf_counter()
    result = await evaluate(sc, todo, out=out, on_start=start, on_record=record, **kw)
    total = time.perf_counter() - t0
    if result.summary.outcomes.get("error"):
        raise SystemExit(f"runs failed: {result.summary.worst[0].why}")
    runs = marks["last"] - marks["start"]
    tokens = sum(r.completion_tokens for r in done)
    return {"total": total, "runs": runs, "report": total - (marks["last"] - t0), "tokens": tokens}


async def part_one(n: int, skip_ray: bool) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        proc, url = start_endpoint(folder)
        try:
            sc = load_scenario(scenario_file(folder, f'{{base_url: "{url}", model: fake-model}}'))
            todo = tasks(n)
            await bare_loop(sc, todo[:5], folder / "warm")  # imports and first-use caches
            bare = await bare_loop(sc, todo, folder / "bare")
            rows = [("bare run_scenario loop", bare, bare, None)]
            per_bare = bare / n
            for j in (1, 8, 32):
                t = await timed_eval(sc, todo, folder / f"j{j}", concurrency=j)
                rows.append((f"eval -j {j}", t["total"], t["runs"], t["report"]))
                if j == 1:
                    overhead_ms = (t["runs"] / n - per_bare) * 1000
            if not skip_ray:
                t = await timed_eval(sc, todo, folder / "ray", concurrency=8, ray="local", workers=2)
                rows.append(("eval -j 8 --ray (2 workers)", t["total"], t["runs"], t["report"]))
        finally:
            proc.terminate()
            proc.wait(10)
    print(f"\nPart 1: {n} tasks, scripted endpoint (one model call per run)")
    print(f"{'':34}{'total s':>9}{'runs s':>9}{'tasks/s':>9}{'ms/task':>9}{'report s':>10}")
    for name, total, runs, report in rows:
        rep = "" if report is None else f"{report:.2f}"
        print(f"{name:34}{total:9.2f}{runs:9.2f}{n / runs:9.1f}{runs / n * 1000:9.1f}{rep:>10}")
    verdict = "met" if overhead_ms < OVERHEAD_TARGET_MS else "MISSED"
    print(f"overhead per task, eval -j 1 vs the bare loop: {overhead_ms:+.1f} ms (target: under "
          f"{OVERHEAD_TARGET_MS:g} ms): {verdict}")  # fmt: skip


async def part_two(n: int) -> None:
    from autogen_troupe.models import create_model_client, resolve_model

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        sc = load_scenario(scenario_file(folder, "{profile: default, max_tokens: 64, temperature: 0}"))
        held = create_model_client(resolve_model(sc.model))  # the engine stays loaded between evals
        await held.ensure_model()  # type: ignore[attr-defined]
        try:
            await timed_eval(sc, tasks(2), folder / "warm", concurrency=2)
            one = await timed_eval(sc, tasks(n), folder / "j1", concurrency=1)
            eight = await timed_eval(sc, tasks(n), folder / "j8", concurrency=8)
        finally:
            await held.close()
    print(f"\nPart 2: {n} tasks on the in-process engine (SmolLM2-135M, 64 tokens per answer)")
    print(f"{'':14}{'runs s':>9}{'tokens':>9}{'tokens/s':>10}")
    for name, t in (("eval -j 1", one), ("eval -j 8", eight)):
        print(f"{name:14}{t['runs']:9.2f}{t['tokens']:9.0f}{t['tokens'] / t['runs']:10.1f}")
    ratio = (eight["tokens"] / eight["runs"]) / (one["tokens"] / one["runs"])
    verdict = "met" if ratio >= SPEEDUP_TARGET else "MISSED"
    print(f"concurrency 8 / 1, tokens per second: {ratio:.2f}x (target: {SPEEDUP_TARGET:g}x): {verdict}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=200, help="Tasks on the scripted endpoint (200).")
    parser.add_argument("--engine-tasks", type=int, default=16, help="Tasks on the in-process engine (16).")
    parser.add_argument("--skip-ray", action="store_true", help="Leave out the Ray run.")
    parser.add_argument(
        "--skip-engine", action="store_true", help="Leave out part 2 (the in-process engine)."
    )
    args = parser.parse_args()
    quiet_autogen_logs()
    os.environ.setdefault("RAY_DEDUP_LOGS", "0")
    print(f"load average before: {os.getloadavg()[0]:.2f} (1 min)")
    asyncio.run(part_one(args.tasks, args.skip_ray))
    if not args.skip_engine:
        asyncio.run(part_two(args.engine_tasks))


if __name__ == "__main__":
    main()
