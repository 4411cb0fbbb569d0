"""Continuing a cut run from its tape: the recorded part is answered from the tape (no model is called, no
tool runs), then the run goes on live.

A model call is answered from the tape while the calling agent has recorded calls left (the request must
match, as in a strict replay); the first call an agent makes beyond its recording is the resume point, and
from there every call is live. A tool call is answered from the tape when a recorded result of the same
tool with the same arguments is left, else it runs (a call that was in flight at the crash: the resume
decided beforehand whether it may run again, see `in_flight`). A person's answers are given again in
order, then asked for.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Callable, Mapping, Sequence
from typing import Any

from ..errors import ReplayMismatch
from ..scenario._schema import Scenario
from ..tools._mcp_client import replay_notes
from ._cassette import Cassette, ModelCall, ToolRecord, diff_requests, fingerprint, normalise_arguments
from ._hooks import RunHooks, ToolText, delegating_client, delegating_workbench, wrapped_tool
from ._replay import _chunks, _create_result, _ReplayedToolError, _same_arguments
from ._tape import Tape, TapeToolCall, ToolStart, cassette_from_tape

__all__ = ["ResumeSession", "in_flight"]


def in_flight(tape: Tape) -> list[ToolStart]:
    """The tool calls that started and have no result on the tape: cut while running."""
    done = [r for r in tape.records if isinstance(r, TapeToolCall)]
    out = []
    for start in tape.of(ToolStart):
        match = next(
            (
                d
                for d in done
                if (
                    d.call_id == start.call_id
                    if start.call_id
                    else (d.tool, d.server) == (start.tool, start.server)
                )
            ),
            None,
        )
        if match is None:
            out.append(start)
        else:
            done.remove(match)
    return out


class ResumeSession:
    """One resume of a cut run: which recorded calls were given again, and whether the run is live yet."""

    def __init__(
        self,
        tape: Tape,
        scenario: Scenario,
        *,
        on_live: Callable[[], None] | None = None,
        settings_as_recorded: bool = False,
        by_order: bool = False,
    ) -> None:
        """`settings_as_recorded`: each recorded call is matched with its own model settings (a fork that
        changes the model replays its first part as recorded). `by_order`: each agent's calls get its
        recorded answers in order, whatever they ask (a fork that changed the task or the scenario: its
        requests differ from the recorded ones by design)."""
        self.cassette: Cassette = cassette_from_tape(tape)
        self.scenario = scenario
        self._workbenches: dict[str, int] = {}
        self.name = str(tape.path)
        self.live = False
        self._on_live = on_live
        self._settings_as_recorded = settings_as_recorded
        self._by_order = by_order
        self._played = [False] * len(self.cassette.model_calls)
        self._tools_played = [False] * len(self.cassette.tool_calls)
        self._answers_played = [False] * len(self.cassette.user_answers)
        self.replayed_model_calls = 0
        self.live_model_calls = 0

    # -------------------------------------------------------------- seams for the runner

    def hooks(self) -> RunHooks:
        """Tools, MCP workbenches and people answered from the tape first (clients: see `clients`)."""
        return RunHooks(
            wrap_tool=self.wrap_tool, wrap_workbench=self.wrap_workbench, wrap_human=self.wrap_human
        )

    def clients(self, inner: Any) -> Any:
        """A client source whose clients answer from the tape, then through `inner`'s."""
        return _ResumePool(self, inner)

    def wrap_tool(self, tool: Any) -> Any:
        async def run_json(inner: Any, args: Mapping[str, Any], token: Any, call_id: str | None) -> Any:
            rec = self._tool_result(None, inner.name, args)
            if rec is None:
                return await inner.run_json(args, token, call_id=call_id)
            if rec.is_error:
                raise _ReplayedToolError(rec.result)
            return ToolText(rec.result)

        return wrapped_tool(tool, run_json)

    def wrap_workbench(self, agent: str, workbench: Any) -> Any:
        k = self._workbenches.get(agent, 0)  # the agent's k-th MCP use, as the runner opens them
        self._workbenches[agent] = k + 1
        uses = next((a.mcp for a in self.scenario.team.agents if a.name == agent), ())
        use = uses[k] if k < len(uses) else None
        server = use.server if use is not None else None
        back = {v: n for n, v in use.rename.items()} if use is not None else {}

        async def list_tools() -> list[Any]:
            return list(await workbench.list_tools())

        async def call_tool(name: str, arguments: Any, token: Any, call_id: str | None) -> Any:
            from autogen_core.tools import TextResultContent, ToolResult

            rec = self._tool_result(server, back.get(name, name), arguments, any_server=server is None)
            if rec is None:
                return await workbench.call_tool(name, arguments, token, call_id)
            if rec.server is not None:
                replay_notes(rec.server, rec.notes)
            return ToolResult(
                name=name, result=[TextResultContent(content=rec.result)], is_error=rec.is_error
            )

        return delegating_workbench(list_tools, call_tool, inner=workbench)

    def wrap_human(self, agent: str, answer: Any) -> Any:
        async def resumed(question: Any) -> str:
            recs = self.cassette.user_answers
            pick = next(
                (i for i, r in enumerate(recs) if not self._answers_played[i] and r.agent == agent), None
            )
            if pick is None:
                return str(await answer(question))
            self._answers_played[pick] = True
            return recs[pick].answer

        return resumed

    # -------------------------------------------------------------- answering

    def recorded(self, agent: str, request: dict[str, Any]) -> ModelCall | None:
        """The recorded answer to `request`, or None once the run is past its recording (then live)."""
        if self.live:
            return None
        calls = self.cassette.model_calls
        open_ = [i for i, c in enumerate(calls) if not self._played[i] and c.agent == agent]
        if not open_:
            self._go_live()
            return None

        def as_recorded(i: int) -> dict[str, Any]:
            if not self._settings_as_recorded:
                return request
            rest = {k: v for k, v in request.items() if k != "settings"}
            recorded = calls[i].request.get("settings")
            return rest if recorded is None else {**rest, "settings": recorded}

        if self._by_order:
            hit: int | None = open_[0]
        else:
            hit = next((i for i in open_ if calls[i].fingerprint == fingerprint(as_recorded(i))), None)
        if hit is None:
            expected = open_[0]
            raise ReplayMismatch(
                self.name,
                self.replayed_model_calls + 1,
                f"agent {agent!r} asked its model something other than the tape recorded (the scenario, "
                "its tools or its model settings changed since the run started):\n"
                + diff_requests(calls[expected].request, as_recorded(expected)),
            )
        self._played[hit] = True
        self.replayed_model_calls += 1
        return calls[hit]

    def _go_live(self) -> None:
        self.live = True
        left = [c for i, c in enumerate(self.cassette.model_calls) if not self._played[i]]
        if left:
            raise ReplayMismatch(
                self.name,
                self.replayed_model_calls + 1,
                f"the resumed run went another way than the recording: {len(left)} recorded model call(s) "
                f"were never asked for (the next one by agent {left[0].agent!r})",
            )
        if self._on_live is not None:
            self._on_live()

    def _tool_result(
        self, server: str | None, tool: str, args: Any, *, any_server: bool = False
    ) -> ToolRecord | None:
        want = normalise_arguments(dict(args or {}))
        recs = self.cassette.tool_calls
        pick = next(
            (
                i
                for i, r in enumerate(recs)
                if not self._tools_played[i]
                and r.tool == tool
                and (any_server or r.server == server)
                and _same_arguments(r.arguments, want)
            ),
            None,
        )
        if pick is None:
            return None
        self._tools_played[pick] = True
        return recs[pick]


