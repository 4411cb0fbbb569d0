"""`troupe test`: replay every scenario that has a cassette and an `expect` block, and check it.

Each scenario is one case. Replaying is offline and needs no model; `update` records the cassette again
against the real model first. Cases run concurrently (`jobs`): replays in worker processes, recordings in
one event loop, so that they share the in-process engine and its batching.
"""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import os
import signal
import time
from collections.abc import Callable, Coroutine, Iterable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any, Literal
from xml.etree import ElementTree as ET

import yaml
from pydantic import field_validator

from .._redact import redact_text
from ..errors import CassetteMissing, ReplayMismatch, ScenarioError, TroupeError
from ..runtime._logs import quiet_autogen_logs
from ..runtime._modes import RecordPolicy, choose_mode, execute
from ..runtime._signals import STOP_SIGNALS, Interrupted
from ..scenario._base import Frozen
from ..scenario._files import SCENARIO_MAX_BYTES, FileProblem, compose_yaml, read_text
from ..scenario._loader import load_scenario, resolve_scenario_path
from ..tapes._cassette import cassette_path_for
from ._expect import ExpectReport, check_expectations

__all__ = [
    "CaseResult",
    "Mode",
    "SuiteResult",
    "discover",
    "junit_xml",
    "run_case",
    "run_suite",
]

Mode = Literal["replay", "update", "new"]
Outcome = Literal["pass", "fail", "error", "skip"]
_POLICY: dict[str, RecordPolicy] = {"replay": "never", "new": "missing", "update": "always"}
"""replay: from the cassette only; update: record again, then check; new: record only missing cassettes."""

_SKIP_DIRS = {"node_modules", "site-packages", "troupe-runs", "__pycache__", "build", "dist"}


