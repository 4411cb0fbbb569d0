"""`troupe run travel_planning` against the AutoGen tutorial's own travel script, on one scripted endpoint.

    python benchmarks/startup.py [--rounds 10] [--target 1.05]

Starts the fake OpenAI-compatible endpoint (`tests/fake_openai.py`, as a process) scripted to answer each
of the four travel agents by its system message, the summary agent with TERMINATE. Then, for N rounds,
it times as fresh processes, taking turns on which goes first:

  (a) the tutorial's travel script (four `AssistantAgent`s, `RoundRobinGroupChat`,
      `TextMentionTermination("TERMINATE")`, `OpenAIChatCompletionClient` with `model_info`, `Console`),
      pointed at the endpoint;
  (b) `troupe run travel_planning --base-url URL --model M --quiet`.

It prints wall and CPU seconds (median, min), the ratio (b)/(a), and a `-X importtime` breakdown of what
(b) imports, marking the packages (a) does not import. The process's whole life is timed: interpreter
start, imports, four model calls, exit. Each run must end on TERMINATE, or the benchmark stops. The goal
is (b) within `--target` times (a)'s median wall time; the exit code is 1 when it is missed. CPU time is
printed too because on a busy machine it moves much less than wall time.

`-X importtime` times only imports made by `import` statements: a module loaded with
`importlib.import_module` (our lazy room exports, the provider registry) is missing from its list, and the
modules it imports appear as if imported from the top. Their costs are still counted, under those names.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from _endpoint import start_scripted_endpoint

ROOT = Path(__file__).resolve().parents[1]
MODEL = "bench-travel-model"
TASK = "Plan a 3 day trip to Nepal."

# The tutorial's script (AIOS guide, "2.3 - Autogen", autogen_travel_planning.py), with the endpoint and
# model id taken from the command line instead of constants; everything else as written there.
TUTORIAL = """
import sys

from autogen_agentchat.agents import AssistantAgent
from autogen_agentchat.conditions import TextMentionTermination
from autogen_agentchat.teams import RoundRobinGroupChat
from autogen_agentchat.ui import Console
from autogen_ext.models.openai import OpenAIChatCompletionClient
from autogen_core.models import ModelFamily

BASE_URL, MODEL = sys.argv[1], sys.argv[2]

model_client = OpenAIChatCompletionClient(
    model=MODEL,
    base_url=BASE_URL,
    api_key="EMPTY_KEY",
    model_info={
        "vision": False,
        "function_calling": True,
        "json_output": True,
        "family": ModelFamily.LLAMA_3_3_70B,
        "structured_output": True,
    },
)

planner_agent = AssistantAgent(
    "planner_agent",
    model_client=model_client,
    description="A helpful assistant that can plan trips.",
    system_message=("You are a helpful assistant that can suggest a travel plan "
                    "for a user based on their request."),
)

local_agent = AssistantAgent(
    "local_agent",
    model_client=model_client,
    description="A local assistant that can suggest local activities or places to visit.",
    system_message=("You are a helpful assistant that can suggest authentic and "
                    "interesting local activities or places to visit for a user "
                    "and can utilize any context information provided."),
)

language_agent = AssistantAgent(
    "language_agent",
    model_client=model_client,
    description="A helpful assistant that can provide language tips for a given destination.",
    system_message=("You are a helpful assistant that can review travel plans, "
                    "providing feedback on important/critical tips about how best to address "
                    "language or communication challenges for the given destination. "
                    "If the plan already includes language tips, "
                    "you can mention that the plan is satisfactory, with rationale."),
)

travel_summary_agent = AssistantAgent(
    "travel_summary_agent",
    model_client=model_client,
    description="A helpful assistant that can summarize the travel plan.",
    system_message=("You are a helpful assistant that can take in all of the suggestions "
                    "and advice from the other agents and provide a detailed final travel plan. "
                    "You must ensure that the final plan is integrated and complete. "
                    "YOUR FINAL RESPONSE MUST BE THE COMPLETE PLAN. "
                    "When the plan is complete and all perspectives are integrated, "
                    "you can respond with TERMINATE."),
)

termination = TextMentionTermination("TERMINATE")
group_chat = RoundRobinGroupChat(
    [planner_agent, local_agent, language_agent, travel_summary_agent],
    termination_condition=termination,
)

async def main():
    await Console(group_chat.run_stream(task="Plan a 3 day trip to Nepal."))
    await model_client.close()


