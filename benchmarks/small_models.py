"""How the framework's own decisions fare on the embedded default model (SmolLM2-135M-Instruct), with
constrained decoding (models/_capabilities.py), and what the constraints cost.

    python benchmarks/small_models.py [--runs 10] [--only time_agent,trip_desk,judge,itinerary,cost]

One process, one in-process engine for everything (loaded once, not counted). Greedy decoding repeats
itself, so the N runs of a scenario differ by their task (N places), as N users' runs would:

- time_agent: the run made a get_current_time (or convert_time) call whose arguments name a time zone,
  the tool answered without error, and the final answer gives a time of day (HH:MM) the tool gave;
  apart, how many of those asked for a time zone of the country in the task (tzdata's own zone.tab);
- trip_desk: at every turn the selector's model named a valid agent at its first attempt (read from
  AutoGen's own trace log: "Model selected a valid name ... (attempt 1)"), so no fallback chose;
- judge: travel_eval's judge on N plans (each the planner's one answer for a travel_eval task) returns a
  score on its scale, left free (the `SCORE: n` line the prompt asks for) and constrained (JSON schema);
- itinerary: if scenarios/travel_itinerary.yaml exists, the share of runs whose final answer is JSON valid
  under the scenario's output schema;
- cost: tokens/s of the same prompt decoded free and under a JSON schema, and the latency of one
  selector decision free (up to 8 tokens) and under a choice of names (medians of 5, and the first call
  apart: a grammar is compiled on first use).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PLACES = (
    ("South Korea", "Seoul"),
    ("Japan", "Tokyo"),
    ("France", "Paris"),
    ("Peru", "Cusco"),
    ("Nepal", "Kathmandu"),
    ("Portugal", "Lisbon"),
    ("Brazil", "Rio de Janeiro"),
    ("Kenya", "Nairobi"),
    ("Canada", "Vancouver"),
    ("India", "Mumbai"),
)
_TIME = re.compile(r"(?<!\d)\d{1,2}:\d{2}(?!\d)")  # also inside an ISO time ("T19:49")


class _Selections(logging.Handler):
    """AutoGen's selector trace lines: one per attempt."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        text = record.getMessage()
        if text.startswith(("Model selected", "Model failed")):
            self.lines.append(text)


async def _run(name: str, task: str) -> Any:
    from autogen_troupe import RunOptions, load_scenario
    from autogen_troupe.runtime import execute

    sc = load_scenario(ROOT / "scenarios" / f"{name}.yaml")
    with tempfile.TemporaryDirectory() as out:
        done = await execute(sc, "live", task=task, options=RunOptions(out_dir=Path(out)))
    return done.result


async def time_agent(n: int) -> tuple[int, int, list[str]]:
    good, right, notes = 0, 0, []
    zones = _zones_by_country()
    for country, _ in PLACES[:n]:
        result = await _run("time_agent", f"What time is it now in {country}?")
        calls = [c for e in result.transcript if e.kind == "tool_call" for c in e.calls]
        errors = [r for e in result.transcript if e.kind == "tool_result" for r in e.results if r.is_error]
        asked = [z for c in calls if (z := _asked_zone(c.name, c.arguments))]
        told = {
            t
            for e in result.transcript
            if e.kind == "tool_result"
            for r in e.results
            for t in _TIME.findall(r.content)
        }
        ok = bool(asked) and not errors and bool(told & set(_TIME.findall(result.final_message)))
        here = ok and asked[-1] in zones.get(country, ())
        good, right = good + ok, right + here
        shown = " ".join(c.name + c.arguments for c in calls) or "no call"
        verdict = ("ok, right zone" if here else "ok, wrong zone") if ok else "FAIL"
        notes.append(f"{country}: {verdict} {shown} -> {result.final_message[:50]!r}")
    return good, right, notes


def _asked_zone(tool: str, arguments: str) -> str | None:
    """The time zone a call asks the time of (the target of a conversion), if its arguments name one."""
    try:
        parsed = json.loads(arguments)
    except ValueError:
        return None
    key = {"get_current_time": "timezone", "convert_time": "target_timezone"}.get(tool)
    zone = parsed.get(key) if isinstance(parsed, dict) and key else None
    return zone if isinstance(zone, str) else None


