"""pytest plugin (entry point `pytest11`): scenario files become tests; `troupe_run` runs one in a test.

Scenario files with an `expect` block under the paths in `troupe_scenarios` (ini) or `--troupe-scenarios`
become test items: each replays its cassette offline and checks its expectations. The `troupe_run`
fixture does the same inside your own tests and returns the `RunResult`.

Options (each has an ini twin): `--troupe-record=none|new|all` (record no cassette, missing ones, or
all again; recording calls the real model), `--troupe-replay=strict|lenient`, `--troupe-live` (let a
test without a cassette run against the real model). Importing the plugin loads no AutoGen code.

Tests never reach the network by default: unless `--troupe-live` is given, an `openai`-provider client or
an MCP server given by `url` raises `NetworkBlocked` before calling an endpoint off this machine (loopback
ones, such as test servers and a local vLLM, stay allowed; recording with `--troupe-record` is allowed too,
it is asked for).
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from ..models._network import network_allowed, set_session_default

if TYPE_CHECKING:
    from _pytest._code.code import TerminalRepr  # what pytest's own repr_failure returns; not public

    from ..runtime._modes import RecordPolicy
    from ..runtime._transcript import RunResult
    from ._suite import CaseResult
    from ._suite import Mode as SuiteMode

__all__ = ["ScenarioFile", "ScenarioItem", "TroupeRunner", "troupe_run"]

RECORD_MODES = ("none", "new", "all")
REPLAY_MODES = ("strict", "lenient")


@dataclass(frozen=True)
class _Settings:
    record: str
    replay: str
    live: bool
    scenarios: tuple[Path, ...]


_settings_key = pytest.StashKey[_Settings]()
_seen_key = pytest.StashKey[set[Path]]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("troupe", "autogen-troupe scenarios")
    group.addoption(
        "--troupe-record",
        dest="troupe_record",
        default=None,
        metavar="MODE",
        help="Record cassettes against the real model: none (default), new (missing ones), all.",
    )
    group.addoption(
        "--troupe-replay",
        dest="troupe_replay",
        default=None,
        metavar="MODE",
        help="strict (default): a changed request fails; lenient: it gets the next recorded answer.",
    )
    group.addoption(
        "--troupe-live",
        dest="troupe_live",
        action="store_true",
        default=None,
        help="Let tests without a cassette call the real model.",
    )
    group.addoption(
        "--troupe-scenarios",
        dest="troupe_scenarios",
        action="append",
        default=None,
        metavar="PATH",
        help="Collect scenario files with an expect block under PATH (repeatable).",
    )
    parser.addini("troupe_record", "Cassette recording mode: none, new or all.", default="none")
    parser.addini("troupe_replay", "Replay mode: strict or lenient.", default="strict")
    parser.addini(
        "troupe_live", "Let tests without a cassette call the real model.", type="bool", default=False
    )
    parser.addini(
        "troupe_scenarios", "Folders or files whose scenarios become tests.", type="paths", default=[]
    )


def _choice(config: pytest.Config, name: str, valid: tuple[str, ...]) -> str:
    value = config.getoption(name) or config.getini(name)
    value = str(value).strip().lower()
    if value not in valid:
        raise pytest.UsageError(
            f"--{name.replace('_', '-')} (ini {name}): {value!r} is not one of {', '.join(valid)}"
        )
    return value


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "troupe: a scenario replayed from its cassette and checked against its expect block"
    )
    given = config.getoption("troupe_scenarios")
    if given:
        scenarios = tuple(Path(config.invocation_params.dir, p).resolve() for p in given)
    else:
        scenarios = tuple(Path(p).resolve() for p in config.getini("troupe_scenarios"))
    live = config.getoption("troupe_live")
    config.stash[_settings_key] = _Settings(
        record=_choice(config, "troupe_record", RECORD_MODES),
        replay=_choice(config, "troupe_replay", REPLAY_MODES),
        live=bool(live if live is not None else config.getini("troupe_live")),
        scenarios=scenarios,
    )
    config.stash[_seen_key] = set()
    # Tests never reach a model endpoint off this machine unless live runs are allowed (see _network).
    set_session_default(config.stash[_settings_key].live)


def pytest_unconfigure(config: pytest.Config) -> None:
    set_session_default(True)


def pytest_report_header(config: pytest.Config) -> str | None:
    s = config.stash.get(_settings_key, None)
    if s is None:
        return None
    where = ", ".join(str(p) for p in s.scenarios) or "none configured"
    return (
        f"troupe: record={s.record}, replay={s.replay}, live={'yes' if s.live else 'no'}, scenarios: {where}"
    )


# --------------------------------------------------------------------------- scenario files as items


def _under(path: Path, roots: tuple[Path, ...]) -> bool:
    return any(path == r or r in path.parents for r in roots)


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    s = parent.config.stash.get(_settings_key, None)
    if s is None or not s.scenarios or file_path.suffix not in (".yaml", ".yml"):
        return None
    path = file_path.resolve()
    if not _under(path, s.scenarios) or not _is_scenario(path):
        return None
    parent.config.stash[_seen_key].add(path)
    return ScenarioFile.from_parent(parent, path=file_path)


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(
    session: pytest.Session, config: pytest.Config, items: list[pytest.Item]
) -> None:
    """Collect configured scenario folders that pytest did not walk itself (e.g. outside `testpaths`)."""
    s = config.stash.get(_settings_key, None)
    if s is None or not s.scenarios:
        return
    args = [Path(config.invocation_params.dir, a.split("::")[0]).resolve() for a in config.args]
    seen = config.stash[_seen_key]
    for root in s.scenarios:
        if not root.exists() or any(_under(root, (a,)) for a in args):
            continue  # pytest walked (or will report) it
        if any(_under(a, (root,)) for a in args):
            continue  # the user picked files inside it
        from ._suite import discover

        for f in discover([root]):
            if f in seen:
                continue
            seen.add(f)
            node = ScenarioFile.from_parent(session, path=f)
            items.extend(node.collect())


def _is_scenario(path: Path) -> bool:
    from ._suite import _looks_like_scenario

    return _looks_like_scenario(path)


class ScenarioFile(pytest.File):
    """A scenario file with an `expect` block: one test item."""

    def collect(self) -> Iterator[ScenarioItem]:
        from ..scenario._loader import load_scenario

        name = self.path.stem
        with contextlib.suppress(Exception):  # reported when the item runs, with every issue located
            name = load_scenario(self.path).name
        item = ScenarioItem.from_parent(self, name=name)
        item.add_marker("troupe")
        yield item


class ScenarioFailure(Exception):
    """A scenario item failed; carries the case result for the report."""

    def __init__(self, case: CaseResult) -> None:
        self.case = case
        super().__init__(case.detail)


class ScenarioItem(pytest.Item):
    """Replays the scenario's cassette (or records it, per `--troupe-record`) and checks `expect`."""

    def runtest(self) -> None:
        from ._suite import run_case

        s = self.config.stash[_settings_key]
        modes: dict[str, SuiteMode] = {"none": "replay", "new": "new", "all": "update"}
        case = _run_sync(run_case(self.path, mode=modes[s.record], strict=s.replay == "strict"))
        self.user_properties.append(("messages", case.messages))
        self.user_properties.append(("tokens", case.tokens))
        if case.outcome == "skip":
            pytest.skip(case.detail)
        if case.outcome != "pass":
            raise ScenarioFailure(case)

    def repr_failure(
        self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None
    ) -> str | TerminalRepr:
        if isinstance(excinfo.value, ScenarioFailure):
            c = excinfo.value.case
            return f"scenario {c.scenario} ({c.path}) {c.outcome}ed:\n{c.detail}"
        return super().repr_failure(excinfo)

    def reportinfo(self) -> tuple[Path, int, str]:
        return self.path, 0, f"scenario: {self.name}"