if __name__ == "__main__":
    import asyncio

    asyncio.run(main())
"""

# One answer per agent, told apart by a phrase of its system message (the same in the tutorial and in
# scenarios/travel_planning.yaml).
ANSWERS = {
    "suggest a travel plan": "Day 1: Kathmandu, Durbar Square. Day 2: Pokhara, Phewa Lake. Day 3: Chitwan.",
    "local activities": "Eat dal bhat at a local bhojanalaya and watch the evening puja at Boudhanath.",
    "language or communication": "Learn 'Namaste' and 'Dhanyabad'. The plan is satisfactory, with rationale.",
    "take in all of the suggestions": "Final plan: Kathmandu, Pokhara and Chitwan with local tips. TERMINATE",
}


def start_endpoint(folder: Path, runs: int) -> tuple[subprocess.Popen[str], str]:
    """The fake endpoint as a process, with enough answers for `runs` runs of each side; returns its URL."""
    script = {"by_system": {k: [v] * runs for k, v in ANSWERS.items()}, "models": [MODEL]}
    return start_scripted_endpoint(folder, script)


def commands(folder: Path, url: str) -> dict[str, list[str]]:
    tutorial = folder / "autogen_travel_planning.py"
    tutorial.write_text(TUTORIAL, encoding="utf-8")
    troupe = Path(sys.executable).parent / "troupe"
    out = folder / "runs"
    return {
        "tutorial": [sys.executable, str(tutorial), url, MODEL],
        "troupe": [
            str(troupe),
            "run",
            "travel_planning",
            "--base-url",
            url,
            "--model",
            MODEL,
            "--quiet",
            "--out",
            str(out),
        ],
    }


def timed(cmd: Sequence[str], folder: Path, env: dict[str, str]) -> tuple[float, float]:
    """Wall and CPU (user + system) seconds of one fresh process, which must end on TERMINATE."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=folder, env=env, capture_output=True, text=True, timeout=300)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0 or "TERMINATE" not in proc.stdout:
        raise SystemExit(
            f"{cmd[0]} failed ({proc.returncode}):\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}"
        )
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def import_times(
    cmd: Sequence[str], folder: Path, env: dict[str, str], runs: int = 3
) -> list[tuple[int, int, int, str]]:
    """(self µs, cumulative µs, depth, module) for every import of a run under `-X importtime`, each the
    least of `runs` runs (one run on a busy machine is noisy)."""
    script = cmd[1:] if cmd[0] == sys.executable else cmd  # the console script is a Python file too
    best: dict[str, tuple[int, int, int, str]] = {}
    order: list[str] = []
    for _ in range(runs):
        proc = subprocess.run(
            [sys.executable, "-X", "importtime", *script], cwd=folder, env=env, capture_output=True, text=True
        )
        for line in proc.stderr.splitlines():
            if not line.startswith("import time:") or "self [us]" in line:
                continue
            own, cumulative, name = line[len("import time:") :].split("|", 2)
            depth, module = (len(name) - len(name.lstrip())) // 2, name.strip()
            if module not in best:
                order.append(module)
            old = best.get(module, (1 << 62, 1 << 62, depth, module))
            best[module] = (min(old[0], int(own)), min(old[1], int(cumulative)), depth, module)
    return [best[m] for m in order]


def breakdown(troupe: list[tuple[int, int, int, str]], tutorial: list[tuple[int, int, int, str]]) -> None:
    """Top import costs of (b) by top-level package (self time summed), marking what (a) never imports."""
    theirs = {r[3] for r in tutorial}
    by_package: dict[str, list[int]] = {}
    for own, _, _, name in troupe:
        top = name.split(".")[0]
        cost = by_package.setdefault(top, [0, 0])
        cost[0] += own
        if name not in theirs:
            cost[1] += own
    total = sum(r[0] for r in troupe) / 1e3
    extra = sum(c[1] for c in by_package.values()) / 1e3
    print(
        f"\n-X importtime of (b): {total:.0f} ms in {len(troupe)} modules; (a): "
        f"{sum(r[0] for r in tutorial) / 1e3:.0f} ms in {len(tutorial)} modules"
    )
    print(f"modules (b) imports and (a) does not: {extra:.0f} ms\n")
    print(f"{'package':<28}{'self ms':>9}{'not in (a) ms':>15}")
    for name, (own, only) in sorted(by_package.items(), key=lambda kv: -kv[1][0])[:20]:
        print(f"{name:<28}{own / 1e3:>9.1f}{only / 1e3:>15.1f}")
    print(
        "\nwhere (b) starts importing what (a) never imports (cumulative ms, with what that module imports):"
    )
    for cumulative, name, importer in entry_points(troupe, theirs)[:12]:
        print(f"  {cumulative / 1e3:8.1f}  {name:<32} imported by {importer}")


