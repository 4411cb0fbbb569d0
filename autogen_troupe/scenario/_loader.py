"""Reading scenario files: YAML → environment expansion → validated `Scenario`, every problem located.

The YAML is composed into a node tree first so that each pydantic error's `loc` can be walked back to
the line and column it came from.
"""

from __future__ import annotations

import difflib
import functools
import os
import re
import types
import typing
from collections.abc import Iterator, Mapping
from importlib import resources
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from ..errors import Issue, ScenarioError
from ._changes import apply_changes, change_errors
from ._files import SCENARIO_MAX_BYTES, FileProblem, compose_yaml, read_text
from ._located import Loc, Located, dotted, read_located
from ._schema import Scenario, scenario_name_from

__all__ = ["bundled_scenarios", "load_scenario", "load_yaml_located", "resolve_scenario_path"]

_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")
# How pydantic names a member of a union in an error's loc (`literal['allow','ask','deny']`,
# `dict[str,literal[...]]`, `str`, a model's class name): not a key of the file.
_UNION_TAG = re.compile(r"^(?:str|int|float|bool|bytes|none|any|[a-z][a-z0-9_-]*\[.*\]|[A-Z][A-Za-z0-9]*)$")


def load_yaml_located(path: Path, env: Mapping[str, str] | None = None) -> tuple[Any, Located]:
    """Parse a YAML file into plain data with marks; any problem reading it raises a located ScenarioError.

    The file is read bounded (see `_files`): a regular file of at most 1 MiB, UTF-8, plain YAML tags,
    bounded nesting and alias expansion.
    """
    env = os.environ if env is None else env
    try:
        root = compose_yaml(read_text(path, limit=SCENARIO_MAX_BYTES, what="scenario"), path)
    except FileProblem as e:
        raise ScenarioError([Issue(path, e.line, e.column, e.message)]) from None
    if root is None:
        raise ScenarioError([Issue(path, 1, 1, "the file is empty; a scenario needs at least name and team")])
    return read_located(root, path, env=env)


# --------------------------------------------------------------------------- pydantic error → located issue


def _unwrap(tp: Any) -> list[Any]:
    """The model classes (or containers) a field annotation may hold."""
    origin = typing.get_origin(tp)
    if origin is typing.Annotated:
        return _unwrap(typing.get_args(tp)[0])
    if origin in (typing.Union, types.UnionType):
        return [x for a in typing.get_args(tp) for x in _unwrap(a)]
    return [tp]


def _models_at(loc: Loc) -> list[type[BaseModel]]:
    """The pydantic models that the mapping at `loc` may be, walking field annotations."""
    current: list[Any] = [Scenario]
    for part in loc:
        nxt: list[Any] = []
        for tp in current:
            origin = typing.get_origin(tp)
            if isinstance(tp, type) and issubclass(tp, BaseModel):
                field = tp.model_fields.get(str(part))
                if field is not None:
                    nxt.extend(_unwrap(field.annotation))
                elif part == tp.__name__ or (isinstance(part, str) and not isinstance(part, int)):
                    nxt.append(tp)  # a union tag or validator name: stay on this model
            elif origin in (tuple, list) and isinstance(part, int):
                nxt.extend(_unwrap(typing.get_args(tp)[0]))
            elif origin is dict:
                nxt.extend(_unwrap(typing.get_args(tp)[1]))
        current = nxt
    return [t for t in current if isinstance(t, type) and issubclass(t, BaseModel)]


@functools.cache
def _schema_places() -> dict[str, list[str]]:
    """Each key of the schema and the places where it is valid ("" for the top level), nearest first."""
    place: dict[type[BaseModel], str] = {Scenario: ""}
    queue: list[type[BaseModel]] = [Scenario]
    while queue:
        model = queue.pop(0)
        for name, field in model.model_fields.items():
            for tp in _unwrap(field.annotation):
                suffix = ""
                origin = typing.get_origin(tp)
                if origin in (tuple, list):
                    suffix, tp = "[]", typing.get_args(tp)[0]
                elif origin is dict:
                    suffix, tp = ".NAME", typing.get_args(tp)[1]
                for inner in _unwrap(tp):
                    if isinstance(inner, type) and issubclass(inner, BaseModel) and inner not in place:
                        place[inner] = f"{place[model]}.{name}{suffix}".lstrip(".")
                        queue.append(inner)
    out: dict[str, list[str]] = {}
    for model, where in place.items():
        for name in model.model_fields:
            if where not in out.setdefault(name, []):
                out[name].append(where)
    return out


