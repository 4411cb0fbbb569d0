"""Replay every bundled scenario that has a cassette, 100 rounds, and print scenarios per second.

    python benchmarks/replay.py [--rounds 100] [--scenarios DIR]

Each replay is what `troupe test` does for one scenario: read the cassette, build the AutoGen team, run
it with every model and tool call answered from the cassette, and check the `expect` block. The target
is 100 replays in under 10 seconds on a 2-core machine; the exit code is 1 when it is missed.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from autogen_troupe.runtime._logs import quiet_autogen_logs  # noqa: E402
from autogen_troupe.runtime._tape_runs import replay_scenario  # noqa: E402
from autogen_troupe.scenario._loader import load_scenario  # noqa: E402
from autogen_troupe.tapes._cassette import cassette_path_for  # noqa: E402
from autogen_troupe.testing._expect import check_expectations  # noqa: E402
from autogen_troupe.testing._suite import discover  # noqa: E402

TARGET_S = 10.0  # for 100 replays


async def bench(files: list[Path], rounds: int) -> dict[str, list[float]]:
    times: dict[str, list[float]] = {f.stem: [] for f in files}
    for f in files:  # warm-up: imports and first-use caches are not what we measure
        await replay_scenario(load_scenario(f), cassette_path_for(f))
    gc.collect()
    for _ in range(rounds):
        for f in files:
            t0 = time.perf_counter()
            scenario = load_scenario(f)
            outcome = await replay_scenario(scenario, cassette_path_for(f))
            report = check_expectations(outcome.result, scenario.expect)
            times[f.stem].append(time.perf_counter() - t0)
            if not (report.passed and outcome.complete):
                raise SystemExit(f"{f.stem}: the replay does not pass:\n{report}\n{outcome.unplayed}")
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=100, help="Replays of each scenario (default 100).")
    parser.add_argument("--scenarios", type=Path, default=ROOT / "scenarios", help="Folder of scenarios.")
    args = parser.parse_args()
    quiet_autogen_logs()
    files = [f for f in discover([args.scenarios]) if cassette_path_for(f).exists()]
    if not files:
        raise SystemExit(f"no scenario with an expect block and a cassette in {args.scenarios}")
    started = time.perf_counter()
    times = asyncio.run(bench(files, args.rounds))
    wall = time.perf_counter() - started
    n = sum(len(v) for v in times.values())
    print(f"{'scenario':<28}{'replays':>8}{'mean ms':>10}{'p95 ms':>10}")
    for name, ts in times.items():
        p95 = sorted(ts)[max(0, int(len(ts) * 0.95) - 1)]
        print(f"{name:<28}{len(ts):>8}{statistics.mean(ts) * 1000:>10.1f}{p95 * 1000:>10.1f}")
    per = sum(sum(v) for v in times.values()) / n
    print(f"\n{n} replays of {len(files)} scenarios in {wall:.2f} s: {n / wall:.1f} scenarios per second")
    hundred = per * 100
    verdict = "met" if hundred < TARGET_S else "MISSED"
    print(f"100 replays take {hundred:.2f} s at the mean rate (target: under {TARGET_S:g} s): {verdict}")
    sys.exit(0 if hundred < TARGET_S else 1)


if __name__ == "__main__":
    main()
