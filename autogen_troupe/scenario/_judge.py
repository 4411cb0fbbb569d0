"""The `judge:` block of a scenario: the rubric, scale and pass mark an LLM judge scores runs by under
`troupe eval`. Apart from `_schema.py` to keep it small; its `model` is a `ModelRef`, resolved by `_schema`
once that is defined (the two would otherwise import each other)."""

from __future__ import annotations

import math
import re
from typing import TYPE_CHECKING, Any

from pydantic import Field, field_validator, model_validator

from ._base import Frozen
from ._fields import Finite, _fail

if TYPE_CHECKING:
    from ._schema import ModelRef

__all__ = ["MAX_JUDGE_SCALE", "Judge"]

MAX_JUDGE_SCALE = 1000  # the highest score a judge's scale may have
_JUDGE_SCALE = re.compile(r"^\s*(\d{1,4})\s*-\s*(\d{1,4})\s*$")


class Judge(Frozen):
    """An LLM judge for `troupe eval`: it scores a run's final answer from the scale's low end (worst) to
    its high end (best) by `rubric`; a run passes it with a score of `pass_at` or more. `{{var}}` in the
    rubric is filled from the task's variables, as in the task."""

    rubric: str = Field(min_length=1, description="What a good answer is, in words the judge reads.")
    scale: str = Field(
        "1-5",
        description="The lowest and the highest score, as LOW-HIGH (whole numbers, e.g. 1-5 or 0-10).",
        json_schema_extra={"pattern": _JUDGE_SCALE.pattern},
    )
    pass_at: Finite | None = Field(
        None, description="The lowest passing score (default: three quarters of the way up the scale)."
    )
    model: ModelRef | None = Field(
        None, description="The judge's model (default: the scenario's); `troupe eval --judge` overrides it."
    )

    @field_validator("scale", mode="before")
    @classmethod
    def _scale(cls, v: Any) -> Any:
        m = _JUDGE_SCALE.match(v) if isinstance(v, str) else None
        if m is None:
            raise ValueError(f"write the scale as LOW-HIGH, e.g. 1-5 (got {str(v)[:40]!r})")
        low, high = int(m.group(1)), int(m.group(2))
        if not low < high <= MAX_JUDGE_SCALE:
            raise ValueError(f"the scale's low end must be under its high end, at most {MAX_JUDGE_SCALE}")
        return f"{low}-{high}"

    @model_validator(mode="after")
    def _pass_on_scale(self) -> Judge:
        if self.pass_at is not None and not self.low <= self.pass_at <= self.high:
            raise _fail(f"pass_at ({self.pass_at:g}) must lie on the scale {self.scale}", "pass_at")
        return self

    @property
    def low(self) -> int:
        return int(self.scale.split("-")[0])

    @property
    def high(self) -> int:
        return int(self.scale.split("-")[1])

    @property
    def passing(self) -> float:
        """The lowest passing score: `pass_at`, or three quarters of the way up the scale, rounded up."""
        if self.pass_at is not None:
            return float(self.pass_at)
        return float(math.ceil(self.low + 0.75 * (self.high - self.low)))
