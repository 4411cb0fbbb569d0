"""The schema's building blocks: the documented limits, bounded number types whose errors state the
allowed range, names, and the helpers the schema's models share (short forms, errors spanning fields)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Annotated, Any, TypeAlias

from annotated_types import GroupedMetadata
from pydantic import (
    BeforeValidator,
    Field,
    GetJsonSchemaHandler,
    ValidationError,
    ValidatorFunctionWrapHandler,
    WrapValidator,
)
from pydantic_core import PydanticCustomError

from ._base import Frozen

__all__ = [
    "DEFAULT_MAX_MESSAGES",
    "DEFAULT_TIMEOUT_S",
    "MAX_COMPLETION_TOKENS",
    "MAX_MESSAGES",
    "MAX_NAME_LENGTH",
    "MAX_RULE_DEPTH",
    "MAX_TIMEOUT_S",
    "MAX_TOKENS",
    "scenario_name_from",
]

DEFAULT_MAX_MESSAGES = 40
DEFAULT_TIMEOUT_S = 600.0
MAX_MESSAGES = 10_000  # documented maxima (docs/scenarios.md): a cap must be finite and worth having
MAX_TIMEOUT_S = 86_400.0  # one day
MAX_TOKENS = 1_000_000_000  # a run's token budget
MAX_COMPLETION_TOKENS = 10_000_000  # one model answer
MAX_NAME_LENGTH = 64  # scenario names become file names; agent names go to the API's `name` (64 at most)
MAX_RULE_DEPTH = 10  # any/all rules nested in each other

_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_IMPORT_REF = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$")
_SAFE_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")


class _Bounded(GroupedMetadata):
    """Finite bounds on a number type whose every error states the allowed range, written as
    `Annotated[int, _Bounded(int, 1, 10)]` so that type checkers see a plain `int`.

    `true`/`false` are refused (pydantic would read them as 1/0), as are inf, nan and overflowing values.
    """

    def __init__(
        self, kind: type, low: float, high: float, *, low_open: bool = False, unit: str = ""
    ) -> None:
        noun = ("a valid integer" if kind is int else "a number") + (f" of {unit}" if unit else "")
        span = (
            f"greater than {_num(low)} and at most {_num(high)}"
            if low_open
            else f"from {_num(low)} to {_num(high)}"
        )
        message = f"must be {noun} {span}"

        def check(v: Any, handler: ValidatorFunctionWrapHandler) -> Any:
            if isinstance(v, bool):
                raise PydanticCustomError("out_of_range", message + ", not {got}", {"got": str(v).lower()})
            try:
                return handler(v)
            except ValidationError:
                raise PydanticCustomError(
                    "out_of_range", message + " (got {got})", {"got": repr(v)[:40]}
                ) from None

        low_bound = Field(gt=low) if low_open else Field(ge=low)
        extra = (Field(allow_inf_nan=False),) if kind is float else ()
        self._items = (
            *low_bound.metadata,
            *Field(le=high).metadata,
            *(m for f in extra for m in f.metadata),
            WrapValidator(check),
        )

    def __iter__(self) -> Iterator[object]:
        return iter(self._items)


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else str(x)


def _not_bool(v: Any) -> Any:
    if isinstance(v, bool):
        raise PydanticCustomError("not_a_number", "must be a number, not {got}", {"got": str(v).lower()})
    return v


Count: TypeAlias = Annotated[int, _Bounded(int, 1, MAX_MESSAGES)]  # messages, turns
CountOrZero: TypeAlias = Annotated[int, _Bounded(int, 0, MAX_MESSAGES)]
Seconds: TypeAlias = Annotated[float, _Bounded(float, 0, MAX_TIMEOUT_S, low_open=True, unit="seconds")]
Tokens: TypeAlias = Annotated[int, _Bounded(int, 1, MAX_TOKENS)]
CompletionTokens: TypeAlias = Annotated[int, _Bounded(int, 1, MAX_COMPLETION_TOKENS)]
Seed: TypeAlias = Annotated[int, _Bounded(int, -(2**63), 2**63 - 1)]
Retries: TypeAlias = Annotated[int, _Bounded(int, 0, 100)]
ToolIterations: TypeAlias = Annotated[int, _Bounded(int, 1, 1000)]
Finite: TypeAlias = Annotated[float, BeforeValidator(_not_bool), Field(allow_inf_nan=False)]
ContextTokens: TypeAlias = Annotated[int, _Bounded(int, 1, MAX_TOKENS)]
ContextMessages: TypeAlias = Annotated[int, _Bounded(int, 1, MAX_MESSAGES)]  # messages a model context keeps


def scenario_name_from(stem: str) -> str:
    """A valid scenario name from a file name: other characters become `_`, cut to the length cap."""
    name = re.sub(r"[^A-Za-z0-9_.-]", "_", stem)
    return (name if _SAFE_NAME.match(name) else "_" + name)[:MAX_NAME_LENGTH]


# Header values: numbers are written unquoted in vendors' guides (GenOS `x-genos-user-id: 653`).
HeaderValue = Annotated[str, BeforeValidator(lambda v: str(v) if isinstance(v, int | float) else v)]


class _Shorthand(Frozen):
    """A model that also accepts a short form (a name, a list); its JSON Schema says so, so that editors
    using `troupe schema` accept the short forms the bundled scenarios use."""

    @classmethod
    def _short_schema(cls, full: dict[str, Any]) -> dict[str, Any]:
        return {"type": "string"}

    @classmethod
    def __get_pydantic_json_schema__(cls, core_schema: Any, handler: GetJsonSchemaHandler) -> Any:
        ref = handler(core_schema)
        full = handler.resolve_ref_schema(ref)
        if "anyOf" not in full:
            body = dict(full)
            full.clear()
            full["anyOf"] = [cls._short_schema(body), body]
        return ref


def _fail(message: str, *at: str | int) -> PydanticCustomError:
    """An error for a rule spanning fields; `at` is the path (below the model) of the offending value."""
    return PydanticCustomError("invalid_reference", message.replace("{", "(").replace("}", ")"), {"at": at})
