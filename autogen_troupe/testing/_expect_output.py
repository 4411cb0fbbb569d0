"""`expect: agents: NAME: output:` — fields of an agent's last structured answer (its output_schema), each
checked by a dotted path (`days`, `days.0.city`): equals, contains, regex, min_items, max_items, present.
Imports no AutoGen code."""

from __future__ import annotations

import json
import re
from typing import Any

from ..runtime._transcript import RunResult, Text
from ..scenario._expectations import FieldExpectation
from ..scenario._output_schema import walk_output

__all__ = ["output_failures"]


def _q(v: Any) -> str:
    return json.dumps(v, ensure_ascii=False)


def _size(v: Any) -> int | None:
    return len(v) if isinstance(v, list | str | dict) else None


def _field(path: str, want: FieldExpectation, found: list[Any]) -> list[tuple[str, str, str]]:
    """(expectation, expected, got) for each part of one field's expectation that does not hold."""
    set_ = want.model_fields_set
    value = found[0] if found else None
    there = bool(found) and value is not None
    got = _q(value) if found else "no such field"
    out: list[tuple[str, str, str]] = []
    if want.present is not None and there != want.present:
        out.append(("present", "the field " + ("present" if want.present else "absent"), got))
    if "equals" in set_ and (not found or value != want.equals):
        out.append(("equals", f"exactly {_q(want.equals)}", got))
    if "contains" in set_:
        if isinstance(value, str) and isinstance(want.contains, str):
            ok = want.contains in value
        else:
            ok = isinstance(value, list) and want.contains in value
        if not ok:
            out.append(("contains", f"text or a list holding {_q(want.contains)}", got))
    if want.regex is not None and not (isinstance(value, str) and re.search(want.regex, value)):
        out.append(("regex", f"text matching /{want.regex}/", got))
    size = _size(value)
    if want.min_items is not None and (size is None or size < want.min_items):
        out.append(("min_items", f"at least {want.min_items} items", got if size is None else f"{size}"))
    if want.max_items is not None and (size is None or size > want.max_items):
        out.append(("max_items", f"at most {want.max_items} items", got if size is None else f"{size}"))
    return out


def output_failures(
    name: str, fields: dict[str, FieldExpectation], result: RunResult
) -> list[tuple[str, str, str]]:
    """(expectation path, expected, got) for every field expectation on `name`'s last structured answer."""
    base = f"agents.{name}.output"
    answers = [e for e in result.transcript if isinstance(e, Text) and e.source == name and e.structured]
    if not answers:
        return [(base, f"a structured answer from {name} (output_schema)", "none")]
    data = answers[-1].structured
    out = []
    for path, want in fields.items():
        for key, expected, got in _field(path, want, list(walk_output(data, path))):
            out.append((f"{base}.{path}.{key}", expected, got))
    return out
