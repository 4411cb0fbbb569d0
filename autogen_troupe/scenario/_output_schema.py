"""An agent's structured output (`output_schema:`): a JSON Schema written in the scenario, or a pydantic
model named by import path `package.module:Class`.

An inline schema is checked when the file loads (against JSON Schema's meta-schema, then against the
subset we turn into a pydantic model), each problem located at its key; AutoGen's structured messages need
a pydantic model (`AssistantAgent(output_content_type=...)`), so one is built from it here. A model named
by import path is imported when the team is built, as Python tools are: `troupe check` runs no user code.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterator, Mapping, Sequence
from typing import Annotated, Any, Literal, TypeAlias

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, create_model
from pydantic_core import PydanticCustomError

from ._fields import _fail

__all__ = [
    "OutputSchemaSpec",
    "check_expected_outputs",
    "check_output_value",
    "output_model",
    "output_properties",
    "walk_output",
]

_REF = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$")
_PROPERTY = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]{0,63}$")
_SCALARS: dict[str, type] = {"string": str, "integer": int, "number": float, "boolean": bool}
_SUPPORTED = frozenset(
    {
        "$schema", "$defs", "definitions", "$ref", "title", "description", "default", "examples", "type",
        "properties", "required", "additionalProperties", "items", "enum", "const", "minItems", "maxItems",
        "minLength", "maxLength", "pattern", "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum",
        "format",
    }
)  # fmt: skip
_APPLIES = {
    "array": {"minItems", "maxItems"},
    "string": {"minLength", "maxLength", "pattern"},
    "integer": {"minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"},
    "number": {"minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"},
}
_CONSTRAINTS = {
    "minItems": "min_length", "maxItems": "max_length", "minLength": "min_length",
    "maxLength": "max_length", "pattern": "pattern", "minimum": "ge", "maximum": "le",
    "exclusiveMinimum": "gt", "exclusiveMaximum": "lt",
}  # fmt: skip
_MAX_DEPTH = 16


class StructuredOutput(BaseModel):
    """The base of a model built from a scenario's JSON Schema: unknown keys refused (as strict decoding
    would), fields named by the schema's own property names."""

    model_config = ConfigDict(extra="forbid", frozen=True, serialize_by_alias=True, validate_by_alias=True)


Loc: TypeAlias = tuple[str | int, ...]


def _check_meta(schema: dict[str, Any]) -> None:
    """JSON Schema's own rules (draft 2020-12): a `minItems: three` is refused here, located."""
    from jsonschema import Draft202012Validator, SchemaError  # type: ignore[import-untyped]

    try:
        Draft202012Validator.check_schema(schema)
    except SchemaError as e:
        raise _fail(f"not a valid JSON Schema: {e.message}", *e.relative_path) from None