def _zones_by_country() -> dict[str, set[str]]:
    """Country name -> its IANA zones, from tzdata's own tables (iso3166.tab, zone.tab)."""
    import tzdata

    folder = Path(tzdata.__file__).parent / "zoneinfo"
    rows = [line.split("\t") for line in (folder / "iso3166.tab").read_text().splitlines()]
    code = {r[1]: r[0] for r in rows if len(r) == 2 and not r[0].startswith("#")}
    code["South Korea"] = "KR"  # iso3166.tab says "Korea (South)"
    by_code: dict[str, set[str]] = {}
    for line in (folder / "zone.tab").read_text().splitlines():
        if line and not line.startswith("#"):
            cc, _, zone, *_ = line.split("\t")
            by_code.setdefault(cc, set()).add(zone)
    return {name: by_code.get(cc, set()) for name, cc in code.items()}


async def trip_desk(n: int) -> tuple[int, list[str], tuple[int, int]]:
    handler = _Selections()
    logger = logging.getLogger("autogen_agentchat")  # AutoGen's TRACE_LOGGER_NAME
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    good, notes, turns, first_try = 0, [], 0, 0
    try:
        for _, city in PLACES[:n]:
            handler.lines.clear()
            task = (
                f"I land in {city} tomorrow morning. What time is it there now, and what should I do first?"
            )
            result = await _run("trip_desk", task)
            chosen = [t for t in handler.lines if t.startswith("Model selected a valid name")]
            fell_back = [t for t in handler.lines if t.startswith("Model failed to select a speaker")]
            at_once = [t for t in chosen if t.endswith("(attempt 1)")]
            n_turns = len(chosen) + len(fell_back)  # each turn ends in a valid name or AutoGen's fallback
            turns += n_turns
            first_try += len(at_once)
            ok = n_turns > 0 and len(at_once) == n_turns
            good += ok
            speakers = " ".join(m.source for m in result.messages[1:])
            notes.append(f"{city}: {len(at_once)}/{n_turns} turns named at once; {speakers}")
            print(f"  {notes[-1]}", flush=True)  # a run takes minutes: say each as it ends
    finally:
        logger.removeHandler(handler)
    return good, notes, (first_try, turns)


async def judge(n: int) -> tuple[int, int, list[str]]:
    from autogen_core.models import SystemMessage, UserMessage

    from autogen_troupe import load_scenario
    from autogen_troupe.eval._judge import ask_judge
    from autogen_troupe.eval._tasks import EvalTask
    from autogen_troupe.models import create_model_client, resolve_model
    from autogen_troupe.models._capabilities import UNKNOWN, capabilities_of

    sc = load_scenario(ROOT / "scenarios" / "travel_eval.yaml")
    assert sc.judge is not None
    spec = resolve_model("default")
    client = create_model_client(spec)
    planner = sc.team.agents[0].system_message or ""
    free_ok = constrained_ok = 0
    notes = []
    for i in range(n):
        country, city = PLACES[i]
        days = 2 + i % 3
        text = f"Plan a {days} day trip to {city}, {country}."
        plan = await client.create(
            [SystemMessage(content=str(planner)), UserMessage(content=text, source="user")]
        )
        rubric = sc.judge.rubric.replace("{{days}}", str(days)).replace(
            "{{destination}}", f"{city}, {country}"
        )
        task = EvalTask(id=f"t{i}", task=text, rubric=rubric)
        answer = str(plan.content)
        free = await ask_judge(client, "default", sc.judge, task, answer, capabilities=UNKNOWN)
        held = await ask_judge(client, "default", sc.judge, task, answer, capabilities=capabilities_of(spec))
        free_ok += free.score is not None
        constrained_ok += held.score is not None
        notes.append(f"{city}: free {free.score} ({(free.answer or '')[-30:]!r}); constrained {held.score}")
    await client.close()
    return free_ok, constrained_ok, notes


