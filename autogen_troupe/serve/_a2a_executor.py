"""A served scenario as an A2A agent's executor: an A2A task is one served run (the task's id is the
run's id), so A2A runs are written, listed, watched and stopped like every other run.

The executor turns the run's events (already masked by `ServedRun.publish`) into A2A task events: each
agent's message a `working` status update whose message names the agent (`metadata.agent`), a person's
turn (`kind: user`) an `input-required` update (the executor then returns; the next message on the task
is the answer), the end `completed` with the final message as the `result` artifact, `failed` with one
paragraph, or `canceled`.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from a2a.helpers import get_data_parts, new_task_from_user_message, new_text_part
from a2a.server.agent_execution import AgentExecutor, RequestContext
from a2a.server.events import EventQueue
from a2a.server.request_handlers import DefaultRequestHandler
from a2a.server.tasks import TaskUpdater
from a2a.types.a2a_pb2 import Message, Part, Role, TaskState
from a2a.utils.errors import UnsupportedOperationError

from .._redact import redact_text
from ..errors import ScenarioError
from ._http import one_paragraph

__all__ = ["TeamExecutor", "TeamRequestHandler"]

_STOP_WAIT_S = 15.0  # how long a cancel waits for the run to close its transcript
_ENDED = {
    "done": TaskState.TASK_STATE_COMPLETED,
    "failed": TaskState.TASK_STATE_FAILED,
    "stopped": TaskState.TASK_STATE_CANCELED,
}


def _message(task_id: str, context_id: str, text: str, **metadata: Any) -> Message:
    """An agent's message on the task; `metadata` names the agent (and the question, for a person)."""
    from a2a.server.id_generator import UUIDGenerator

    message = Message(
        message_id=UUIDGenerator().generate(None),  # type: ignore[arg-type]
        task_id=task_id,
        context_id=context_id,
        role=Role.ROLE_AGENT,
        parts=[new_text_part(text)],
    )
    message.metadata.update(metadata)
    return message


def _answer_of(context: RequestContext, pending: Any) -> Any:
    """The person's answer in the message: its text; for an MCP server's question, a data part accepts
    the form with its fields, and text says no (`decline`; anything else cancels)."""
    text = context.get_user_input()
    if pending.mcp is None:
        return text
    from ..tools._mcp_client import Answer

    data = get_data_parts(context.message.parts if context.message is not None else [])
    if data:
        return Answer("accept", data[0] if isinstance(data[0], dict) else {"value": data[0]})
    word = text.strip().lower()
    return Answer("decline" if word == "decline" else "cancel")


