"""The one seam that runs a scenario live, recording or replaying (`testing.execute`)."""

from __future__ import annotations

from pathlib import Path

import pytest

from autogen_troupe.errors import CassetteMissing, ModelCallError, ReplayMismatch
from autogen_troupe.runtime._modes import choose_mode, execute
from autogen_troupe.scenario import MaxMessages, load_scenario
from autogen_troupe.testing import ScriptedClient

ANSWERS = {
    "planner_agent": ["Day 1: Kathmandu."],
    "local_agent": ["Try momo in Thamel."],
    "language_agent": ["Say namaste."],
    "travel_summary_agent": ["Day 1: Kathmandu, momo, namaste. TERMINATE"],
}


@pytest.mark.parametrize(
    ("exists", "policy", "live", "mode"),
    [
        (True, "never", False, "replay"),
        (True, "missing", False, "replay"),
        (True, "always", False, "record"),
        (False, "missing", False, "record"),
        (False, "always", False, "record"),
        (False, "never", True, "live"),
        (True, "never", True, "replay"),  # a cassette wins over a live call
    ],
)
def test_the_mode_follows_policy_cassette_and_live(
    tmp_path: Path, exists: bool, policy: str, live: bool, mode: str
) -> None:
    tape = tmp_path / "x.cassette.json"
    if exists:
        tape.write_text("{}")
    assert choose_mode(tape, record=policy, live=live) == mode  # type: ignore[arg-type]


def test_without_cassette_or_live_calls_the_error_says_how_to_get_one(tmp_path: Path) -> None:
    with pytest.raises(CassetteMissing) as info:
        choose_mode(tmp_path / "x.cassette.json")
    text = str(info.value)
    assert f"no cassette at {tmp_path / 'x.cassette.json'}" in text
    assert "--troupe-record=new" in text and "troupe record" in text and "--troupe-live" in text


async def test_record_then_replay_gives_the_same_run_offline(tmp_path: Path) -> None:
    sc = load_scenario("travel_planning")
    tape = tmp_path / "travel.cassette.json"
    recorded = await execute(sc, "record", cassette=tape, clients=ScriptedClient(ANSWERS))
    assert recorded.ok and recorded.cassette == tape and tape.exists()
    replayed = await execute(sc, "replay", cassette=tape)
    assert replayed.ok and replayed.unplayed == ()
    assert [m.content for m in replayed.result.messages] == [m.content for m in recorded.result.messages]
    # A strict replay of a changed run fails with the difference; a lenient one warns instead.
    with pytest.raises(ReplayMismatch, match="Plan 2 days in Kyoto"):
        await execute(sc, "replay", cassette=tape, task="Plan 2 days in Kyoto.")
    lenient = await execute(sc, "replay", cassette=tape, strict=False, task="Plan 2 days in Kyoto.")
    assert lenient.warnings and lenient.problem is None


async def test_a_replay_that_ends_early_is_a_problem_in_strict_mode(tmp_path: Path) -> None:
    sc = load_scenario("travel_planning")
    tape = tmp_path / "travel.cassette.json"
    await execute(sc, "record", cassette=tape, clients=ScriptedClient(ANSWERS))
    shorter = sc.model_copy(
        update={"team": sc.team.model_copy(update={"termination": MaxMessages(max_messages=3)})}
    )
    ran = await execute(shorter, "replay", cassette=tape)
    assert not ran.ok
    assert ran.problem is not None and "ended before 2 recorded call(s)" in ran.problem


async def test_a_recording_that_cannot_replay_is_not_written(tmp_path: Path) -> None:
    sc = load_scenario("travel_planning")
    tape = tmp_path / "travel.cassette.json"

    def fail(messages: object) -> str:
        raise ModelCallError("the endpoint is down")

    with pytest.raises(ModelCallError):
        await execute(sc, "record", cassette=tape, clients=ScriptedClient({"planner_agent": [fail]}))
    assert not tape.exists()