class _ResumeClient:
    def __init__(self, session: ResumeSession, inner: Any, agent: str, settings: Mapping[str, Any]) -> None:
        self._session, self._inner, self._agent, self._settings = session, inner, agent, settings

    def _recorded(self, messages: Sequence[Any], kw: Mapping[str, Any]) -> ModelCall | None:
        if self._session.live:
            return None
        from ._cassette import request_of_call

        request = request_of_call(messages, kw, self._settings)
        return self._session.recorded(self._agent, request)

    async def create(self, messages: Sequence[Any], **kw: Any) -> Any:
        call = self._recorded(messages, kw)
        if call is None:
            self._session.live_model_calls += 1
            return await self._inner.create(messages, **kw)
        return _create_result(call.response, cached=True)

    async def create_stream(self, messages: Sequence[Any], **kw: Any) -> AsyncGenerator[Any, None]:
        call = self._recorded(messages, kw)
        if call is None:
            self._session.live_model_calls += 1
            async for item in self._inner.create_stream(messages, **kw):
                yield item
            return
        if call.response.content and not call.response.tool_calls:
            for piece in _chunks(call.response.content):
                yield piece
        yield _create_result(call.response, cached=True)

    def __getattr__(self, name: str) -> Any:  # usage counters, model_info, count_tokens, close...
        return getattr(self._inner, name)


class _ResumePool:
    def __init__(self, session: ResumeSession, inner: Any) -> None:
        self._session, self._inner = session, inner

    def spec_for(self, agent: str, resolve: Any) -> Any:
        return self._inner.spec_for(agent, resolve)

    def get(self, spec: Any, agent: str) -> Any:
        from ..models._facts import request_settings

        client = self._inner.get(spec, agent)
        return delegating_client(_ResumeClient(self._session, client, agent, request_settings(spec)))

    async def prepare(self) -> None:
        await self._inner.prepare()

    async def aclose(self) -> None:
        await self._inner.aclose()
