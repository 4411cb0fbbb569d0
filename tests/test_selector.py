"""The selector team moves on when its model names nobody (AutoGen 0.7 kept the previous speaker)."""

from __future__ import annotations

from pathlib import Path

from helpers import write

from autogen_troupe import RunOptions, load_scenario, run_scenario
from autogen_troupe.agents._selector import next_in_order
from autogen_troupe.testing import ScriptedClient

TEAM = """
name: desk
task: I land in Seoul tomorrow. What should I do?
team:
  kind: selector
  allow_repeated_speaker: {repeats}
  agents:
    - {{name: clock, description: Knows the time.}}
    - {{name: guide, description: Suggests a plan.}}
    - {{name: desk, description: Wraps up.}}
  termination: {{max_messages: 5}}
"""


async def _speakers(tmp_path: Path, repeats: bool, selector: list[str]) -> list[str]:
    sc = load_scenario(write(tmp_path, TEAM.format(repeats=str(repeats).lower())))
    answers = ScriptedClient(
        {
            "selector": selector,
            "clock": ["It is 9 am in Seoul."] * 4,
            "guide": ["Visit Gyeongbokgung."] * 4,
            "desk": ["Morning; the palace."] * 4,
        }
    )
    result = await run_scenario(sc, clients=answers, options=RunOptions(out_dir=tmp_path / "runs"))
    return [m.source for m in result.messages]


async def test_a_selector_that_names_nobody_passes_the_turn_on_in_order(tmp_path: Path) -> None:
    # the first choice is made, then every answer of the selector names no agent (3 attempts per turn)
    babble = ["clock", *["Let me think about who should speak."] * 12]
    assert await _speakers(tmp_path, repeats=False, selector=babble) == [
        "user",
        "clock",
        "guide",  # AutoGen would have given the clock every turn
        "desk",
        "clock",
    ]


async def test_valid_choices_and_allowed_repeats_are_unchanged(tmp_path: Path) -> None:
    choices = ["guide", "clock", "desk", "guide"]
    assert await _speakers(tmp_path, repeats=False, selector=choices) == [
        "user",
        "guide",
        "clock",
        "desk",
        "guide",
    ]
    babble = ["clock", *["Hmm."] * 12]  # repeats allowed: AutoGen's own fallback, the previous speaker
    (tmp_path / "r").mkdir()
    assert await _speakers(tmp_path / "r", repeats=True, selector=babble) == ["user"] + ["clock"] * 4


def test_next_in_order_wraps_and_skips_who_is_not_a_candidate() -> None:
    names = ["clock", "guide", "desk"]
    assert next_in_order(names, "clock", ["guide", "desk"]) == "guide"
    assert next_in_order(names, "desk", ["clock", "guide"]) == "clock"
    assert next_in_order(names, "guide", ["clock"]) == "clock"
