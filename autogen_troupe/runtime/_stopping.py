"""Stopping a team mid-run (a time cap, Ctrl-C): every call and handler it has in flight, within a grace."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from .._autogen import instance_attribute

__all__ = ["stop_team", "team_handlers"]

_STOP_GRACE_S = 10.0


async def stop_team(consumer: asyncio.Future[None], token: Any, team: Any) -> None:
    """Cancel the team's in-flight model and tool calls, its message handlers, then the stream, waiting
    a bounded time.

    The token alone is not enough: an AssistantAgent whose tool call is cancelled waits for ever for the
    call's results, so its handler, and the runtime's stop that waits for it, would outlive the run; once
    asyncio.run's shutdown cancelled them, the runtime's queue raised `task_done() called too many times`.
    """
    token.cancel()
    consumer.cancel()
    handlers = team_handlers(team)
    for h in handlers:
        h.cancel()
    with contextlib.suppress(BaseException):
        await asyncio.wait_for(asyncio.gather(consumer, *handlers, return_exceptions=True), _STOP_GRACE_S)


def team_handlers(team: Any) -> list[asyncio.Task[Any]]:
    """The message handlers still running in the team's own AutoGen runtime (private to autogen-core 0.7,
    so looked up with care: none found means only the token and the stream are cancelled)."""
    if not instance_attribute(team, "_embedded_runtime", False):
        return []  # a runtime the caller passed in is theirs, with other teams' handlers in it
    tasks = instance_attribute(instance_attribute(team, "_runtime"), "_background_tasks")
    return [t for t in tasks or () if isinstance(t, asyncio.Task) and not t.done()]
