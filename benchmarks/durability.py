"""What writing a run's tape costs: the same runs with the tape on and off (`RunOptions.tape`).

    python benchmarks/durability.py [--messages 30] [--rounds 5] [--endpoint-rounds 7]

1. In process, answers at once (a ScriptedClient): the tape's own cost per message, with nothing to hide it.
2. A scripted OpenAI-compatible endpoint answering in 100 ms (tests/fake_openai.py, a process of its own):
   the cost against a live run's wall time. The goal is under 2 %; the exit code is 1 when it is missed.

Runs alternate on and off so that load from elsewhere on the machine falls on both alike. A replay writes
no tape (its cassette already holds everything), so durability costs a replay nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import statistics
import sys
import tempfile
import textwrap
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from autogen_troupe.runtime._logs import quiet_autogen_logs  # noqa: E402
from autogen_troupe.runtime._runner import RunOptions, run_scenario  # noqa: E402
from autogen_troupe.scenario._loader import load_scenario  # noqa: E402
from autogen_troupe.testing import ScriptedClient  # noqa: E402
from benchmarks._endpoint import start_scripted_endpoint  # noqa: E402

GOAL = 0.02
ANSWER = "A plan step with some detail about trains, hotels and food in the old town. " * 4


def _scenario(folder: Path, messages: int) -> Path:
    path = folder / "pair.yaml"
    path.write_text(
        textwrap.dedent(
            f"""\
            name: pair
            task: Plan a week in Portugal, one step at a time.
            team:
              kind: round_robin
              agents:
                - {{name: planner, system_message: Plan the next step.}}
                - {{name: critic, system_message: Improve the last step.}}
              termination: {{max_messages: {messages}}}
            limits: {{max_messages: {messages + 5}, timeout_s: 600}}
            """
        ),
        encoding="utf-8",
    )
    return path


async def _one(path: Path, out: Path, *, tape: bool, clients: Any = None, overrides: Any = None) -> float:
    options = RunOptions(out_dir=out, tape=tape, overrides=overrides, env=dict(os.environ))
    scenario = load_scenario(path)
    gc.collect()
    t0 = time.perf_counter()
    result = await run_scenario(scenario, options=options, clients=clients)
    took = time.perf_counter() - t0
    assert result.ok, result.stop_reason
    return took


async def in_process(path: Path, out: Path, rounds: int, messages: int) -> dict[str, list[float]]:
    times: dict[str, list[float]] = {"on": [], "off": []}
    await _one(path, out, tape=True, clients=ScriptedClient([ANSWER] * messages))  # warm-up
    for _ in range(rounds):
        for mode in ("on", "off"):
            clients = ScriptedClient([ANSWER] * messages)
            times[mode].append(await _one(path, out, tape=mode == "on", clients=clients))
    return times


async def on_endpoint(path: Path, out: Path, rounds: int, base_url: str) -> dict[str, list[float]]:
    from autogen_troupe.models._endpoints import Overrides

    overrides = Overrides(base_url=base_url, model="fake-model")
    times: dict[str, list[float]] = {"on": [], "off": []}
    await _one(path, out, tape=True, overrides=overrides)  # warm-up
    for _ in range(rounds):
        for mode in ("on", "off"):
            times[mode].append(await _one(path, out, tape=mode == "on", overrides=overrides))
    return times


def _sizes(out: Path) -> tuple[int, int]:
    """Bytes of the largest transcript (tape on) and the smallest (tape off)."""
    sizes = sorted(p.stat().st_size for p in out.glob("pair-*.jsonl"))
    return sizes[-1], sizes[0]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--messages", type=int, default=30)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--endpoint-rounds", type=int, default=7)
    args = ap.parse_args()
    quiet_autogen_logs()
    with tempfile.TemporaryDirectory(prefix="troupe-durability-") as tmp:
        folder = Path(tmp)
        path = _scenario(folder, args.messages)
        local = asyncio.run(in_process(path, folder / "a", args.rounds, args.messages))
        on, off = statistics.median(local["on"]), statistics.median(local["off"])
        per_msg = (on - off) / args.messages * 1000
        big, small = _sizes(folder / "a")
        print(f"in process, instant answers, {args.messages} messages, median of {args.rounds}:")
        print(f"  tape on {on:.3f} s, off {off:.3f} s: {per_msg:+.2f} ms a message ({(on - off) / off:+.1%})")
        print(f"  transcript {big / 1024:.0f} KiB with the tape, {small / 1024:.0f} KiB without")
        script = {"default": {"text": ANSWER, "delay_s": 0.1}}
        proc, base_url = start_scripted_endpoint(folder, script)
        try:
            remote = asyncio.run(on_endpoint(path, folder / "b", args.endpoint_rounds, base_url))
        finally:
            proc.terminate()
            proc.wait(10)
        on, off = statistics.median(remote["on"]), statistics.median(remote["off"])
        share = (on - off) / off
        print(f"scripted endpoint, 100 ms answers, median of {args.endpoint_rounds}:")
        print(f"  tape on {on:.3f} s, off {off:.3f} s: {share:+.2%} of the wall time (goal < {GOAL:.0%})")
        print("replay: no tape is written (the cassette holds it all): no cost")
    sys.exit(0 if share < GOAL else 1)


if __name__ == "__main__":
    main()