def _where(*places: str) -> str:
    """Where keys belong, in words: at the top level, under `a`, under `a` or `b`."""
    under = [f"`{p}`" for p in places if p]
    words = ["at the top level"] if "" in places else []
    if under:
        words.append("under " + (", ".join(under[:-1]) + " or " + under[-1] if len(under) > 1 else under[0]))
    return " or ".join(words)


def _unknown_key(key: str, data_loc: Loc) -> str:
    """An unknown key's message: where it belongs if it is a key of another section, else did-you-mean."""
    fields = sorted({f for m in _models_at(data_loc[:-1]) for f in m.model_fields})
    elsewhere = {k: v for k, v in _schema_places().items() if k not in fields}
    current = _where(dotted(data_loc[:-1]))
    if key in elsewhere:
        return f"`{key}` belongs {_where(*elsewhere[key][:3])}, not {current}"
    close = difflib.get_close_matches(str(key), fields, n=1, cutoff=0.6)
    if close:
        return f"unknown key {key!r}; did you mean {close[0]!r}?"
    far = difflib.get_close_matches(str(key), list(elsewhere), n=1, cutoff=0.8)
    if far:
        return f"unknown key {key!r}; did you mean `{far[0]}` ({_where(elsewhere[far[0]][0])})?"
    return f"unknown key {key!r}" + (f"; valid keys: {', '.join(fields)}" if fields else "")


def _data_loc(data: Any, loc: Loc) -> Loc:
    """Keep only the parts of a pydantic loc that exist in the data (drops union tags)."""
    out: list[str | int] = []
    cur = data
    for part in loc:
        in_dict = isinstance(cur, dict) and part in cur
        if in_dict or (isinstance(cur, list) and isinstance(part, int) and 0 <= part < len(cur)):
            out.append(part)
            cur = cur[part]
        elif isinstance(cur, dict | list):
            continue
        else:
            # Walking past a scalar: the key is missing or unknown (a union member's tag is neither).
            if isinstance(part, str) and part not in out[-1:] and not _UNION_TAG.match(part):
                out.append(part)
            break
    return tuple(out)


def _message(err: Mapping[str, Any], data_loc: Loc) -> str:
    kind = err["type"]
    if kind == "extra_forbidden":
        return _unknown_key(str(data_loc[-1]) if data_loc else "?", data_loc)
    if kind == "unknown_rule" and isinstance(err.get("input"), dict):
        from ._rules import _RULE_KEYS

        keys = [str(k) for k in err["input"]]
        close = [m for k in keys for m in difflib.get_close_matches(k, list(_RULE_KEYS), n=1, cutoff=0.6)]
        if close:
            return f"unknown termination rule {keys[0]!r}; did you mean {close[0]!r}?"
    if kind == "missing":
        return "required field is missing"
    msg = str(err["msg"])
    return msg.removeprefix("Value error, ")


def _issues_from(e: ValidationError, data: Any, located: Located, path: Path) -> list[Issue]:
    issues: list[Issue] = []
    errors = e.errors(include_url=False)
    for err in errors:
        loc: Loc = tuple(err["loc"])
        if err["type"] == "too_short" and any(
            len(o["loc"]) > len(loc) and o["loc"][: len(loc)] == loc for o in errors
        ):
            continue  # a list whose items failed is reported through its items
        at = (err.get("ctx") or {}).get("at")
        dloc = _data_loc(data, loc)
        if at:
            dloc = _data_loc(data, (*dloc, *at))
        if err["type"] == "missing" and loc and loc[-1] not in dloc[-1:]:
            dloc = (*dloc, loc[-1])
        if err["type"] == "extra_forbidden":
            mark = located.key_marks.get(dloc)
        else:
            mark = located.value_marks.get(dloc) or located.key_marks.get(dloc)
        probe = dloc
        while mark is None and probe:
            probe = probe[:-1]
            mark = located.key_marks.get(probe) or located.value_marks.get(probe)
        mark = mark or located.value_marks.get(())
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        issues.append(Issue(path, line, col, _message(err, dloc), dotted(dloc) or "(top level)"))
    issues.sort(key=lambda i: (i.line, i.column))
    return _one_per_place(issues)


