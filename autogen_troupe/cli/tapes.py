"""`troupe resume` (continue a cut run from the tape in its transcript) and `troupe fork` (replay a run's
first messages, then go on live with another model). The library does the work (`runtime.execute` with
`resume` and `fork`); this parses, renders and sets the exit code as `troupe run` does."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from .console import err, out
from .errors import Failed, writable_file
from .options import ModelFlags, QuietOpt, ResultJsonOpt
from .stop import handled

if TYPE_CHECKING:
    from ..models import Overrides

__all__ = ["fork", "resume"]


def _recorded_overrides(transcript: Path, endpoint: ModelFlags) -> Overrides:
    """The run's own model overrides (profile, base URL, model) under the ones given now."""
    from ..tapes import ModelsRecord, read_tape

    recorded: dict[str, str] = {}
    for r in read_tape(transcript).of(ModelsRecord):
        recorded.update(r.overrides)
    url = recorded.get("base_url")
    if url is not None and ("***" in url or "<scrubbed>" in url):
        url = None  # masked credentials: the URL must be given again
    return ModelFlags(
        profile=endpoint.profile or recorded.get("profile"),
        base_url=endpoint.base_url or url,
        model=endpoint.model or recorded.get("model"),
    ).overrides()


def resume(
    run: Annotated[str, typer.Argument(help="The transcript the run printed, or its run id under --out.")],
    out_dir: Annotated[Path, typer.Option("--out", help="Folder of the runs (for a run id).")] = Path(
        "troupe-runs"
    ),
    force: Annotated[
        bool, typer.Option("--force", help="Resume though the scenario file changed since the run started.")
    ] = False,
    reissue: Annotated[
        bool, typer.Option("--reissue", help="Make again the tool calls the run was cut in the middle of.")
    ] = False,
    quiet: QuietOpt = False,
    as_json: ResultJsonOpt = False,
    *,
    endpoint: ModelFlags,
) -> None:
    """Continue RUN where it was cut: the recorded part is replayed from its transcript (no model is
    called, no tool runs again), then the run goes on live, appending to the same transcript."""
    from .._redact import redact_data
    from ..runtime import ConsoleAsk, RunOptions, execute, find_run, run_async
    from ..tools import terminal_ask
    from .run_view import ConsoleView

    console = err if as_json else out
    transcript = find_run(run, out_dir)
    options = RunOptions(
        overrides=_recorded_overrides(transcript, endpoint),
        out_dir=transcript.parent,
        capture_engine_logs=True,
        ask_human=(human := ConsoleAsk(console)),
        ask_mcp=terminal_ask(console, human.read_line),
    )
    view = ConsoleView(console, quiet=quiet or as_json)
    going_on = f"the transcript so far is in {transcript}; go on with: troupe resume {transcript}"
    with handled(lambda e: going_on):
        done = run_async(
            execute(
                None,
                "resume",
                transcript=transcript,
                options=options,
                force=force,
                reissue=reissue,
                on_event=view,
            )
        )
    result = done.result
    if as_json:
        typer.echo(json.dumps(redact_data(result.model_dump(mode="json")), indent=2, ensure_ascii=False))
    else:
        view.summary(result)
    if not result.ok:
        raise Failed(f"The run stopped: {result.error or result.stop_reason}")


def fork(
    run: Annotated[str, typer.Argument(help="The transcript of the run, or its run id under --out.")],
    at: Annotated[int, typer.Option("--at", min=1, help="Replay this many messages (the task is 1).")],
    out_dir: Annotated[
        Path, typer.Option("--out", help="Folder of the runs (the fork goes there too).")
    ] = Path("troupe-runs"),
    cassette: Annotated[
        Path | None,
        typer.Option("--cassette", help="Also write the fork's tape as a cassette (troupe test)."),
    ] = None,
    force: Annotated[
        bool, typer.Option("--force", help="Fork though the scenario file changed since the run started.")
    ] = False,
    task: Annotated[
        str | None, typer.Option("--task", help="Another task: message 1 of the fork, as the models see it.")
    ] = None,
    sets: Annotated[
        list[str] | None,
        typer.Option(
            "--set",
            metavar="AGENT.FIELD=VALUE",
            help="Change a field of the scenario from message N+1 (repeatable): an agent's "
            "(planner.system_message=..., planner.model=PROFILE), the team's (team.max_turns=3) or a "
            "top-level one (limits.timeout_s=60).",
        ),
    ] = None,
    quiet: QuietOpt = False,
    *,
    endpoint: ModelFlags,
) -> None:
    """A new run from RUN: its first --at messages replayed exactly as recorded (no model called, no tool
    run), then live, with the model given here (--profile, --base-url, --model), the task (--task) and
    the scenario's fields (--set) changed if given."""
    from ..runtime import (
        ConsoleAsk,
        RunOptions,
        changed_scenario_text,
        execute,
        find_run,
        run_async,
        unreplayable,
    )
    from ..scenario import parse_change
    from ..tapes import cassette_from_tape, read_tape
    from ..tools import terminal_ask
    from .run_view import ConsoleView

    changes = dict(parse_change(s) for s in sets or ())
    writable_file(cassette, "--cassette", "fork.cassette.json")  # before the run: it is written at the end
    transcript = find_run(run, out_dir)
    options = RunOptions(
        overrides=_recorded_overrides(transcript, endpoint),
        out_dir=out_dir,
        capture_engine_logs=True,
        ask_human=(human := ConsoleAsk(out)),
        ask_mcp=terminal_ask(out, human.read_line),
    )
    view = ConsoleView(out, quiet=quiet)
    with handled(lambda e: f"the fork so far is in {out_dir}"):
        done = run_async(
            execute(
                None,
                "fork",
                transcript=transcript,
                at=at,
                options=options,
                force=force,
                on_event=view,
                task=task,
                changes=changes,
            )
        )
    result = done.result
    view.summary(result)
    if not result.ok:
        raise Failed(f"The fork stopped: {result.error or result.stop_reason}")
    if cassette is not None and result.transcript_path is not None:
        problem = unreplayable(result)
        if problem is not None:
            raise Failed(f"No cassette was written: {problem}")
        stem = cassette.name.removesuffix(".cassette.json").removesuffix(".json")
        beside = cassette.with_name(stem + ".yaml")
        changed = changed_scenario_text(result, beside.parent)
        if changed is not None and _same_file(beside, read_tape(transcript).header):
            raise Failed(
                f"No cassette was written: the fork changed the scenario, which is written beside the "
                f"cassette as {beside}, the run's own scenario file; give --cassette a name of its own"
            )
        cassette_from_tape(read_tape(result.transcript_path)).save(cassette)
        out.print(f"cassette: {cassette}", markup=False, highlight=False, soft_wrap=True)
        if changed is not None:  # what the cassette replays against: `troupe test` finds it by name
            beside.write_text(changed, encoding="utf-8")
            out.print(f"scenario: {beside}", markup=False, highlight=False, soft_wrap=True)


def _same_file(path: Path, header: Any) -> bool:
    source = getattr(header, "source", None)
    return source is not None and path.resolve() == Path(source).resolve()