async def itinerary(n: int) -> tuple[int, int, list[str]] | None:
    path = ROOT / "scenarios" / "travel_itinerary.yaml"
    if not path.exists():
        return None
    good, notes = 0, []
    for country, city in PLACES[:n]:
        result = await _run("travel_itinerary", f"Plan a 3 day trip to {city}, {country}.")
        try:
            data = json.loads(result.final_message)
            ok = isinstance(data, dict) and bool(data)
        except ValueError:
            ok = False
        good += ok
        notes.append(f"{city}: {'valid JSON' if ok else 'not JSON'}: {result.final_message[:60]!r}")
    return good, n, notes


async def cost(reps: int = 5) -> list[str]:
    from autogen_core.models import UserMessage

    from autogen_troupe.models import create_model_client, resolve_model
    from autogen_troupe.models._capabilities import score_schema

    client = create_model_client(resolve_model("default"))
    prompt = [UserMessage(content="Describe a good first day in Seoul for a traveller.", source="user")]
    names = ["clock_agent", "guide_agent", "desk_agent"]
    free_body = {"ignore_eos": True}  # every free answer runs to max_tokens, as long as the JSON one may
    cases = {
        "free, 128 tokens": {"max_tokens": 128, "extra_body": free_body},
        "JSON schema (judge's score + reason)": {
            "max_tokens": 128,
            "extra_body": {
                "response_format": {
                    "type": "json_schema",
                    "json_schema": {"name": "s", "schema": score_schema(1, 5, reason_chars=400)},
                }
            },
        },
        "free decision, 8 tokens": {"max_tokens": 8, "extra_body": free_body},
        "choice of 3 names": {"max_tokens": 8, "extra_body": {"structured_outputs": {"choice": names}}},
    }
    lines = []
    for label, args in cases.items():
        rates, waits = [], []
        for _ in range(reps):
            started = time.perf_counter()
            result = await client.create(prompt, extra_create_args=args)
            wall = time.perf_counter() - started
            waits.append(wall)
            rates.append(result.usage.completion_tokens / wall)
        tokens = result.usage.completion_tokens
        lines.append(
            f"{label:<40} {statistics.median(rates):7.1f} tok/s  {statistics.median(waits) * 1000:7.0f} ms"
            f"  first call {waits[0] * 1000:7.0f} ms  ({tokens} tokens)"
        )
    await client.close()
    return lines


async def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--only", default="time_agent,trip_desk,judge,itinerary,cost")
    args = ap.parse_args()
    only = set(args.only.split(","))
    n = min(args.runs, len(PLACES))
    load = os.getloadavg()[0]
    print(f"small models: SmolLM2-135M in-process, {n} runs each; load average {load:.1f} at the start")
    rows: list[tuple[str, str]] = []
    started = time.perf_counter()

    def row(label: str, value: str, notes: tuple[str, ...] | list[str] = ()) -> None:
        rows.append((label, value))
        if notes:
            print("  " + "\n  ".join(notes), flush=True)
        print(f"{label:<48} {value}", flush=True)

    if "judge" in only:
        free, held, notes = await judge(n)
        row("travel_eval judge: a score, left free", f"{free}/{n}", notes)
        row("travel_eval judge: a score, constrained", f"{held}/{n}")
    if "time_agent" in only:
        good, right, notes = await time_agent(n)
        row("time_agent: valid tool call and the time", f"{good}/{n}", notes)
        row("time_agent: ... and the country's time zone", f"{right}/{n}")
    cost_lines = await cost() if "cost" in only else []
    print(*cost_lines, sep="\n", flush=True)
    if "itinerary" in only:
        found = await itinerary(n)
        if found is None:
            row("travel_itinerary: valid itineraries", "skipped (no scenarios/travel_itinerary.yaml)")
        else:
            good, total, notes = found
            row("travel_itinerary: valid itineraries", f"{good}/{total}", notes)
    if "trip_desk" in only:
        good, notes, (at_once, turns) = await trip_desk(n)
        row("trip_desk: a valid agent named at every turn", f"{good}/{n} ({at_once}/{turns} turns)")
    print()
    for label, value in rows:
        print(f"{label:<48} {value}")
    if cost_lines:
        print("constrained decoding on the in-process engine (median of 5):")
        print(*cost_lines, sep="\n")
    print(f"wall {time.perf_counter() - started:.0f} s; load average {os.getloadavg()[0]:.1f} at the end")
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
