"""`troupe resume` (continue a cut run from the tape in its transcript) and `troupe fork` (replay a run's
first messages, then go on live with another model). The library does the work (`runtime._resume`,
`runtime._fork`); this parses, renders and sets the exit code as `troupe run` does."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from ._cli_common import BaseUrlOpt, ModelOpt, ProfileOpt, _fail, _overrides, _safe, _stopped_by, err, out
from .errors import TroupeError
from .runtime._signals import exit_code, run_async

__all__ = ["fork", "resume"]


def _recorded_overrides(
    transcript: Path, profile: str | None, base_url: str | None, model: str | None
) -> Any:
    """The run's own model overrides (profile, base URL, model) under the ones given now."""
    from .tapes._tape import ModelsRecord, read_tape

    recorded: dict[str, str] = {}
    for r in read_tape(transcript).of(ModelsRecord):
        recorded.update(r.overrides)
    url = recorded.get("base_url")
    if url is not None and ("***" in url or "<scrubbed>" in url):
        url = None  # masked credentials: the URL must be given again
    return _overrides(profile or recorded.get("profile"), base_url or url, model or recorded.get("model"))


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
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print only the summary.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON on stdout.")] = False,
    profile: ProfileOpt = None,
    base_url: BaseUrlOpt = None,
    model: ModelOpt = None,
) -> None:
    """Continue RUN where it was cut: the recorded part is replayed from its transcript (no model is
    called, no tool runs again), then the run goes on live, appending to the same transcript."""
    from .runtime import RunOptions
    from .runtime._console import ConsoleView
    from .runtime._human import ConsoleAsk
    from .runtime._modes import execute
    from .runtime._resume import find_run
    from .tools._mcp_client import terminal_ask

    try:
        transcript = find_run(run, out_dir)
        options = RunOptions(
            overrides=_recorded_overrides(transcript, profile, base_url, model),
            out_dir=transcript.parent,
            capture_engine_logs=True,
            ask_human=(human := ConsoleAsk(err if as_json else out)),
            ask_mcp=terminal_ask(err if as_json else out, human.read_line),
        )
    except TroupeError as e:
        _fail(e)
    view = ConsoleView(err if as_json else out, quiet=quiet or as_json)
    try:
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
    except KeyboardInterrupt as e:
        err.print(
            f"{_stopped_by(e)}; the transcript so far is in {transcript}; "
            f"go on with: troupe resume {transcript}",
            markup=False,
        )
        raise typer.Exit(exit_code(e)) from None
    except TroupeError as e:
        _fail(e)
    result = done.result
    if as_json:
        from ._redact import redact_data

        typer.echo(json.dumps(redact_data(result.model_dump(mode="json")), indent=2, ensure_ascii=False))
    else:
        view.summary(result)
    if not result.ok:
        err.print(_safe(f"The run stopped: {result.error or result.stop_reason}"), markup=False)
        raise typer.Exit(1)


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
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print only the summary.")] = False,
    profile: ProfileOpt = None,
    base_url: BaseUrlOpt = None,
    model: ModelOpt = None,
) -> None:
    """A new run from RUN: its first --at messages replayed exactly as recorded (no model called, no tool
    run), then live, with the model given here (--profile, --base-url, --model) if any."""
    from .runtime import RunOptions
    from .runtime._console import ConsoleView
    from .runtime._human import ConsoleAsk
    from .runtime._modes import execute
    from .runtime._resume import find_run
    from .tools._mcp_client import terminal_ask

    try:
        transcript = find_run(run, out_dir)
        options = RunOptions(
            overrides=_recorded_overrides(transcript, profile, base_url, model),
            out_dir=out_dir,
            capture_engine_logs=True,
            ask_human=(human := ConsoleAsk(out)),
            ask_mcp=terminal_ask(out, human.read_line),
        )
    except TroupeError as e:
        _fail(e)
    view = ConsoleView(out, quiet=quiet)
    try:
        done = run_async(
            execute(None, "fork", transcript=transcript, at=at, options=options, force=force, on_event=view)
        )
    except KeyboardInterrupt as e:
        err.print(f"{_stopped_by(e)}; the fork so far is in {out_dir}", markup=False)
        raise typer.Exit(exit_code(e)) from None
    except TroupeError as e:
        _fail(e)
    result = done.result
    view.summary(result)
    if not result.ok:
        err.print(_safe(f"The fork stopped: {result.error or result.stop_reason}"), markup=False)
        raise typer.Exit(1)
    if cassette is not None and result.transcript_path is not None:
        from .runtime._tape_runs import unreplayable
        from .tapes._tape import cassette_from_tape, read_tape

        problem = unreplayable(result)
        if problem is not None:
            err.print(_safe(f"No cassette was written: {problem}"), markup=False)
            raise typer.Exit(1)
        cassette_from_tape(read_tape(result.transcript_path)).save(cassette)
        out.print(f"cassette: {cassette}", markup=False, highlight=False, soft_wrap=True)