class CaseResult(Frozen):
    """One scenario's outcome. `detail` explains a fail, error or skip."""

    scenario: str
    path: Path
    outcome: Outcome
    messages: int = 0
    tokens: int = 0
    seconds: float = 0.0
    recorded: bool = False
    detail: str = ""
    warnings: tuple[str, ...] = ()
    report: ExpectReport | None = None

    @field_validator("detail")
    @classmethod
    def _redacted(cls, v: str) -> str:  # shown in tables, pytest reports and JUnit files
        return redact_text(v)

    @field_validator("warnings")
    @classmethod
    def _redacted_all(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(redact_text(w) for w in v)


class SuiteResult(Frozen):
    cases: tuple[CaseResult, ...]
    seconds: float

    @property
    def ok(self) -> bool:
        return all(c.outcome in ("pass", "skip") for c in self.cases)

    def count(self, outcome: str) -> int:
        return sum(c.outcome == outcome for c in self.cases)


# --------------------------------------------------------------------------- finding scenarios


def _looks_like_scenario(path: Path) -> bool:
    """A YAML mapping with `team` and `expect` keys (cheap: other YAML files in the tree are not ours).

    Read as scenarios are (bounded), so a FIFO, a huge file or an alias bomb under the folder is skipped,
    never waited on.
    """
    try:
        root = compose_yaml(read_text(path, limit=SCENARIO_MAX_BYTES, what="scenario"), path)
    except FileProblem:
        return False
    if not isinstance(root, yaml.MappingNode):
        return False
    keys = {k.value for k, _ in root.value if isinstance(k, yaml.ScalarNode)}
    return "team" in keys and "expect" in keys


def discover(paths: Sequence[str | os.PathLike[str]]) -> list[Path]:
    """Scenario files: files given by path or bundled name, and YAML files with `team` and `expect` found
    under folders (hidden folders, virtual environments and build output are skipped)."""
    out: list[Path] = []
    for p in paths:
        path = Path(p)
        if path.is_dir():
            out.extend(f for f in _walk(path) if _looks_like_scenario(f))
        else:
            out.append(resolve_scenario_path(p))
    return list(dict.fromkeys(x.resolve() for x in out))


def _walk(root: Path) -> Iterator[Path]:
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(
            d
            for d in dirnames
            if not d.startswith(".")
            and d not in _SKIP_DIRS
            and not (Path(dirpath) / d / "pyvenv.cfg").exists()
        )
        for name in sorted(filenames):
            if name.endswith((".yaml", ".yml")):
                yield Path(dirpath) / name


# --------------------------------------------------------------------------- one case


async def run_case(
    path: str | os.PathLike[str],
    *,
    mode: Mode = "replay",
    strict: bool = True,
    options: Any = None,
    cassette: str | os.PathLike[str] | None = None,
) -> CaseResult:
    """Replay (or record, then check) one scenario file and check its `expect` block."""
    path = Path(path)
    started = time.monotonic()

    def done(outcome: Outcome, **kw: Any) -> CaseResult:
        return CaseResult(
            path=path,
            outcome=outcome,
            seconds=round(time.monotonic() - started, 3),
            **kw,
        )

    try:
        scenario = load_scenario(path)
    except ScenarioError as e:
        return done("error", scenario=path.stem, detail=str(e))
    name = scenario.name
    if scenario.expect is None:
        return done("skip", scenario=name, detail="no expect block")
    tape = Path(cassette) if cassette is not None else cassette_path_for(path)
    try:
        run_mode = choose_mode(tape, record=_POLICY[mode])
    except CassetteMissing as e:
        return done("skip", scenario=name, detail=str(e))
    record = run_mode == "record"
    try:
        ran = await execute(scenario, run_mode, cassette=tape, strict=strict, options=options)
    except ReplayMismatch as e:
        return done("fail", scenario=name, detail=f"replay mismatch: {e}", recorded=record)
    except ScenarioError as e:
        return done("error", scenario=name, detail=str(e), recorded=record)
    except TroupeError as e:
        return done("error", scenario=name, detail=f"{type(e).__name__}: {e}", recorded=record)
    if record and ran.problem is not None:
        return done("error", scenario=name, detail=ran.problem)
    result, warned = ran.result, ran.warnings
    report = check_expectations(result, scenario.expect)
    details = [str(f) for f in report.failures]
    if ran.problem is not None:
        details.append(ran.problem)
    passed = report.passed and ran.problem is None
    return done(
        "pass" if passed else "fail",
        scenario=name,
        messages=len(result.messages),
        tokens=result.usage.total_tokens,
        recorded=record,
        detail="\n".join(details),
        warnings=warned,
        report=report,
    )


def _block_stop_signals() -> set[int]:
    """Block Ctrl-C, SIGTERM and SIGHUP in this thread; returns the mask before.

    A terminal sends them to the whole process group, and the parent alone handles them: it stops
    handing out cases, and a worker finishes its replay (no network, no server) and exits. Processes
    started while they are blocked (workers, multiprocessing's forkserver and resource tracker) keep them
    blocked, so none dies mid-import with a traceback or leaves its pool broken.
    """
    if not hasattr(signal, "pthread_sigmask"):  # pragma: no cover - Windows
        return set()
    return signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)


def _restore_signal_mask(mask: set[int]) -> None:
    if hasattr(signal, "pthread_sigmask"):
        signal.pthread_sigmask(signal.SIG_SETMASK, mask)


def _case_in_worker(path: Path, strict: bool, options: Any) -> CaseResult:
    quiet_autogen_logs()
    return asyncio.run(run_case(path, mode="replay", strict=strict, options=options))


# --------------------------------------------------------------------------- the suite


def run_suite(
    paths: Sequence[str | os.PathLike[str]],
    *,
    jobs: int = 1,
    mode: Mode = "replay",
    strict: bool = True,
    options: Any = None,
    on_case: Callable[[CaseResult], None] | None = None,
    runner: Callable[[Coroutine[Any, Any, Any]], Any] = asyncio.run,
) -> SuiteResult:
    """Run every scenario found under `paths`; call from synchronous code (it runs its own event loop,
    with `runner`: the CLI passes one that stops on SIGTERM and SIGHUP as on Ctrl-C).

    With `jobs` > 1, replays run in that many worker processes and recordings run that many at a time.
    """
    started = time.monotonic()
    files = discover(paths)
    jobs = max(1, jobs)
    if mode == "replay" and jobs > 1 and len(files) > 1:
        cases = _in_processes(files, jobs, strict, options, on_case)
    else:
        cases = runner(_in_loop(files, jobs, mode, strict, options, on_case))
    return SuiteResult(cases=tuple(cases), seconds=round(time.monotonic() - started, 3))


