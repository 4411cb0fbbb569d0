"""Hostile and careless input files (scenarios, cassettes, the profile file): each is refused at once with
exit 2 and a located one-paragraph message; never a hang, a traceback or unbounded memory.

Cases that would hang or eat memory if the guard broke (FIFOs, devices, alias bombs) run the real
`troupe` command in a child process with a generous timeout; the rest go through Typer's CliRunner.
"""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys
from pathlib import Path

import pytest
from fake_openai import FakeOpenAI
from helpers import troupe, write
from typer.testing import CliRunner

from autogen_troupe import RunOptions, load_scenario, run_scenario
from autogen_troupe.cli import app
from autogen_troupe.errors import ProfileError, ScenarioError
from autogen_troupe.models._endpoints import Overrides, available_profiles
from autogen_troupe.scenario._files import MAX_JSON_DEPTH, MAX_YAML_DEPTH, MAX_YAML_VALUES
from autogen_troupe.scenario._schema import MAX_RULE_DEPTH
from autogen_troupe.tapes._cassette import Cassette

MINIMAL = "name: x\nteam:\n  kind: single\n  agents: [{name: a}]\n"
runner = CliRunner()


def check(path: Path) -> tuple[int, str]:
    """`troupe check PATH` through CliRunner: exit code and stderr; any exception but Exit fails the test."""
    done = runner.invoke(app, ["check", str(path)])
    assert done.exception is None or isinstance(done.exception, SystemExit), repr(done.exception)
    assert "Traceback" not in done.output + done.stderr
    return done.exit_code, done.stderr


def refused(path: Path, message: str, where: str = "") -> str:
    """Check the file is refused with exit 2, `message` in one paragraph, at `path:where` if given."""
    code, stderr = check(path)
    assert code == 2, stderr
    assert message in stderr, stderr
    assert stderr.startswith(f"{path}:{where}"), stderr
    assert "\n\n" not in stderr.strip()
    return stderr


# --------------------------------------------------------------------------- bounded reading


def test_a_fifo_is_refused_without_waiting_for_a_writer(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe.yaml"
    os.mkfifo(fifo)
    for args in (["check", str(fifo)], ["run", str(fifo)], ["run", "time_agent", "--replay", str(fifo)]):
        proc = troupe(*args)
        assert proc.returncode == 2, proc.stderr
        assert f"{fifo}:1:1: is a named pipe (FIFO)" in proc.stderr
        assert "Traceback" not in proc.stderr


@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="needs /dev/zero")
def test_a_device_is_refused_before_reading() -> None:
    for args in (["run", "/dev/zero"], ["run", "time_agent", "--replay", "/dev/zero"]):
        proc = troupe(*args)
        assert proc.returncode == 2, proc.stderr
        assert "/dev/zero:1:1: is a device" in proc.stderr and "Traceback" not in proc.stderr


def test_a_folder_given_as_a_file_is_refused(tmp_path: Path) -> None:
    done = runner.invoke(app, ["run", str(tmp_path)])
    assert done.exit_code == 2 and f"{tmp_path}:1:1: is a folder, not a scenario" in done.stderr
    done = runner.invoke(app, ["run", "time_agent", "--replay", str(tmp_path)])
    assert done.exit_code == 2 and "is a folder, not a cassette" in done.stderr


def test_files_over_the_size_limit_are_refused_unread(tmp_path: Path) -> None:
    big = tmp_path / "big.yaml"
    with big.open("wb") as fh:  # sparse: costs no disk and, if read, 50 MB of memory
        fh.truncate(50 * 1024 * 1024)
    refused(big, "the scenario is 50 MiB, larger than the limit of 1 MiB", "1:1")
    tape = tmp_path / "big.cassette.json"
    with tape.open("wb") as fh:
        fh.truncate(65 * 1024 * 1024)
    with pytest.raises(ScenarioError, match="larger than the limit of 64 MiB"):
        Cassette.load(tape)
    just_under = write(tmp_path, MINIMAL + "#" * (1024 * 1024 - len(MINIMAL) - 1) + "\n", "ok.yaml")
    assert load_scenario(just_under).name == "x"


