"""The tool-call caps of a run's `limits` held as caps: a call past `max_tool_calls` or its tool's
`max_tool_calls_per_tool` is not made (the model reads why), also when one answer asks for several calls
at once or an agent calls tools again within its turn. The guard of the same name (agents._guards) then
stops the run at the end of the turn; this module only keeps the calls within the cap until then.

Wraps every agent's workbenches and Python tools outermost, outside record and replay: a refused call is in
no cassette, and a replay refuses it again the same way.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from typing import Any

from ..errors import ToolCallError
from ..scenario._guards import Limits
from ..tapes._hooks import delegating_workbench, wrapped_tool

__all__ = ["ToolBudget"]


class ToolBudget:
    """Counts the run's tool calls as they are made (by the names the agents see) and refuses those past
    a cap."""

    def __init__(self, limits: Limits) -> None:
        self._most = limits.max_tool_calls
        self._per_tool = dict(limits.max_tool_calls_per_tool)
        self._made: Counter[str] = Counter()

    @property
    def capped(self) -> bool:
        return self._most is not None or bool(self._per_tool)

    def _take(self, name: str) -> str | None:
        """None when the call may be made (and it is counted); else why not."""
        if self._most is not None and sum(self._made.values()) >= self._most:
            return (
                f"Tool call {name!r} not made: the run's tool calls are capped at {self._most} "
                "(limits.max_tool_calls)."
            )
        cap = self._per_tool.get(name)
        if cap is not None and self._made[name] >= cap:
            return (
                f"Tool call {name!r} not made: {name} may be called at most {cap} times in this run "
                "(limits.max_tool_calls_per_tool)."
            )
        self._made[name] += 1
        return None

    def workbench(self, inner: Any) -> Any:
        """`inner` with calls past a cap answered by an error result instead of made."""
        if not self.capped:
            return inner

        async def call_tool(
            name: str, arguments: Mapping[str, Any] | None, token: Any, call_id: str | None
        ) -> Any:
            refused = self._take(name)
            if refused is not None:
                from autogen_core.tools import TextResultContent, ToolResult

                return ToolResult(name=name, result=[TextResultContent(content=refused)], is_error=True)
            return await inner.call_tool(name, arguments, token, call_id)

        return delegating_workbench(inner.list_tools, call_tool, inner=inner)

    def tool(self, inner: Any) -> Any:
        """A Python tool whose calls past a cap fail with the reason (AutoGen hands it to the model)."""
        if not self.capped:
            return inner

        async def run_json(tool: Any, args: Mapping[str, Any], token: Any, call_id: str | None) -> Any:
            refused = self._take(tool.name)
            if refused is not None:
                raise ToolCallError(refused)
            return await tool.run_json(args, token, call_id=call_id)

        return wrapped_tool(inner, run_json)