async def _in_loop(
    files: Sequence[Path], jobs: int, mode: Mode, strict: bool, options: Any, on_case: Any
) -> list[CaseResult]:
    gate = asyncio.Semaphore(jobs)

    async def one(f: Path) -> CaseResult:
        async with gate:
            r = await run_case(f, mode=mode, strict=strict, options=options)
        if on_case is not None:
            on_case(r)
        return r

    return list(await asyncio.gather(*(one(f) for f in files)))


def _in_processes(
    files: Sequence[Path], jobs: int, strict: bool, options: Any, on_case: Any
) -> list[CaseResult]:
    methods = multiprocessing.get_all_start_methods()
    ctx = multiprocessing.get_context("forkserver" if "forkserver" in methods else "spawn")
    if ctx.get_start_method() == "forkserver":
        ctx.set_forkserver_preload(["autogen_troupe.testing._suite", "autogen_agentchat.teams"])
    results: dict[Path, CaseResult] = {}
    before = _block_stop_signals()  # a signal for us meanwhile waits for the unblock; it is not lost
    pool: ProcessPoolExecutor | None = None
    try:
        with _stop_flag() as stopped:
            pool = ProcessPoolExecutor(  # its queue's lock starts the resource tracker
                max_workers=min(jobs, len(files)), mp_context=ctx, initializer=_block_stop_signals
            )
            futures = {pool.submit(_case_in_worker, f, strict, options): f for f in files}
            _restore_signal_mask(before)
            for fut in _completed(futures, stopped):
                r = fut.result()
                results[futures[fut]] = r
                if on_case is not None:
                    on_case(r)
    except BaseException:  # interrupted: the cases not started are dropped, not run before we stop
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
        raise
    finally:
        _restore_signal_mask(before)
    pool.shutdown(wait=True)
    return [results[f] for f in files]


@contextlib.contextmanager
def _stop_flag() -> Iterator[list[int]]:
    """A stop signal only noted (the list gets its number) while the pool runs: raised at any point, the
    KeyboardInterrupt could land inside the executor's own locking and leave its shutdown waiting forever
    (a rare hang, with the workers left behind). `_completed` raises it at a safe point instead. Outside
    the main thread nothing is installed, and Ctrl-C acts as before."""
    received: list[int] = []
    previous: dict[signal.Signals, Any] = {}
    try:
        for sig in STOP_SIGNALS:
            if signal.getsignal(sig) != signal.SIG_IGN:
                previous[sig] = signal.signal(sig, lambda signum, frame: received.append(signum))
    except ValueError:  # not the main thread
        pass
    try:
        yield received
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _completed(futures: Iterable[Any], stopped: list[int]) -> Iterator[Any]:
    """The futures as they complete; a noted stop signal raises `Interrupted` between two waits."""
    from concurrent.futures import FIRST_COMPLETED, wait

    pending = set(futures)
    while pending:
        if stopped:
            raise Interrupted(stopped[0])
        done, pending = wait(pending, timeout=0.2, return_when=FIRST_COMPLETED)
        yield from done
    if stopped:
        raise Interrupted(stopped[0])


# --------------------------------------------------------------------------- JUnit XML


def junit_xml(result: SuiteResult, *, suite_name: str = "troupe") -> str:
    """The suite as JUnit XML, which CI systems show as test results."""
    root = ET.Element(
        "testsuite",
        name=suite_name,
        tests=str(len(result.cases)),
        failures=str(result.count("fail")),
        errors=str(result.count("error")),
        skipped=str(result.count("skip")),
        time=f"{result.seconds:.3f}",
    )
    for c in result.cases:
        case = ET.SubElement(
            root,
            "testcase",
            classname=f"{suite_name}.scenarios",
            name=c.scenario,
            file=str(c.path),
            time=f"{c.seconds:.3f}",
        )
        if c.outcome in ("fail", "error"):
            tag = "failure" if c.outcome == "fail" else "error"
            first = c.detail.splitlines()[0] if c.detail else c.outcome
            el = ET.SubElement(case, tag, message=first[:500], type=tag)
            el.text = c.detail
        elif c.outcome == "skip":
            ET.SubElement(case, "skipped", message=c.detail)
        props = ET.SubElement(case, "properties")
        for k, v in (("messages", c.messages), ("tokens", c.tokens), ("recorded", c.recorded)):
            ET.SubElement(props, "property", name=k, value=str(v).lower() if isinstance(v, bool) else str(v))
    ET.indent(root)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