# --------------------------------------------------------------------------- the fixture


def _run_sync(coro: Any) -> Any:
    """Run a coroutine to its end from sync code, also when an event loop is already running here."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        running = False
    else:
        running = True
    if not running:
        return asyncio.run(coro)
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["value"] = asyncio.run(coro)
        except BaseException as e:
            box["error"] = e

    t = threading.Thread(target=target, name="troupe-run")
    t.start()
    t.join()
    if "error" in box:
        raise box["error"]
    return box["value"]


class TroupeRunner:
    """Runs a scenario inside a test: replayed from its cassette, recorded per `--troupe-record`.

    `troupe_run("scenarios/x.yaml")` returns the `RunResult` after checking the scenario's `expect`
    block (`check=False` skips that). In async tests use `await troupe_run.arun(...)`.
    """

    __test__ = False

    def __init__(self, settings: _Settings) -> None:
        self._s = settings

    def __call__(self, scenario: Any, **kw: Any) -> RunResult:
        return _run_sync(self.arun(scenario, **kw))

    async def arun(
        self,
        scenario: Any,
        *,
        cassette: str | Path | None = None,
        task: str | None = None,
        check: bool = True,
        options: Any = None,
    ) -> RunResult:
        from ..errors import CassetteMissing
        from ..runtime._modes import choose_mode, execute
        from ..scenario._loader import load_scenario, resolve_scenario_path
        from ..scenario._schema import Scenario
        from ..tapes._cassette import cassette_path_for
        from ._expect import check_expectations

        if isinstance(scenario, Scenario):
            source = getattr(scenario, "source", None)  # the file it was loaded from, if any
            sc = scenario
            tape = Path(cassette) if cassette is not None else cassette_path_for(source) if source else None
        else:
            path = resolve_scenario_path(scenario)
            sc = load_scenario(path)
            tape = Path(cassette) if cassette is not None else cassette_path_for(path)
        s = self._s
        policies: dict[str, RecordPolicy] = {"none": "never", "new": "missing", "all": "always"}
        try:
            mode = choose_mode(tape, record=policies[s.record], live=s.live)
        except CassetteMissing as e:
            pytest.fail(f"{sc.name}: {e}", pytrace=False)
        guard = network_allowed() if mode == "record" else contextlib.nullcontext()
        with guard:  # recording calls the real model: that is what was asked for
            ran = await execute(
                sc, mode, cassette=tape, strict=s.replay == "strict", task=task, options=options
            )
        if ran.problem is not None:
            pytest.fail(f"{sc.name}: {ran.problem}", pytrace=False)
        result = ran.result
        if check:
            report = check_expectations(result, sc.expect)
            if not report.passed:
                pytest.fail(str(report), pytrace=False)
        return result


@pytest.fixture
def troupe_run(request: pytest.FixtureRequest) -> TroupeRunner:
    """Run a scenario with its cassette: `result = troupe_run("scenarios/time_agent.yaml")`."""
    return TroupeRunner(request.config.stash[_settings_key])