def _one_per_place(issues: list[Issue]) -> list[Issue]:
    """A value that fits none of a union's shapes is one issue saying each shape ("should be 'allow',
    'ask' or 'deny', or a valid dictionary"), not one line per shape."""
    out: list[Issue] = []
    for issue in issues:
        last = out[-1] if out else None
        if last is not None and (last.line, last.column, last.field) == (
            issue.line,
            issue.column,
            issue.field,
        ):
            if issue.message not in last.message:
                said = issue.message.removeprefix("Input should be ")
                out[-1] = Issue(last.path, last.line, last.column, f"{last.message}, or {said}", last.field)
            continue
        out.append(issue)
    return out


# --------------------------------------------------------------------------- public entry points


def bundled_dir() -> Path:
    """Where the shipped scenarios live: inside the wheel, or the repository's top-level folder."""
    inside = Path(str(resources.files("autogen_troupe"))) / "scenarios"
    if inside.is_dir():
        return inside
    return Path(__file__).resolve().parents[2] / "scenarios"


def bundled_scenarios() -> dict[str, Path]:
    """Names of the shipped scenarios and their files."""
    root = bundled_dir()
    return {p.stem: p for p in sorted(root.glob("*.yaml"))} if root.is_dir() else {}


def resolve_scenario_path(path_or_name: str | os.PathLike[str]) -> Path:
    """A path as given, or the file of a bundled scenario of that name."""
    p = Path(path_or_name)
    if p.exists():
        return p
    name = str(path_or_name)
    if _NAME.match(name):
        found = bundled_scenarios().get(name.removesuffix(".yaml"))
        if found:
            return found
        known = ", ".join(bundled_scenarios()) or "none"
        raise ScenarioError(
            [Issue(p, 1, 1, f"no such file, and no bundled scenario named {name!r} (bundled: {known})")]
        )
    raise ScenarioError([Issue(p, 1, 1, "no such file")])


def load_scenario(
    path_or_name: str | os.PathLike[str],
    *,
    env: Mapping[str, str] | None = None,
    changes: Mapping[str, str] | None = None,
) -> Scenario:
    """Load and validate a scenario file (or a bundled scenario by name), with `changes` (`AGENT.FIELD`
    → value, see `_changes`) made to its data first.

    Raises ScenarioError listing every issue found, each with its line and column; a bad change raises
    UsageError naming it.
    """
    path = resolve_scenario_path(path_or_name)
    data, located = load_yaml_located(path, env)
    if isinstance(data, dict) and "name" not in data:
        data["name"] = scenario_name_from(path.stem)
    where: dict[Loc, str] = {}
    if changes:
        data, where = apply_changes(data, changes, fields=Scenario.model_fields)
    try:
        # the folder: files a scenario names (enum_file) are read relative to it
        scenario = Scenario.model_validate(data, context={"folder": path.parent})
    except ValidationError as e:
        if where:
            found = [(_data_loc(data, tuple(x["loc"])), x) for x in e.errors(include_url=False)]
            bad = change_errors(((loc, _message(x, loc)) for loc, x in found), where)
            if bad is not None:
                raise bad from None
        read = {(i.line, i.column) for i in located.issues}  # a value that could not be read is None
        later = [i for i in _issues_from(e, data, located, path) if (i.line, i.column) not in read]
        issues = {(i.line, i.column, i.message): i for i in (*located.issues, *later)}
        raise ScenarioError(sorted(issues.values(), key=lambda i: (i.line, i.column))) from None
    if located.issues:
        raise ScenarioError(located.issues)
    scenario._source = path.resolve()
    return scenario


def iter_scenario_files(paths: list[Path]) -> Iterator[Path]:
    """Scenario files named directly or found (recursively) in folders."""
    for p in paths:
        if p.is_dir():
            yield from sorted(x for x in p.rglob("*.y*ml") if x.suffix in (".yaml", ".yml"))
        else:
            yield p