class TeamExecutor(AgentExecutor):
    """Runs one served scenario for A2A tasks, through the server's RunManager."""

    def __init__(self, server: Any, scenario: str) -> None:
        self.server = server
        self.scenario = scenario
        self._relayed: dict[str, int] = {}  # task id → the last run event passed on

    async def execute(self, context: RequestContext, event_queue: EventQueue) -> None:
        task_id, context_id = str(context.task_id), str(context.context_id)
        updater = TaskUpdater(event_queue, task_id, context_id)
        runs = self.server.runs
        run = runs.get(task_id)
        if context.current_task is None:
            if context.message is not None:
                task = new_task_from_user_message(context.message)
                task.id, task.context_id = task_id, context_id
                await event_queue.enqueue_event(task)
            if runs.full:
                n = self.server.config.max_runs
                note = f"the server is running {n} run(s), its limit (--max-runs {n}); try again later"
                await updater.reject(_message(task_id, context_id, note))
                return
            try:
                run = runs.start(self.scenario, context.get_user_input(), origin="a2a", run_id=task_id)
            except ScenarioError as e:
                note = one_paragraph(f"the scenario {self.scenario!r} cannot run: {e}")
                await updater.failed(_message(task_id, context_id, note))
                return
            await updater.start_work()
        elif run is None:
            note = f"the run of task {task_id} is no longer kept by this server (it was restarted)"
            await updater.failed(_message(task_id, context_id, note))
            return
        elif run.pending is not None:
            run.answer(_answer_of(context, run.pending), run.pending.id)
            await updater.start_work()
        await self._relay(run, updater, task_id, context_id)

    async def _relay(self, run: Any, updater: TaskUpdater, task_id: str, context_id: str) -> None:
        """Pass the run's events on until it ends or waits for the person."""
        after = self._relayed.get(task_id, -1)
        offered = self.server.catalog.offered.get(self.scenario)
        agents = offered.scenario.team.agents if offered is not None else ()
        people = {a.name for a in agents if a.kind == "user"}  # their words are the client's own
        async for record in run.watch(after):
            if record.get("seq") is not None:
                self._relayed[task_id] = record["seq"]
            event, data = record["event"], record["data"]
            said_by = data.get("source")
            if (
                event == "entry"
                and data.get("kind") == "text"
                and record.get("seq", 0) > 0
                and said_by not in people
            ):
                said = _message(task_id, context_id, data["content"], agent=data["source"])
                await updater.update_status(TaskState.TASK_STATE_WORKING, message=said)
            elif event == "input":
                asked = _message(
                    task_id, context_id, data["prompt"] or "Your answer?", agent=data["agent"], question=data
                )
                await updater.requires_input(asked)
                return
            elif event == "done":
                self._relayed.pop(task_id, None)
                await self._end(run, data, updater, task_id, context_id)
                return

    async def _end(
        self, run: Any, summary: dict[str, Any], updater: TaskUpdater, task_id: str, cid: str
    ) -> None:
        stop_reason = summary.get("stop_reason") or ""
        state = _ENDED.get(summary["status"], TaskState.TASK_STATE_FAILED)
        if state == TaskState.TASK_STATE_COMPLETED:
            final = summary.get("final_message") or ""
            await updater.add_artifact(
                [Part(text=final)],
                name="result",
                metadata={"stop_reason": stop_reason, "run_id": run.id},
            )
            await updater.complete(_message(task_id, cid, final, stop_reason=stop_reason))
        elif state == TaskState.TASK_STATE_CANCELED:
            await updater.cancel(_message(task_id, cid, "stopped before the team finished"))
        else:
            note = summary.get("error") or f"the run ended {summary['status']}"
            await updater.failed(_message(task_id, cid, redact_text(note)))

    async def cancel(self, context: RequestContext, event_queue: EventQueue) -> None:
        """Stop the task's run and wait (bounded) for its transcript to be closed; the SDK then marks the
        task canceled (or the relay does, when it sees the run end)."""
        run = self.server.runs.get(str(context.task_id))
        if run is None or not run.cancel():
            return
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(run.wait(), _STOP_WAIT_S)


class TeamRequestHandler(DefaultRequestHandler):
    """The SDK's handler, refusing a message on a task whose team is at work and asks nothing: the SDK
    would run the executor again beside the one relaying, the message reaching no one and every later
    message of the team written twice into the task."""

    def __init__(self, *, agent_executor: TeamExecutor, **kwargs: Any) -> None:
        super().__init__(agent_executor=agent_executor, **kwargs)
        self.runs = agent_executor.server.runs

    def _refuse_busy(self, params: Any) -> None:
        task_id = params.message.task_id if params.message is not None else ""
        run = self.runs.get(task_id) if task_id else None
        if run is not None and not run.done and run.pending is None:
            raise UnsupportedOperationError(
                message=f"task {task_id} is working, not waiting for input: a message on a task answers "
                "its question (input-required); send a new task, or cancel this one"
            )

    async def on_message_send(self, params: Any, context: Any) -> Any:
        self._refuse_busy(params)
        return await super().on_message_send(params, context)

    async def on_message_send_stream(self, params: Any, context: Any) -> Any:
        self._refuse_busy(params)
        async for event in super().on_message_send_stream(params, context):
            yield event
