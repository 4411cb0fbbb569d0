"""An eval's results folder: `eval.json` (what was evaluated, how), `runs.jsonl` (one record per finished
run, appended as runs finish: the checkpoint `--resume` reads), `transcripts/` (each run's JSONL
transcript), `summary.json` and `report.html`.

A run is known by its task id and repeat number. When a folder holds two records for one run (a run
that `--resume` did again), the later one counts, so no run is ever counted twice.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import stat
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import IO, Any, Literal

from pydantic import Field, ValidationError

from .._redact import redact_data
from ..errors import UsageError
from ..scenario._base import Frozen
from ..scenario._files import FileProblem, read_text

__all__ = ["EvalMeta", "JudgeVerdict", "Message", "ResultsFolder", "RunRecord", "now"]

FORMAT = 1
RUNS_MAX_BYTES = 1024 * 1024 * 1024  # a million runs of a kilobyte


def now() -> str:
    """The time now, as ISO 8601 in UTC."""
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


class Message(Frozen):
    role: str
    content: str


class JudgeVerdict(Frozen):
    """What the judge was asked and what it answered, and the score read from its answer."""

    model: str
    prompt: tuple[Message, ...] = ()
    answer: str = ""
    score: float | None = None
    passed: bool = False
    problem: str | None = None  # no score could be read, or the judge's model failed
    prompt_tokens: int = 0
    completion_tokens: int = 0
    seconds: float = 0.0


class RunRecord(Frozen):
    """One finished run of one task, scored: a line of `runs.jsonl`."""

    record: Literal["run"] = "run"
    task_id: str
    repeat: int = 0
    digest: str = ""  # of what the run was asked (see EvalTask.digest)
    task: str
    vars: dict[str, Any] = Field(default_factory=dict)
    reference: str | None = None
    outcome: Literal["pass", "fail", "error"]
    checks: dict[str, bool] = Field(default_factory=dict)  # each expectation (and `run`, `judge`): held
    failures: tuple[str, ...] = ()
    judge: JudgeVerdict | None = None
    stop_reason: str = ""
    stopped_by: str = ""
    error: str | None = None
    messages: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    seconds: float = 0.0
    final_message: str = ""
    transcript: str | None = None  # relative to the results folder
    worker: str = ""  # host:pid that ran it
    attempt: int = 1  # > 1: its first worker died and it ran again elsewhere
    finished_at: str = ""

    @property
    def key(self) -> tuple[str, int]:
        return self.task_id, self.repeat

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    @property
    def passed(self) -> bool:
        return self.outcome == "pass"


class EvalMeta(Frozen):
    """What was evaluated and how: `eval.json` of a results folder."""

    format: int = FORMAT
    scenario: str
    scenario_file: str | None = None
    scenario_digest: str
    tasks_file: str
    tasks: int
    repeat: int = 1
    models: dict[str, str] = Field(default_factory=dict)  # agent -> provider and model id
    judge: dict[str, Any] | None = None  # model, scale, passing score, rubric
    concurrency: int = 1
    ray: str | None = None
    started_at: str = ""
    finished_at: str | None = None
    seconds: float = 0.0
    complete: bool = False
    rescored_from: str | None = None  # `troupe eval rescore`: the results whose runs were scored again
    simulated_user: dict[str, Any] | None = None  # `--simulate-user`: its model and default persona


class ResultsFolder:
    """The files of one eval's results; records are redacted before they are written."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self.meta_path = self.path / "eval.json"
        self.runs_path = self.path / "runs.jsonl"
        self.transcripts = self.path / "transcripts"
        self.summary_path = self.path / "summary.json"
        self.report_path = self.path / "report.html"
        self._fh: IO[str] | None = None
        self.skipped_lines = 0  # lines of runs.jsonl that could not be read (a write cut short)

    @property
    def exists(self) -> bool:
        return self.meta_path.exists() or self.runs_path.exists()

    def check_readable(self) -> None:
        """Raise UsageError, in one sentence, unless this is the folder of an eval (one to compare or
        continue)."""
        where = _folder_problem(self.path)
        if where is None and not self.path.exists():
            where = "there is no such folder"
        if where is not None:
            raise UsageError(f"{self.path} is not the results folder of an eval: {where}")
        if not self.meta_path.is_file():
            raise UsageError(
                f"{self.path} is not the results folder of an eval: it holds no eval.json file (what "
                "`troupe eval --out` writes there first)"
            )

    def check_writable(self, *, resume: bool) -> None:
        """Before any run, raise UsageError (one sentence, nothing written) unless the eval can write its
        results here: a folder (or one that can be made), writable, whose result files are files. With
        `resume` it must hold an eval already; without, it must not."""
        problem = _folder_problem(self.path)
        if problem is not None:
            raise UsageError(f"--out {self.path} cannot hold the results of an eval: {problem}")
        if resume:
            self.check_readable()
        elif self.exists:
            raise UsageError(
                f"{self.path} already holds the results of an eval; continue it with --resume, or give "
                "another --out folder"
            )
        for target, folder in self._targets():
            if target.exists() and not (target.is_dir() if folder else target.is_file()):
                want = "a folder" if folder else "a file"
                raise UsageError(
                    f"--out {self.path} cannot hold the results of an eval: {target} is in the way (the eval "
                    f"writes {want} there); move it, or give another --out folder"
                )
        writable = _unwritable(_nearest_folder(self.path))
        if writable is not None:
            raise UsageError(f"--out {self.path} cannot hold the results of an eval: {writable}")

    def _targets(self) -> list[tuple[Path, bool]]:
        """What the eval writes in its folder: (path, whether it is a folder)."""
        tmp = self.meta_path.with_suffix(".json.tmp")
        files = (self.meta_path, tmp, self.runs_path, self.summary_path, self.report_path)
        return [*((f, False) for f in files), (self.transcripts, True)]

    def read_meta(self) -> EvalMeta:
        self.check_readable()
        try:
            return EvalMeta.model_validate_json(
                read_text(self.meta_path, limit=1024 * 1024, what="eval.json")
            )
        except FileProblem as e:
            raise UsageError(f"{self.path} is not the results folder of an eval: {e}") from None
        except ValidationError as e:
            raise UsageError(f"{self.meta_path} is not an eval's eval.json: {e.errors()[0]['msg']}") from None

    def write_meta(self, meta: EvalMeta) -> None:
        self.path.mkdir(parents=True, exist_ok=True)
        tmp = self.meta_path.with_suffix(".json.tmp")
        tmp.write_text(
            json.dumps(redact_data(meta.model_dump(mode="json")), indent=2) + "\n", encoding="utf-8"
        )
        tmp.replace(self.meta_path)

    def load_runs(self) -> dict[tuple[str, int], RunRecord]:
        """Every run recorded, by (task id, repeat); a later record of a run replaces an earlier one.

        Each line is read on its own, as bytes: a line cut short (the eval was killed while writing it,
        perhaps inside a character) is skipped and costs only its own run, which `--resume` makes again.
        Lines end at b"\\n" only: a record's text may hold U+2028 or U+0085, which `str.splitlines` splits.
        """
        self.skipped_lines = 0
        if not self.runs_path.exists():
            return {}
        out: dict[tuple[str, int], RunRecord] = {}
        for line in _read_bounded(self.runs_path).split(b"\n"):
            if not line.strip():
                continue
            record = _record(line)
            if record is None:
                self.skipped_lines += 1
                continue
            out.pop(record.key, None)  # keeps the order of the latest records
            out[record.key] = record
        return out

    def append(self, record: RunRecord) -> None:
        """Add one finished run (flushed at once: the file is the checkpoint `--resume` reads)."""
        if self._fh is None:
            self.path.mkdir(parents=True, exist_ok=True)
            _mend_tail(self.runs_path)
            self._fh = self.runs_path.open("a", encoding="utf-8")
        self._fh.write(json.dumps(redact_data(record.model_dump(mode="json")), ensure_ascii=False) + "\n")
        self._fh.flush()

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None

    def write_transcript(self, name: str, text: str) -> str:
        """A transcript made elsewhere (a Ray worker), kept under `transcripts/`; its relative path."""
        self.transcripts.mkdir(parents=True, exist_ok=True)
        stem, suffix = os.path.splitext(os.path.basename(name))
        target, n = self.transcripts / f"{stem}{suffix}", 1
        while target.exists():  # two workers may stamp the same microsecond
            n += 1
            target = self.transcripts / f"{stem}-{n}{suffix}"
        target.write_text(text, encoding="utf-8")
        return target.relative_to(self.path).as_posix()

    def write_json(self, path: Path, data: Any) -> None:
        path.write_text(json.dumps(redact_data(data), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def _record(line: bytes) -> RunRecord | None:
    try:
        return RunRecord.model_validate_json(line)
    except ValidationError:  # not JSON, not UTF-8, or not a record
        return None


def _read_bounded(path: Path) -> bytes:
    try:
        st = os.stat(path)
        if not stat.S_ISREG(st.st_mode):
            raise UsageError(f"{path} is not a regular file; it should hold the eval's finished runs")
        if st.st_size > RUNS_MAX_BYTES:
            raise UsageError(f"{path} is larger than {RUNS_MAX_BYTES // 2**20} MiB; that is not a runs file")
        with path.open("rb") as fh:
            return fh.read(RUNS_MAX_BYTES + 1)[:RUNS_MAX_BYTES]
    except OSError as e:
        raise UsageError(f"cannot read {path}: {e.strerror or e}") from None


def _mend_tail(path: Path) -> None:
    """Make `path` end with a whole line before records are appended to it, so that none is glued onto a
    line cut short. The unended last line is kept (given its newline) when it is a whole record; otherwise
    it is cut off: its bytes are no record (the run is made again), so cutting loses nothing, whereas a
    newline after them would leave a line that no reader can parse."""
    try:
        fh = path.open("r+b")
    except FileNotFoundError:
        return
    with fh:
        end = fh.seek(0, os.SEEK_END)
        start = end
        while start > 0:  # back to the byte after the last newline, a block at a time
            at = max(0, start - 65536)
            fh.seek(at)
            block = fh.read(start - at)
            nl = block.rfind(b"\n")
            if nl >= 0:
                start = at + nl + 1
                break
            start = at
        if start == end:
            return
        fh.seek(start)
        if _record(fh.read(end - start)) is not None:
            fh.seek(end)
            fh.write(b"\n")
        else:
            fh.truncate(start)


def _folder_problem(path: Path) -> str | None:
    """Why `path` cannot be a folder: it is a file, or a file stands where one of its parents would be."""
    for p in (path, *path.parents):
        try:
            st = os.stat(p)
        except (FileNotFoundError, NotADirectoryError):
            continue
        except OSError as e:
            return f"{p}: {e.strerror or e}"
        if stat.S_ISDIR(st.st_mode):
            return None
        return f"{p} is a file, not a folder" if p == path else f"{p} is a file, so no folder can be below it"
    return None


def _nearest_folder(path: Path) -> Path:
    """`path` or its nearest parent that exists (where the folder would be made)."""
    for p in (path, *path.parents):
        if p.is_dir():
            return p
    return Path(".")


def _unwritable(folder: Path) -> str | None:
    """Why nothing can be written in `folder` (tried, with a file removed at once: permissions alone do
    not tell, root ignores them and a read-only mount or /proc refuses root), or None."""
    try:
        fd, probe = tempfile.mkstemp(prefix=".troupe-eval-", dir=folder)
    except OSError as e:
        return f"nothing can be written in {folder} ({e.strerror or e})"
    os.close(fd)
    os.unlink(probe)
    return None


def latest(records: Iterable[RunRecord]) -> list[RunRecord]:
    """One record per run (the last given), in their order."""
    out: dict[tuple[str, int], RunRecord] = {}
    for r in records:
        out.pop(r.key, None)
        out[r.key] = r
    return list(out.values())
