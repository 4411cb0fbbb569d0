"""The pytest plugin, run inside pytest's own `pytester`: options, header, scenario items, `troupe_run`."""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest
import yaml
from test_replay import DESK, scripted

from autogen_troupe.runtime._tape_runs import record_scenario
from autogen_troupe.scenario import load_scenario
from autogen_troupe.tapes._cassette import cassette_path_for

pytest_plugins = ["pytester"]

ROOT = Path(__file__).resolve().parents[1]


def _installed() -> bool:
    """Whether the `pytest11` entry point is installed (pip install -e .), so pytest loads us itself."""
    return any(ep.name == "troupe" for ep in metadata.entry_points(group="pytest11"))


PLUGIN_ARGS = () if _installed() else ("-p", "autogen_troupe.pytest_plugin")


@pytest.fixture(autouse=True)
def _importable(monkeypatch: pytest.MonkeyPatch) -> None:
    """pytester's subprocesses import this checkout (also when it is not installed)."""
    monkeypatch.setenv("PYTHONPATH", str(ROOT))


@pytest.fixture(scope="module")
def cassette(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    """The desk scenario and its recorded cassette, as text."""
    folder = tmp_path_factory.mktemp("plugin")
    path = folder / "desk.yaml"
    path.write_text(yaml.safe_dump(DESK, sort_keys=False))
    rec = asyncio.run(
        record_scenario(load_scenario(path), cassette=cassette_path_for(path), clients=scripted())
    )
    assert rec.result.ok
    return path.read_text(), cassette_path_for(path).read_text()


@pytest.fixture
def project(pytester: pytest.Pytester, cassette: tuple[str, str]) -> pytest.Pytester:
    """A user's project: scenarios/ with a passing, a failing and an unrecorded scenario; tests/ empty."""
    scenario, tape = cassette
    sc = pytester.mkdir("scenarios")
    (sc / "desk.yaml").write_text(scenario)
    (sc / "desk.cassette.json").write_text(tape)
    wrong = yaml.safe_load(scenario)
    wrong["name"] = "desk_wrong"
    wrong["expect"] = {"speakers": {"last": "clock"}}
    (sc / "desk_wrong.yaml").write_text(yaml.safe_dump(wrong))
    (sc / "desk_wrong.cassette.json").write_text(tape)
    (sc / "desk_new.yaml").write_text(yaml.safe_dump({**yaml.safe_load(scenario), "name": "desk_new"}))
    no_expect = yaml.safe_load(scenario)
    del no_expect["expect"]
    (sc / "plain.yaml").write_text(yaml.safe_dump(no_expect))  # not a test: no expect block
    (sc / "compose.yaml").write_text("services: {}\n")  # not a scenario at all
    pytester.mkdir("tests")
    return pytester


def run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return pytester.runpytest_subprocess(*PLUGIN_ARGS, "-p", "no:cacheprovider", *args, timeout=240)


def test_unused_the_plugin_collects_nothing_and_says_so(project: pytest.Pytester) -> None:
    project.makepyfile(test_x="def test_x():\n    pass\n")
    result = run(project, "-v")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["troupe: record=none, replay=strict, live=no, scenarios: none configured"])


def test_scenarios_under_configured_paths_become_items(project: pytest.Pytester) -> None:
    project.makeini("[pytest]\ntroupe_scenarios = scenarios\ntestpaths = tests\n")
    result = run(project, "-v", "-rs")
    result.assert_outcomes(passed=1, failed=1, skipped=1)
    result.stdout.fnmatch_lines(
        [
            "*scenarios/desk.yaml::desk PASSED*",
            "*scenarios/desk_new.yaml::desk_new SKIPPED*",
            "*scenarios/desk_wrong.yaml::desk_wrong FAILED*",
        ]
    )
    result.stdout.fnmatch_lines(["*scenario desk_wrong (*desk_wrong.yaml) failed:"])
    assert "\nspeakers.last: expected 'clock'; got [user, clock, budget, desk]\n" in result.stdout.str()
    result.stdout.fnmatch_lines(["*no cassette at*desk_new.cassette.json*troupe record*"])
    assert "Traceback" not in result.stdout.str()


def test_items_are_selected_by_marker_and_keyword(project: pytest.Pytester) -> None:
    project.makeini("[pytest]\ntroupe_scenarios = scenarios\n")
    run(project, "-m", "troupe", "-k", "desk and not wrong and not new").assert_outcomes(passed=1)
    run(project, "-m", "not troupe").assert_outcomes()
    # Naming the folder on the command line collects it through pytest's own walk, once.
    run(project, "scenarios/desk.yaml").assert_outcomes(passed=1)


def test_the_scenarios_option_and_a_changed_scenario(project: pytest.Pytester) -> None:
    desk = project.path / "scenarios" / "desk.yaml"
    data = yaml.safe_load(desk.read_text())
    data["team"]["agents"][1]["system_message"] = "You compute budgets, tersely."
    desk.write_text(yaml.safe_dump(data))
    result = run(project, "--troupe-scenarios", "scenarios", "-k", "desk and not wrong and not new")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*replay mismatch:*", "*message 0 (system) changed:*"])
    lenient = run(
        project,
        "--troupe-scenarios",
        "scenarios",
        "--troupe-replay=lenient",
        "-k",
        "desk and not wrong and not new",
    )
    lenient.assert_outcomes(passed=1)


