"""`troupe fork`: a new run that replays the first N messages of a recorded run exactly, then goes on live
with something changed: the model (by the run's options), the task, or fields of the scenario (`--set`).

The fork's transcript is a run of its own (its header names the run it came from and N), and its tape holds
every call, the replayed ones included: a whole cassette, which `troupe test` can replay.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from ..errors import Issue, ScenarioError, UsageError
from ..tapes._records import Handoff, RunResult, Text
from ..tapes._resume import ResumeSession
from ..tapes._tape import Tape, read_tape
from ._resume import Continuation, check_source

__all__ = ["changed_scenario_text", "cut_tape", "fork_run"]


def cut_tape(tape: Tape, at: int) -> Tape:
    """The tape up to and with its `at`-th message (the task is the first); what follows is dropped."""
    if at < 1:
        raise UsageError("--at counts messages from 1 (the task is message 1)")
    seen = 0
    for i, record in enumerate(tape.records):
        if isinstance(record, Text | Handoff):
            seen += 1
            if seen == at:
                return tape.model_copy(update={"records": tape.records[: i + 1]})
    raise UsageError(f"{tape.path}: the run has {seen} message(s); fork it --at 1 to {seen}")


async def fork_run(
    transcript: Path,
    *,
    at: int,
    options: Any,
    force: bool = False,
    on_event: Callable[[Any], None] | None = None,
    task: str | None = None,
    changes: Mapping[str, str] | None = None,
) -> RunResult:
    """Run the fork (see the module's docstring); `options.out_dir` is where its transcript goes.

    `task` replaces the run's task (message 1) and `changes` (`AGENT.FIELD` → value, as `--set` gives
    them) change the scenario file's data before it is validated; both take effect from message N+1
    (the replayed messages stay as recorded: each agent's model calls get its recorded answers in order).
    """
    from ..scenario import load_scenario
    from ._runner import run_scenario

    tape = read_tape(transcript)
    header = tape.header
    if header is None:
        raise ScenarioError([Issue(transcript, 1, 1, "not a run's transcript (no `run` header)")])
    source, changed = check_source(transcript, tape, force=force)
    every = {**header.changes, **(changes or {})}  # a fork of a fork keeps its parent's changes
    scenario = load_scenario(source, changes=every) if every else load_scenario(source)
    cut = cut_tape(tape, at)
    new_task = task is not None and task != header.task
    session = ResumeSession(
        cut, scenario, settings_as_recorded=True, by_order=new_task or every != header.changes
    )
    fork = Continuation(tape=cut, session=session, spent_s=0.0, forced=changed, fork_at=at, changes=every)
    return await run_scenario(
        scenario,
        task=task if task is not None else header.task,
        options=options,
        on_event=on_event,
        continuation=fork,
    )


def changed_scenario_text(result: RunResult, folder: Path) -> str | None:
    """The YAML of a fork's scenario with its `--set` changes and task, for a cassette to replay against
    (None when the fork changed neither). Read from the file's own text, so `${VAR}`s stay unexpanded.
    It is to be written in `folder`: a file the scenario names by a relative path is named from there."""
    import yaml

    from ..scenario._changes import apply_changes
    from ..scenario._schema import Scenario

    if result.transcript_path is None:
        return None
    header = read_tape(result.transcript_path).header
    if header is None or header.forked_from is None or header.source_text is None:
        return None
    data, _ = apply_changes(yaml.safe_load(header.source_text), header.changes, fields=Scenario.model_fields)
    if not header.changes and (header.task is None or data.get("task") == header.task):
        return None
    data.setdefault("name", header.scenario)  # a file named elsewhere would take the new file's name
    if header.task is not None:
        data["task"] = header.task
    if header.source is not None:
        _rename_enum_files(data, Path(header.source).parent, folder)
    return str(yaml.safe_dump(data, sort_keys=False, allow_unicode=True))


def _rename_enum_files(data: dict[str, Any], was: Path, now: Path) -> None:
    """Each `enum_file` under `mcp_servers.*.arguments`, relative to `was`, renamed relative to `now`. The
    data is a scenario the fork loaded, so of the schema's shape. A rule a YAML alias shares is one object:
    it is replaced, not changed, so it is renamed once."""
    for server in (data.get("mcp_servers") or {}).values():
        for arguments in (server.get("arguments") or {}).values():
            for name, rule in arguments.items():
                given = rule.get("enum_file")
                if given is not None and not Path(given).is_absolute():
                    renamed = os.path.relpath((was / given).resolve(), now.resolve())
                    arguments[name] = {**rule, "enum_file": renamed}