class _Builder:
    """JSON Schema (our subset) → pydantic types, every problem a located error below `output_schema`."""

    def __init__(self, root: dict[str, Any], name: str) -> None:
        self.defs: dict[str, Any] = {**root.get("definitions", {}), **root.get("$defs", {})}
        self.name = name
        self.models = 0

    def model(self, s: Any, at: Loc, name: str, depth: int = 0) -> type[BaseModel]:
        props = s.get("properties")
        if not isinstance(props, dict) or not props:
            raise _fail("an object needs `properties` (at least one)", *at)
        required = s.get("required", [])
        for j, r in enumerate(required):
            if r not in props:
                raise _fail(f"required names {r!r}, which is not among the properties", *at, "required", j)
        fields: dict[str, Any] = {}
        for i, (key, sub) in enumerate(props.items()):
            if not _PROPERTY.match(key):
                raise _fail(
                    f"property name {key[:40]!r}: use letters, digits, _ and - (at most 64)",
                    *at,
                    "properties",
                    key,
                )
            tp = self.type(sub, (*at, "properties", key), f"{name}_{key}", depth + 1)
            extra: dict[str, Any] = {"alias": key}
            if isinstance(sub, dict) and isinstance(sub.get("description"), str):
                extra["description"] = sub["description"]
            if key in required:
                fields[f"f{i}"] = (tp, Field(..., **extra))
            else:
                fields[f"f{i}"] = (tp | None, Field(None, **extra))
        self.models += 1
        title = s.get("title") if isinstance(s.get("title"), str) and _PROPERTY.match(s["title"]) else name
        return create_model(title, __base__=StructuredOutput, **fields)

    def type(self, s: Any, at: Loc, name: str, depth: int) -> Any:
        if depth > _MAX_DEPTH:
            raise _fail(f"the schema nests more than {_MAX_DEPTH} levels deep (or a $ref loops)", *at)
        if s is True or s == {}:
            return Any
        if not isinstance(s, dict):
            raise _fail("a schema here must be a mapping", *at)
        for k in s:
            if k not in _SUPPORTED:
                raise _fail(
                    f"{k!r} is not supported in output_schema (supported: {', '.join(sorted(_SUPPORTED))})",
                    *at,
                    k,
                )
        if "$ref" in s:
            ref = s["$ref"]
            key = ref.rpartition("/")[2]
            if not re.match(r"^#/(\$defs|definitions)/[^/]+$", ref) or key not in self.defs:
                raise _fail(
                    f"$ref {ref!r} names nothing under $defs (only local #/$defs/NAME refs)", *at, "$ref"
                )
            return self.type(self.defs[key], at, key, depth + 1)
        if "const" in s:
            return Literal[s["const"]] if _scalar(s["const"]) else _bad_scalar(at, "const")
        if "enum" in s:
            values = s["enum"]
            if not all(_scalar(v) for v in values):
                raise _fail("enum values must be strings, numbers, booleans or null", *at, "enum")
            return Literal[tuple(values)]
        kind = s.get("type")
        if kind is None:
            raise _fail(
                "give a `type` (string, integer, number, boolean, array or object), an enum or a $ref", *at
            )
        if isinstance(kind, list):
            kinds = [k for k in kind if k != "null"]
            if len(kinds) != 1:
                raise _fail("a list of types holds one type, and null for an optional value", *at, "type")
            tp = self.type({**s, "type": kinds[0]}, at, name, depth)
            return tp | None if "null" in kind else tp
        if kind == "null":
            return None
        for k in s:
            if k in _CONSTRAINTS and k not in _APPLIES.get(kind, ()):
                raise _fail(f"{k} does not apply to type {kind!r}", *at, k)
        if "pattern" in s:
            _check_pattern(s["pattern"], at)
        constraints = {_CONSTRAINTS[k]: v for k, v in s.items() if k in _CONSTRAINTS}
        if kind == "object":
            if "properties" not in s:
                extra = s.get("additionalProperties", True)
                value = (
                    Any if extra is True else self.type(extra, (*at, "additionalProperties"), name, depth + 1)
                )
                return dict[str, value]  # type: ignore[valid-type]
            return self.model(s, at, name, depth)
        if kind == "array":
            item = self.type(s.get("items", True), (*at, "items"), f"{name}_item", depth + 1)
            return Annotated[list[item], Field(**constraints)] if constraints else list[item]  # type: ignore[valid-type]
        return Annotated[_SCALARS[kind], Field(strict=True, **constraints)]


def _check_pattern(pattern: Any, at: Loc) -> None:
    """A pattern the answers are checked with, by pydantic's engine (Rust's `regex`: linear time, so a
    pattern cannot hang a run on a model's answer; no look-around, no back-references)."""
    from pydantic_core import SchemaError

    try:
        TypeAdapter(Annotated[str, Field(pattern=pattern)])
    except SchemaError as e:
        said = [line.removeprefix("error:").strip() for line in str(e).splitlines() if line.strip()]
        why = said[-1] if said else "it does not compile"
        raise _fail(
            f"pattern {pattern!r} cannot be used: {why} (answers are checked with Rust's regex engine, "
            "which has no look-around or back-references)",
            *at,
            "pattern",
        ) from None