def entry_points(rows: list[tuple[int, int, int, str]], theirs: set[str]) -> list[tuple[int, str, str]]:
    """(cumulative µs, module, importer) for each third-party module (b) imports and (a) does not, whose
    importer is ours or also imported by (a): the first step into what only (b) pays for."""

    def ours(module: str) -> bool:
        return module.split(".")[0] == "autogen_troupe"

    found = []
    for i, (_, cumulative, depth, name) in enumerate(rows):
        if name in theirs or ours(name):
            continue
        # importtime prints a module after everything it imports: its importer is the next one less deep
        importer = next((r[3] for r in rows[i + 1 :] if r[2] < depth), "(a call, not an import)")
        if importer in theirs or ours(importer) or importer.startswith("("):
            found.append((cumulative, name, importer))
    return sorted(found, reverse=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=10, help="Runs of each side (default 10).")
    parser.add_argument("--target", type=float, default=1.05, help="Allowed wall-time ratio (b)/(a).")
    args = parser.parse_args()
    # Only the flags choose (no TROUPE_*). PYTHONDONTWRITEBYTECODE would keep the warm-up from writing our
    # editable package's bytecode (site-packages got theirs from pip), so (b) would compile some 50 modules
    # from source each run: a cost no installed user pays.
    env = {
        k: v for k, v in os.environ.items() if not k.startswith("TROUPE_") and k != "PYTHONDONTWRITEBYTECODE"
    }
    load = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="troupe-startup-") as tmp:
        folder = Path(tmp)
        endpoint, url = start_endpoint(folder, runs=2 * (args.rounds + 2))
        try:
            cmds = commands(folder, url)
            for cmd in cmds.values():  # warm-up: compiled bytecode and the disk cache, for both sides
                timed(cmd, folder, env)
            wall: dict[str, list[float]] = {k: [] for k in cmds}
            cpu: dict[str, list[float]] = {k: [] for k in cmds}
            for i in range(args.rounds):
                order = list(cmds) if i % 2 == 0 else list(reversed(cmds))
                for name in order:
                    w, c = timed(cmds[name], folder, env)
                    wall[name].append(w)
                    cpu[name].append(c)
                print(
                    f"  round {i + 1}: tutorial {wall['tutorial'][-1]:.2f} s, "
                    f"troupe {wall['troupe'][-1]:.2f} s",
                    file=sys.stderr,
                )
            imports = {k: import_times(v, folder, env) for k, v in cmds.items()}
        finally:
            endpoint.terminate()
            endpoint.wait(timeout=10)
    ratio = statistics.median(wall["troupe"]) / statistics.median(wall["tutorial"])
    print(
        f"\n{args.rounds} rounds, each side a fresh process, alternating (load average before: {load:.1f})\n"
    )
    print(f"{'':<26}{'wall median':>12}{'wall min':>10}{'CPU median':>12}{'CPU min':>10}")
    for label, key in (("(a) AutoGen tutorial", "tutorial"), ("(b) troupe run", "troupe")):
        w, c = wall[key], cpu[key]
        print(
            f"{label:<26}{statistics.median(w):>12.2f}{min(w):>10.2f}"
            f"{statistics.median(c):>12.2f}{min(c):>10.2f}"
        )
    pairs = statistics.median(b / a for a, b in zip(wall["tutorial"], wall["troupe"], strict=True))
    print(
        f"{'ratio (b)/(a)':<26}{ratio:>12.2f}{min(wall['troupe']) / min(wall['tutorial']):>10.2f}"
        f"{statistics.median(cpu['troupe']) / statistics.median(cpu['tutorial']):>12.2f}"
        f"{min(cpu['troupe']) / min(cpu['tutorial']):>10.2f}"
    )
    print(f"median of the {args.rounds} per-round wall ratios: {pairs:.2f}")
    breakdown(imports["troupe"], imports["tutorial"])
    verdict = "met" if ratio <= args.target else "MISSED"
    print(f"\n(b) takes {ratio:.2f}x the wall time of (a) (target: at most {args.target:.2f}x): {verdict}")
    sys.exit(0 if ratio <= args.target else 1)


if __name__ == "__main__":
    main()