def test_the_profile_file_is_read_bounded_too(tmp_path: Path) -> None:
    fifo = tmp_path / "profiles.yaml"
    os.mkfifo(fifo)
    code = (
        "from pathlib import Path; from autogen_troupe.models._endpoints import available_profiles\n"
        f"available_profiles(profiles_path=Path({str(fifo)!r}))"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode != 0 and "ProfileError" in proc.stderr and "is a named pipe" in proc.stderr
    bomb = write(tmp_path, 'a: &a ["x", "x", "x", "x", "x", "x", "x", "x", "x", "x"]\n', "p.yaml")
    with bomb.open("a") as fh:
        for i in range(1, 7):
            fh.write(f"{chr(97 + i)}: &{chr(97 + i)} [{', '.join(['*' + chr(96 + i)] * 10)}]\n")
    with pytest.raises(ProfileError, match=r"p\.yaml:\d+:\d+: the file expands to more than"):
        available_profiles(profiles_path=bomb)
    with pytest.raises(ProfileError, match=r"p2\.yaml:1:4: the tag !!python/name:os.system is not allowed"):
        available_profiles(profiles_path=write(tmp_path, "a: !!python/name:os.system x\n", "p2.yaml"))


def test_a_fifo_in_a_folder_does_not_stall_troupe_test(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "pipe.yaml")
    write(tmp_path, "a: &a [*a]\n", "loop.yaml")
    proc = troupe("test", str(tmp_path))
    assert proc.returncode == 2 and "no scenario with an expect block found" in proc.stderr
    assert "Traceback" not in proc.stderr


# --------------------------------------------------------------------------- encodings and binary files


def test_a_nul_byte_is_located(tmp_path: Path) -> None:
    p = write(tmp_path, b"name: x\nteam:\n  kind: si\x00ngle\n")
    refused(p, "holds a NUL byte here: it is a binary file", "3:11")


def test_latin1_bytes_are_located(tmp_path: Path) -> None:
    p = write(tmp_path, "name: x\ndescription: café crème\n".encode("latin-1"))
    refused(p, "not UTF-8 text: byte 0xE9 here cannot be decoded (saved as Latin-1", "2:17")


def test_a_control_character_is_located(tmp_path: Path) -> None:
    refused(write(tmp_path, "name: x\ntask: ring \x07\n"), "the character U+0007 here is not allowed", "2:12")


def test_a_utf8_bom_is_fine(tmp_path: Path) -> None:
    p = write(tmp_path, b"\xef\xbb\xbf" + MINIMAL.encode())
    assert load_scenario(p).name == "x"


def test_a_pickle_given_as_a_cassette(tmp_path: Path) -> None:
    for proto in (0, pickle.HIGHEST_PROTOCOL):
        tape = write(tmp_path, pickle.dumps({"format": "troupe-cassette"}, protocol=proto), "t.json")
        done = runner.invoke(app, ["run", "time_agent", "--replay", str(tape)])
        assert done.exit_code == 2, done.output
        assert done.exception is None or isinstance(done.exception, SystemExit)
        assert f"{tape}:1:" in done.stderr
        assert "not UTF-8 text" in done.stderr or "not valid JSON" in done.stderr


@pytest.mark.parametrize("depth", [MAX_JSON_DEPTH + 1, 100_000])
def test_deeply_nested_json_cassette_is_located(tmp_path: Path, depth: int) -> None:
    tape = write(
        tmp_path, '{"format": "troupe-cassette",\n "x": ' + "[" * depth + "]" * depth + "}", "t.json"
    )
    with pytest.raises(ScenarioError) as e:
        Cassette.load(tape)
    issue = e.value.issues[0]
    assert (issue.line, issue.column) == (2, 6 + MAX_JSON_DEPTH)  # the outer object is level 1
    assert f"nests more than {MAX_JSON_DEPTH} levels deep here" in issue.message


def test_huge_numbers_and_impossible_dates_are_located(tmp_path: Path) -> None:
    p = write(tmp_path, MINIMAL + "limits: {max_messages: " + "9" * 5000 + "}\n")
    stderr = refused(p, "looks like an integer but is not a valid one", "5:24")
    assert len(stderr.splitlines()) == 1  # not also "must be a valid integer (got None)"
    refused(write(tmp_path, MINIMAL + "task: 2024-13-45\n"), "'2024-13-45' looks like a date", "5:7")
    tape = write(tmp_path, '{"format": "troupe-cassette", "version": ' + "1" * 5000 + "}", "t.json")
    with pytest.raises(ScenarioError, match="not valid JSON"):
        Cassette.load(tape)


# -------------------------------------------------------------- YAML that expands or nests without end


def billion_laughs(levels: int = 9) -> str:
    lines = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for i in range(1, levels + 1):
        lines.append(f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]")
    return "\n".join(lines) + "\n"


def test_an_alias_bomb_is_refused_where_it_goes_off(tmp_path: Path) -> None:
    p = write(tmp_path, billion_laughs())
    proc = troupe("check", str(p))  # a child process: a regression would need gigabytes, not this test
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert f"{p}:6:" in proc.stderr  # 9**5 values: the first alias past the limit
    assert f"expands to more than {MAX_YAML_VALUES:,} values" in proc.stderr


def test_a_file_of_too_many_plain_values_is_refused(tmp_path: Path) -> None:
    p = write(tmp_path, "name: x\ntask: [" + "1," * (MAX_YAML_VALUES + 10) + "]\n")
    refused(p, f"the file holds more than {MAX_YAML_VALUES:,} values", "2:")


def test_aliases_within_bounds_still_work(tmp_path: Path) -> None:
    p = write(
        tmp_path,
        """
        name: x
        team:
          kind: round_robin
          agents:
            - &agent {name: a, description: &d shared words}
            - {name: b, description: *d}
          termination: &stop {max_messages: 3}
        """,
    )
    sc = load_scenario(p)
    assert [a.description for a in sc.team.agents] == ["shared words", "shared words"]


@pytest.mark.parametrize(
    ("text", "where"),
    [("name: x\nteam: &t [1, *t]\n", "2:14"), ("name: x\nteam: &t {kind: *t}\n", "2:17")],
)
def test_a_recursive_alias_is_refused(tmp_path: Path, text: str, where: str) -> None:
    refused(write(tmp_path, text), "points at the collection it is inside (a recursive alias", where)


def test_thousands_of_nested_brackets_are_refused(tmp_path: Path) -> None:
    p = write(tmp_path, "name: x\nteam: " + "[" * 20_000 + "]" * 20_000 + "\n")
    refused(p, f"nest more than {MAX_YAML_DEPTH} levels deep here", f"2:{6 + MAX_YAML_DEPTH}")


def test_thousands_of_nested_any_rules_are_refused(tmp_path: Path) -> None:
    rule = "{max_messages: 3}"
    for _ in range(5000):
        rule = "{any: [" + rule + "]}"
    refused(write(tmp_path, MINIMAL + "  termination: " + rule + "\n"), "levels deep here", "5:")


def test_any_rules_nest_at_most_ten_deep(tmp_path: Path) -> None:
    def nested(n: int) -> str:
        rule = "{max_messages: 3}"
        for _ in range(n):
            rule = "{any: [" + rule + "]}"
        return MINIMAL + "  termination: " + rule + "\n"

    assert load_scenario(write(tmp_path, nested(MAX_RULE_DEPTH))).team.termination is not None
    stderr = refused(write(tmp_path, nested(MAX_RULE_DEPTH + 1)), f"nest more than {MAX_RULE_DEPTH} levels")
    assert "team.termination" + ".any[0]" * MAX_RULE_DEPTH in stderr


# --------------------------------------------------------------------------- tags and merge keys


@pytest.mark.parametrize(
    ("value", "tag"),
    [
        ("!!python/name:os.system x", "!!python/name:os.system"),
        ('!!python/object/apply:os.system ["echo hi"]', "!!python/object/apply:os.system"),
        ("!custom 1", "!custom"),
        ("!!binary aGk=", "!!binary"),
        ("!!set {a: null}", "!!set"),
    ],
)
def test_tags_beyond_plain_data_are_refused(tmp_path: Path, value: str, tag: str) -> None:
    refused(write(tmp_path, f"name: x\ntask: {value}\n"), f"the tag {tag} is not allowed", "2:7")


def test_merge_keys_are_applied_and_written_keys_win(tmp_path: Path) -> None:
    p = write(
        tmp_path,
        """
        name: x
        team:
          kind: round_robin
          agents:
            - &base {name: a, description: base words, stream: false}
            - {<<: *base, name: b}
            - {<<: [{system_message: first}, {system_message: second, description: other}], name: c}
        mcp_servers:
          s: {<<: {command: python}, args: [-m, x]}
        """,
    )
    sc = load_scenario(p)
    _, b, c = sc.team.agents
    assert (b.name, b.description, b.stream) == ("b", "base words", False)
    assert (c.system_message, c.description) == ("first", "other")
    assert sc.mcp_servers["s"].command == "python"


def test_a_merge_of_something_else_is_located(tmp_path: Path) -> None:
    refused(write(tmp_path, "name: x\nteam: {<<: [1]}\n"), "a merge key (<<) takes a mapping", "2:13")


@pytest.mark.parametrize(
    ("line", "message"), [("yes: 2", "keys must be plain strings"), ("name: y", "key 'name' appears twice")]
)
def test_scenario_and_profile_files_refuse_the_same_keys_alike(
    tmp_path: Path, line: str, message: str
) -> None:
    """Both files are read by one walker: a key that is no plain string (YAML reads `yes` as true) or a key
    given twice is refused, located, in either."""
    refused(write(tmp_path, f"{MINIMAL}{line}\n"), message, "5:1")
    profiles = write(tmp_path, f"name: {{}}\n{line}\n", "profiles.yaml")
    with pytest.raises(ProfileError) as info:
        available_profiles(profiles_path=profiles)
    assert str(info.value) == f"{profiles}:2:1: {message}"


def test_merge_and_value_markers_as_values_are_text(tmp_path: Path) -> None:
    sc = load_scenario(write(tmp_path, MINIMAL + "task: <<\ndescription: =\n"))
    assert (sc.task, sc.description) == ("<<", "=")


# --------------------------------------------------------------------------- limits are sane


@pytest.mark.parametrize(
    ("snippet", "field", "message"),
    [
        ("limits: {max_messages: true}", "limits.max_messages", "from 1 to 10000, not true"),
        ("limits: {max_messages: 0}", "limits.max_messages", "from 1 to 10000 (got 0)"),
        ("limits: {max_messages: 10001}", "limits.max_messages", "from 1 to 10000 (got 10001)"),
        ("limits: {max_messages: .inf}", "limits.max_messages", "from 1 to 10000 (got inf)"),
        ("limits: {max_messages: 2.5}", "limits.max_messages", "must be a valid integer from 1 to 10000"),
        ("limits: {timeout_s: .inf}", "limits.timeout_s", "at most 86400 (got inf)"),
        ("limits: {timeout_s: .nan}", "limits.timeout_s", "at most 86400 (got nan)"),
        ("limits: {timeout_s: 1.0e+400}", "limits.timeout_s", "at most 86400 (got inf)"),
        ("limits: {timeout_s: 1e400}", "limits.timeout_s", "at most 86400 (got '1e400')"),
        ("limits: {timeout_s: 86401}", "limits.timeout_s", "greater than 0 and at most 86400"),
        ("limits: {timeout_s: 0}", "limits.timeout_s", "greater than 0 and at most 86400"),
        ("limits: {timeout_s: false}", "limits.timeout_s", "at most 86400, not false"),
        ("model: {temperature: .nan}", "model.temperature", "finite number"),
        ("model: {max_tokens: true}", "model.max_tokens", "from 1 to 10000000, not true"),
        ("model: {timeout_s: .inf}", "model.timeout_s", "at most 86400"),
        ("mcp_servers: {s: {command: x, call_timeout_s: .inf}}", "mcp_servers.s.call_timeout_s", "86400"),
    ],
)
def test_numbers_are_finite_bounded_and_never_booleans(
    tmp_path: Path, snippet: str, field: str, message: str
) -> None:
    stderr = refused(write(tmp_path, MINIMAL + snippet + "\n"), message, "5:")
    assert f": {field}: " in stderr


def test_rule_and_team_counts_are_strict_too(tmp_path: Path) -> None:
    text = MINIMAL.replace("kind: single", "kind: round_robin") + "  max_turns: true\n"
    refused(write(tmp_path, text), "team.max_turns: must be a valid integer from 1 to 10000, not true", "5:")
    text = MINIMAL + "  termination: {max_messages: yes}\n"
    refused(write(tmp_path, text), "team.termination.max_messages: must be a valid integer", "5:")


def test_the_maxima_themselves_and_numbers_from_variables_are_accepted(tmp_path: Path) -> None:
    p = write(tmp_path, MINIMAL + 'limits: {max_messages: "${N:-10000}", timeout_s: 86400}\n')
    assert load_scenario(p, env={}).limits.max_messages == 10000
    assert load_scenario(p, env={"N": "12"}).limits.max_messages == 12


# --------------------------------------------------------------------------- names are safe


@pytest.mark.parametrize("name", ["../../x", "a/b", "..", ".hidden", "-flag", "a b", "x" * 65, "x" * 300])
def test_unsafe_scenario_names_are_refused_at_load(tmp_path: Path, name: str) -> None:
    stderr = refused(
        write(tmp_path, f"name: {json.dumps(name)}\n" + MINIMAL[8:]), "not a valid scenario name"
    )
    assert "at most 64 characters" in stderr and stderr.startswith(f"{tmp_path / 's.yaml'}:1:7: name: ")


def test_a_bad_name_is_refused_by_run_before_anything_is_written(tmp_path: Path) -> None:
    out = tmp_path / "deep" / "runs"
    p = write(tmp_path, 'name: "../../escaped"\n' + MINIMAL[8:])
    done = runner.invoke(app, ["run", str(p), "--out", str(out)])
    assert done.exit_code == 2 and "not a valid scenario name" in done.stderr
    assert sorted(x.name for x in tmp_path.rglob("*")) == ["s.yaml"]


def test_a_name_taken_from_the_file_name_is_made_safe(tmp_path: Path) -> None:
    p = write(tmp_path, MINIMAL[8:], "my trip (v2).yaml")
    assert load_scenario(p).name == "my_trip__v2_"
    long = write(tmp_path, MINIMAL[8:], "n" * 200 + ".yaml")
    assert load_scenario(long).name == "n" * 64
    assert load_scenario(write(tmp_path, MINIMAL[8:], ".dotted.yaml")).name == "_.dotted"


async def test_the_transcript_lands_in_the_chosen_folder(tmp_path: Path) -> None:
    p = write(tmp_path, MINIMAL[8:], "my trip (v2).yaml")
    with FakeOpenAI(default="Done.") as srv:
        opts = RunOptions(
            overrides=Overrides(base_url=srv.base_url, model="fake-model"),
            env=dict(os.environ),
            out_dir=tmp_path / "runs",
        )
        result = await run_scenario(load_scenario(p), task="hi", options=opts)
    assert result.transcript_path is not None
    assert result.transcript_path.parent == tmp_path / "runs"
    assert result.transcript_path.name.startswith("my_trip__v2_-")


def test_agent_names_are_capped(tmp_path: Path) -> None:
    text = MINIMAL.replace("{name: a}", "{name: " + "a" * 65 + "}")
    refused(write(tmp_path, text), "an agent name has at most 64 characters, this one 65", "4:")
