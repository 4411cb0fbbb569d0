"""Model contexts: what of the conversation an agent sends to its model (a tagged union on `kind`)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from ._base import Frozen
from ._fields import ContextMessages, ContextTokens, CountOrZero

__all__ = ["BufferedContext", "HeadAndTailContext", "ModelContext", "TokenLimitedContext", "UnboundedContext"]


class TokenLimitedContext(Frozen):
    """The task and the newest messages that fit in `max_tokens` (estimated)."""

    kind: Literal["token_limited"] = "token_limited"
    max_tokens: ContextTokens | None = Field(
        None, description="Default: the model's context length minus its answer, system message and tools."
    )


class BufferedContext(Frozen):
    """The last `last` messages."""

    kind: Literal["buffered"] = "buffered"
    last: ContextMessages


class HeadAndTailContext(Frozen):
    """The first `head` and the last `tail` messages."""

    kind: Literal["head_and_tail"] = "head_and_tail"
    head: CountOrZero
    tail: ContextMessages


class UnboundedContext(Frozen):
    """Every message, even past the model's context length."""

    kind: Literal["unbounded"] = "unbounded"


ModelContext = Annotated[
    TokenLimitedContext | BufferedContext | HeadAndTailContext | UnboundedContext,
    Field(discriminator="kind"),
]
