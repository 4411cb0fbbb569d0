"""How well the embedded default model (SmolLM2-135M-Instruct) runs the bundled scenarios, live.

    python benchmarks/default_quality.py [--rounds 1] [--only travel_planning] [--out DIR]

Each run is a real `troupe run NAME --json` in a fresh process (engine load included, the model already
prepared), the way a new user runs it. For each run it prints the exit code, why it stopped, wall time and
tokens; for each message, the distinct-4-gram ratio (distinct word 4-grams / all 4-grams: 1.0 means no
phrase repeats) and the longest repeated span (words that occur twice or more in one message). The
targets (issue 10): `troupe run travel_planning` exits 0 every time in under 4 minutes, and no assistant
message has a distinct-4-gram ratio under 0.6. The exit code is 1 when a target is missed.
"""

from __future__ import annotations

import argparse
import itertools
import json
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TASKS = (  # travel tasks beyond the bundled scenarios' own, run on travel_planning
    "Plan 2 days in Kyoto.",
    "A weekend in Lisbon on a budget.",
    "Plan a 4 day trip to Peru.",
    "What should I see in one day in Rome?",
)
SCENARIOS = ("travel_planning", "time_agent", "trip_desk", "travel_planning_tools")
MIN_DISTINCT_4 = 0.6
MAX_WALL_S = 240.0

_WORD = re.compile(r"\w+|[^\w\s]")


def words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def distinct_4(text: str) -> float:
    """Distinct word 4-grams over all of them (1.0 for a text too short to have any)."""
    w = words(text)
    grams = [tuple(w[i : i + 4]) for i in range(len(w) - 3)]
    return len(set(grams)) / len(grams) if grams else 1.0


def longest_repeat(text: str) -> int:
    """The longest run of words that occurs at least twice (without overlapping) in `text`."""
    w = words(text)
    order = sorted(range(len(w)), key=lambda i: w[i:])
    best = 0
    for a, b in itertools.pairwise(order):
        k = 0
        while a + k < len(w) and b + k < len(w) and w[a + k] == w[b + k] and k < abs(a - b):
            k += 1
        best = max(best, k)
    return best


def run(name: str, task: str | None, out: Path) -> dict:
    cmd = ["troupe", "run", name, "--json", "--out", str(out)]
    if task:
        cmd += ["--task", task]
    started = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - started
    try:
        result = json.loads(proc.stdout)
    except json.JSONDecodeError:
        result = {"stop_reason": proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else "?"}
    return {"name": name, "task": task, "code": proc.returncode, "wall": wall, "result": result}


def report(r: dict) -> bool:
    res = r["result"]
    usage = res.get("usage", {})
    tokens = usage.get("prompt_tokens", 0) + usage.get("completion_tokens", 0)
    label = r["name"] + (f" ({r['task']})" if r["task"] else "")
    stop = " ".join(str(res.get("stop_reason", "")).split())[:70]
    print(f"{label}\n  exit {r['code']} · {r['wall']:.0f} s · {tokens} tokens · {stop}")
    ok = r["code"] == 0
    for e in res.get("transcript", []):
        if e.get("kind") != "text" or e.get("source") == "user":
            continue
        d4, rep = distinct_4(e["content"]), longest_repeat(e["content"])
        flag = "  <-- under 0.6" if d4 < MIN_DISTINCT_4 else ""
        ok = ok and d4 >= MIN_DISTINCT_4
        n = len(words(e["content"]))
        print(f"    {e['source']:22} {n:4} words  distinct-4 {d4:.2f}  longest repeat {rep:3}{flag}")
    return ok


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=1, help="runs of travel_planning's own task")
    parser.add_argument("--only", choices=SCENARIOS, help="run only this scenario, with its own task")
    parser.add_argument("--out", type=Path, help="where transcripts go (default: a temporary folder)")
    args = parser.parse_args()
    out = args.out or Path(tempfile.mkdtemp(prefix="troupe-quality-"))
    plan: list[tuple[str, str | None]] = [("travel_planning", None)] * args.rounds
    if args.only:
        plan = [(args.only, None)] * args.rounds
    else:
        plan += [(s, None) for s in SCENARIOS[1:]] + [("travel_planning", t) for t in TASKS]
    ok, travel_walls = True, []
    for name, task in plan:
        r = run(name, task, out)
        ok = report(r) and ok
        if name == "travel_planning" and task is None:
            travel_walls.append(r["wall"])
            ok = ok and r["code"] == 0 and r["wall"] < MAX_WALL_S
    if travel_walls:
        low, high = min(travel_walls), max(travel_walls)
        print(f"\ntravel_planning: {len(travel_walls)} run(s), wall {low:.0f}-{high:.0f} s")
    print(f"targets {'met' if ok else 'MISSED'} (transcripts in {out})")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
