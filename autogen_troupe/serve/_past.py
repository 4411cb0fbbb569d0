"""Past runs: the JSONL transcripts in the server's `--out` folder, listed and read back.

A transcript is `run` (header), `models`, one `entry` per message, `result` (last; missing when the
process died mid-run). A past run's id is its file's stem. Files are read bounded and line by line.
Whatever a file holds, a listing answers: a line that is not a JSON object (torn, cut at the read bound,
invalid UTF-8, nested past any sense) or that holds text no answer can carry (a lone surrogate) is
skipped, a field of the wrong type is read as missing, and a file that still cannot be summed up is
listed with a note. Transcripts were masked when written; errors are shown in one paragraph.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
from collections.abc import Iterator, Set
from pathlib import Path
from typing import Any

from .._text import bad_text_path
from ._http import MAX_JSON_DEPTH, json_depth, one_paragraph

__all__ = ["list_past", "read_past"]

_STEM = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,200}$")
_MAX_BYTES = 64 * 1024 * 1024  # a transcript larger than this is listed but not read
_TAIL_BYTES = 256 * 1024
_STATUS = {"rule": "done", "limit": "done", "error": "failed", "interrupted": "stopped"}


def _epoch(value: Any) -> float | None:
    if not isinstance(value, str):
        return None
    try:
        return dt.datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def _json(line: str | bytes) -> dict[str, Any] | None:
    """One record, or None when the line is not one a listing can show."""
    raw = line.encode("utf-8", "surrogatepass") if isinstance(line, str) else line
    if json_depth(raw) > MAX_JSON_DEPTH:
        return None
    try:
        data = json.loads(raw)
    except ValueError:  # UnicodeDecodeError is one
        return None
    return data if isinstance(data, dict) and bad_text_path(data) is None else None


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else 0


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _first_and_last(path: Path) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """The header and the last record, without reading the lines between."""
    with path.open("rb") as f:
        first = _json(f.readline(_TAIL_BYTES))
        size = f.seek(0, os.SEEK_END)
        f.seek(max(0, size - _TAIL_BYTES))
        lines = [x for x in f.read().splitlines() if x.strip()]
    return first, (_json(lines[-1]) if lines else None)


def _tokens(entries: list[dict[str, Any]]) -> dict[str, dict[str, int]]:
    """Tokens by agent, added up from the entries: the one count of a run's tokens (its total is what the
    result record says, and what a run with no result yet has used so far)."""
    tokens: dict[str, dict[str, int]] = {}
    for e in entries:
        u = _dict(e.get("usage"))
        t = tokens.setdefault(
            _str(e.get("source")) or "?", {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0}
        )
        t["prompt_tokens"] += _int(u.get("prompt_tokens"))
        t["completion_tokens"] += _int(u.get("completion_tokens"))
        t["total_tokens"] = t["prompt_tokens"] + t["completion_tokens"]
    return {a: t for a, t in tokens.items() if t["total_tokens"]}


def _first_text(entries: list[dict[str, Any]]) -> str | None:
    """The task, from the first message, when the result that names it is missing."""
    return next((_str(e.get("content")) for e in entries if e.get("kind") == "text"), None)


def _entries(path: Path) -> list[dict[str, Any]]:
    return [
        {k: v for k, v in r.items() if k != "record"} for r in _records(path) if r.get("record") == "entry"
    ]


def _summary(
    path: Path,
    header: dict[str, Any] | None,
    result: dict[str, Any] | None,
    tokens: dict[str, dict[str, int]] | None = None,
) -> dict[str, Any]:
    """A past run as the API lists it; `tokens` (by agent) give the usage of a run with no result."""
    header = header or {}
    result = result if result is not None and result.get("record") == "result" else None
    started = _epoch(header.get("started_at")) or path.stat().st_mtime
    usage = _dict((result or {}).get("usage"))
    if result is None and tokens:  # still going elsewhere, or its process died: what it used so far
        usage = {k: sum(t[k] for t in tokens.values()) for k in ("prompt_tokens", "completion_tokens")}
    prompt, completion = _int(usage.get("prompt_tokens")), _int(usage.get("completion_tokens"))
    duration = (result or {}).get("duration_s")
    out: dict[str, Any] = {
        "id": path.stem,
        "scenario": _str(header.get("scenario")) or path.stem.split("-")[0],
        "task": _str((result or {}).get("task")),
        "origin": "file",
        "status": _STATUS.get(str((result or {}).get("stopped_by")), "unfinished"),
        "started_at": started,
        "elapsed_s": duration if isinstance(duration, int | float) else None,
        "usage": {
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "total_tokens": prompt + completion,
        },
        "pending": None,
        "transcript": path.name,
        "live": False,
        "run_id": _str(header.get("run_id")),
    }
    if result is not None:
        stop_reason, error = _str(result.get("stop_reason")), _str(result.get("error"))
        out.update(
            stop_reason=one_paragraph(stop_reason) if stop_reason and error else stop_reason,
            stopped_by=_str(result.get("stopped_by")),
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
            if header is not None and header.get("run_id") in skip_run_ids:
                continue
            entries: list[dict[str, Any]] = []
            if (last or {}).get("record") != "result":  # no total written: add up what it has (bounded)
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


def _records(path: Path) -> Iterator[dict[str, Any]]:
    with path.open("rb") as f:
        for line in f:
            record = _json(line)
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
    header = records[0] if records and records[0].get("record") == "run" else None
    last = records[-1] if records else None
    entries = [{k: v for k, v in r.items() if k != "record"} for r in records if r.get("record") == "entry"]
    tokens = _tokens(entries)
    summary = _summary(path, header, last, tokens)
    summary["messages"] = sum(1 for e in entries if e.get("kind") == "text")
    if summary["task"] is None:
        summary["task"] = _first_text(entries)
    return {**summary, "tokens_by_agent": tokens, "entries": entries}