@pytest.mark.parametrize(
    ("args", "ini", "message"),
    [
        (
            ("--troupe-record=sometimes",),
            "",
            "--troupe-record (ini troupe_record): 'sometimes' is not one of none, new, all",
        ),
        (
            (),
            "troupe_replay = loose\n",
            "--troupe-replay (ini troupe_replay): 'loose' is not one of strict, lenient",
        ),
    ],
)
def test_bad_option_values_are_usage_errors(
    pytester: pytest.Pytester, args: tuple[str, ...], ini: str, message: str
) -> None:
    pytester.makeini("[pytest]\n" + ini)
    result = run(pytester, *args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*" + message + "*"])


def test_the_header_shows_the_effective_mode(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\ntroupe_record = new\ntroupe_live = true\n")
    result = run(pytester, "--troupe-replay=lenient")
    result.stdout.fnmatch_lines(["troupe: record=new, replay=lenient, live=yes, scenarios: none configured"])


def test_troupe_run_fixture_in_sync_and_async_tests(project: pytest.Pytester) -> None:
    project.makepyfile(
        test_mine="""
        import pytest

        def test_sync(troupe_run):
            result = troupe_run("scenarios/desk.yaml")
            assert result.final_message.endswith("TERMINATE")
            assert [e.source for e in result.messages] == ["user", "clock", "budget", "desk"]

        async def test_async(troupe_run):
            result = await troupe_run.arun("scenarios/desk.yaml")
            assert result.ok

        @pytest.mark.asyncio
        async def test_sync_call_inside_a_running_loop(troupe_run):
            assert troupe_run("scenarios/desk.yaml").ok

        def test_expectations_fail_the_test(troupe_run):
            troupe_run("scenarios/desk_wrong.yaml")

        def test_unchecked(troupe_run):
            assert troupe_run("scenarios/desk_wrong.yaml", check=False).ok

        def test_no_cassette(troupe_run):
            troupe_run("scenarios/desk_new.yaml")
        """
    )
    project.makeini("[pytest]\nasyncio_mode = auto\n")
    result = run(project, "test_mine.py")
    result.assert_outcomes(passed=4, failed=2)
    out = result.stdout.str()
    failure = out[out.index("_ test_expectations_fail_the_test _") :]
    assert "speakers.last: expected 'clock'; got [user, clock, budget, desk]" in failure
    result.stdout.fnmatch_lines(
        ["*desk_new: no cassette at *desk_new.cassette.json; record one with --troupe-record=new*"]
    )


def test_record_new_records_missing_cassettes_against_a_real_server(project: pytest.Pytester) -> None:
    """--troupe-record=new records through the real HTTP stack (fake server process), then replays."""
    script = project.path / "script.json"
    script.write_text(
        json.dumps(
            {
                "by_system": {
                    "You tell the time": [
                        {"tool_calls": [["get_current_time", {"timezone": "Asia/Seoul"}]]},
                        "Morning in Seoul.",
                    ],
                    "You compute budgets": [{"tool_calls": [["trip_budget", {"days": 3, "daily_usd": 100}]]}],
                    "You wrap up": ["All set. TERMINATE"],
                }
            }
        )
    )
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "tests" / "fake_openai.py"), "--port", "0", "--script", str(script)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        line = proc.stdout.readline()  # type: ignore[union-attr]
        assert line.startswith("READY "), line
        base_url = line.split()[1]
        new = project.path / "scenarios" / "desk_new.yaml"
        data = yaml.safe_load(new.read_text())
        data["model"] = {"provider": "openai", "base_url": base_url, "model": "fake-model"}
        new.write_text(yaml.safe_dump(data))
        args = ("--troupe-scenarios", "scenarios", "-k", "desk_new")
        run(project, *args).assert_outcomes(skipped=1)
        run(project, *args, "--troupe-record=new").assert_outcomes(passed=1)
        assert (project.path / "scenarios" / "desk_new.cassette.json").exists()
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    run(project, *args).assert_outcomes(passed=1)  # replayed, with the server gone


def test_importing_the_plugin_loads_no_autogen() -> None:
    code = (
        "import sys, autogen_troupe.pytest_plugin; "
        "heavy = ('autogen_core', 'autogen_agentchat', 'openai', 'vllm'); "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in heavy))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_bundled_example_layout(tmp_path: Path) -> None:
    """The bundled scenarios are found as the plugin and `troupe test` find them."""
    from autogen_troupe.testing._suite import discover

    shutil.copytree(ROOT / "scenarios", tmp_path / "scenarios")
    found = {p.name for p in discover([tmp_path])}
    expecting = {p.name for p in (ROOT / "scenarios").glob("*.yaml") if "expect:" in p.read_text()}
    assert found == expecting
