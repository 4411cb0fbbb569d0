"""Past runs: the JSONL transcripts in the server's `--out` folder, listed and read back.

A transcript is `run` (header), `models`, one `entry` per message, the tape's records, `result` (last;
missing when the process died mid-run). Each line is read as the tape room reads it (`parse_line`: the
one typed union of records), so a listing sees what `troupe resume` sees. A past run's id is its file's
stem. Files are read bounded and line by line. Whatever a file holds, a listing answers: a line that is
not a JSON object (torn, cut at the read bound, invalid UTF-8, nested past any sense), that holds text no
answer can carry (a lone surrogate), or whose fields do not fit its record is skipped, and a file that
still cannot be summed up is listed with a note. Transcripts were masked when written; errors are shown
in one paragraph.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator, Set
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from .._text import bad_text_path
from ..tapes._records import ENTRY_TYPES, Entry, Text, Usage
from ..tapes._tape import Record, ResultRecord, RunHeader, parse_line
from ._http import MAX_JSON_DEPTH, json_depth, one_paragraph

__all__ = ["list_past", "read_past"]

_STEM = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,200}$")
_MAX_BYTES = 64 * 1024 * 1024  # a transcript larger than this is listed but not read
_TAIL_BYTES = 256 * 1024
_STATUS = {"rule": "done", "limit": "done", "error": "failed", "interrupted": "stopped"}


def _record(line: str | bytes) -> Record | None:
    """One typed record (tapes' own reading of a line), or None when the line is not one a listing can
    show: not a JSON object, nested too deep, holding a lone surrogate, or with fields that do not fit."""
    raw = line.encode("utf-8", "surrogatepass") if isinstance(line, str) else line
    if json_depth(raw) > MAX_JSON_DEPTH:
        return None
    try:
        data = json.loads(raw)
    except ValueError:  # UnicodeDecodeError is one
        return None
    if not isinstance(data, dict) or bad_text_path(data) is not None:
        return None
    try:
        return parse_line(data)
    except ValidationError:
        return None


def _first_and_last(path: Path) -> tuple[Record | None, Record | None]:
    """The header and the last record, without reading the lines between."""
    with path.open("rb") as f:
        first = _record(f.readline(_TAIL_BYTES))
        size = f.seek(0, os.SEEK_END)
        f.seek(max(0, size - _TAIL_BYTES))
        lines = [x for x in f.read().splitlines() if x.strip()]
    return first, (_record(lines[-1]) if lines else None)


def _tokens(entries: list[Entry]) -> dict[str, dict[str, int]]:
    """Tokens by agent, added up from the entries: the one count of a run's tokens (its total is what the
    result record says, and what a run with no result yet has used so far)."""
    tokens: dict[str, dict[str, int]] = {}
    for e in entries:
        u = e.usage or Usage()
        t = tokens.setdefault(e.source, {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0})
        t["prompt_tokens"] += u.prompt_tokens
        t["completion_tokens"] += u.completion_tokens
        t["total_tokens"] = t["prompt_tokens"] + t["completion_tokens"]
    return {a: t for a, t in tokens.items() if t["total_tokens"]}


def _first_text(entries: list[Entry]) -> str | None:
    """The task, from the first message, when the result that names it is missing."""
    return next((e.content for e in entries if isinstance(e, Text)), None)


def _entries(path: Path) -> list[Entry]:
    return [r for r in _records(path) if isinstance(r, ENTRY_TYPES)]


def _summary(
    path: Path,
    header: Record | None,
    last: Record | None,
    tokens: dict[str, dict[str, int]] | None = None,
) -> dict[str, Any]:
    """A past run as the API lists it; `tokens` (by agent) give the usage of a run with no result."""
    head = header if isinstance(header, RunHeader) else None
    result = last if isinstance(last, ResultRecord) else None
    started = head.started_at.timestamp() if head is not None else path.stat().st_mtime
    usage = result.usage if result is not None else Usage()
    if result is None and tokens:  # still going elsewhere, or its process died: what it used so far
        usage = Usage(
            **{k: sum(t[k] for t in tokens.values()) for k in ("prompt_tokens", "completion_tokens")}
        )
    out: dict[str, Any] = {
        "id": path.stem,
        "scenario": head.scenario if head is not None else path.stem.split("-")[0],
        "task": result.task if result is not None else None,
        "origin": "file",
        "status": _STATUS[result.stop.kind] if result is not None else "unfinished",
        "started_at": started,
        "elapsed_s": result.duration_s if result is not None else None,
        "usage": {
            "prompt_tokens": usage.prompt_tokens,
            "completion_tokens": usage.completion_tokens,
            "total_tokens": usage.total_tokens,
        },
        "pending": None,
        "transcript": path.name,
        "live": False,
        "run_id": head.run_id if head is not None else None,
    }
    if result is not None:
        stop, error = result.stop, result.error
        out.update(
            stop_reason=one_paragraph(stop.text) if stop.text and error else stop.text,
            stopped_by=stop.kind,
            stop=stop.model_dump(mode="json"),
        )
        if error:
            out["error"] = one_paragraph(error)
    return out


def _unreadable(path: Path, e: Exception) -> dict[str, Any]:
    """A transcript that could not be summed up, listed with why (it may be fixed or removed by hand)."""
    summary = _summary(path, None, None)
    summary["note"] = f"this transcript could not be read: {type(e).__name__}"
    return summary


def _transcripts(out_dir: Path) -> list[Path]:
    try:
        files = [p for p in out_dir.glob("*.jsonl") if p.is_file() and _STEM.match(p.stem)]
    except OSError:
        return []
    return sorted(files, key=lambda p: p.stat().st_mtime, reverse=True)


def list_past(
    out_dir: Path, *, skip_run_ids: Set[str] = frozenset(), limit: int = 200
) -> list[dict[str, Any]]:
    """The newest `limit` transcripts, newest first, less those of runs still held in memory."""
    out = []
    for path in _transcripts(out_dir)[: limit + len(skip_run_ids)]:
        try:
            header, last = _first_and_last(path)
            if isinstance(header, RunHeader) and header.run_id in skip_run_ids:
                continue
            entries: list[Entry] = []
            if not isinstance(last, ResultRecord):  # no total written: add up what it has (bounded)
                entries = _entries(path) if path.stat().st_size <= _MAX_BYTES else []
            summary = _summary(path, header, last, _tokens(entries))
            if summary["task"] is None:
                summary["task"] = _first_text(entries)
            out.append(summary)
        except OSError:
            continue
        except Exception as e:  # whatever else is in the file: the listing still answers
            out.append(_unreadable(path, e))
    return out[:limit]


def _records(path: Path) -> Iterator[Record]:
    with path.open("rb") as f:
        for line in f:
            record = _record(line)
            if record is not None:
                yield record


def read_past(out_dir: Path, run_id: str) -> dict[str, Any] | None:
    """A past run (its summary, `entries` and `tokens_by_agent`) by file stem; None if there is none."""
    if not _STEM.match(run_id):
        return None
    path = out_dir / f"{run_id}.jsonl"
    try:
        if path.resolve().parent != out_dir.resolve() or not path.is_file():
            return None
        if path.stat().st_size > _MAX_BYTES:
            header, last = _first_and_last(path)
            return {**_summary(path, header, last), "entries": [], "too_large": True}
        records = list(_records(path))
    except OSError:
        return None
    header = records[0] if records else None
    last = records[-1] if records else None
    entries = [r for r in records if isinstance(r, ENTRY_TYPES)]
    tokens = _tokens(entries)
    summary = _summary(path, header, last, tokens)
    summary["messages"] = sum(1 for e in entries if isinstance(e, Text))
    if summary["task"] is None:
        summary["task"] = _first_text(entries)
    shown = [e.model_dump(mode="json") for e in entries]
    return {**summary, "tokens_by_agent": tokens, "entries": shown}