def _scalar(v: Any) -> bool:
    return v is None or isinstance(v, str | int | float | bool)


def _bad_scalar(at: Loc, key: str) -> Any:
    raise _fail(f"{key} must be a string, number, boolean or null", *at, key)


def _root_problem(schema: dict[str, Any]) -> None:
    if schema.get("type") != "object":
        raise _fail(
            "the top of an output_schema is an object (`type: object` with `properties`)",
            *(("type",) if "type" in schema else ()),
        )


@functools.lru_cache(maxsize=64)
def _built(text: str, name: str) -> type[BaseModel]:
    schema = json.loads(text)
    _check_meta(schema)
    _root_problem(schema)
    try:
        return _Builder(schema, name).model(schema, (), name)
    except PydanticCustomError:
        raise
    except Exception as e:  # a combination pydantic cannot build: said, never a traceback
        said = " ".join(str(e).split())  # one paragraph, as every error
        raise _fail(f"cannot be turned into a model: {type(e).__name__}: {said}") from None


def output_model(schema: dict[str, Any], name: str) -> type[BaseModel]:
    """The pydantic model of an inline output schema (cached); a problem raises a located error."""
    return _built(json.dumps(schema), name)  # key order kept: it is the order fields are written in


def _checked(v: str | dict[str, Any]) -> str | dict[str, Any]:
    if isinstance(v, str):
        if not _REF.match(v):
            raise ValueError(
                f"{v[:80]!r} is not an import path of the form 'package.module:Model' (or write the JSON "
                "Schema itself as a mapping)"
            )
        return v
    output_model(v, "Output")
    return v


OutputSchemaSpec = Annotated[
    str | dict[str, Any],
    AfterValidator(_checked),
    Field(
        description="The agent answers with JSON following this: a JSON Schema (type: object with "
        "properties) or a pydantic model by import path 'package.module:Model'.",
    ),
]


def output_properties(model: type[BaseModel]) -> dict[str, Any]:
    """Field name as the model's JSON says it → the type it takes."""
    return {(f.alias or n): f.annotation for n, f in model.model_fields.items()}


def check_output_value(model: type[BaseModel], key: str, value: Any) -> str | None:
    """Why `key: value` can never be in `model`'s output (an unknown field, a wrong type or enum), or None."""
    fields = output_properties(model)
    if key not in fields:
        return f"the output has no field {key!r} (fields: {', '.join(fields)})"
    try:
        TypeAdapter(fields[key]).validate_python(value, strict=True)
    except ValidationError as e:
        first = e.errors(include_url=False)[0]
        return f"{json.dumps(value)} can never be the value of {key!r}: {first['msg']}"
    return None


def check_expected_outputs(expect: Any, agents: Sequence[Any]) -> None:
    """`expect: agents: NAME: output:` names an agent with an output_schema, and (for an inline schema)
    fields its answer can have: a located error otherwise."""
    if expect is None:
        return
    schemas = {a.name: a.output_schema for a in agents}
    for name, want in expect.agents.items():
        for path in want.output or {}:
            at = ("expect", "agents", name, "output", path)
            schema = schemas.get(name)
            if schema is None:
                raise _fail(f"{name!r} has no output_schema, so it gives no structured answer to check", *at)
            if isinstance(schema, dict):
                fields = output_properties(output_model(schema, "Output"))
                top = path.split(".", 1)[0]
                if top not in fields:
                    known = ", ".join(fields)
                    raise _fail(f"the output of {name!r} has no field {top!r} (fields: {known})", *at)


def walk_output(data: Any, path: str) -> Iterator[Any]:
    """The value at a dotted path (`days.0.city`) of JSON data, if there is one."""
    cur = data
    for part in path.split("."):
        if isinstance(cur, Mapping) and part in cur:
            cur = cur[part]
        elif isinstance(cur, list) and part.isdigit() and int(part) < len(cur):
            cur = cur[int(part)]
        else:
            return
    yield cur
