"""A graph team on AutoGen's GraphFlow, with the routing ours (`_graph_route.Router`).

GraphFlow gives the runtime, the concurrent turns of ready nodes and termination. Its manager is
replaced where it falls short: conditions are our data evaluated on the whole turn (AutoGen's are
substring tests or callables lost on dump), `max_visits` is enforced, fan-in waits are plain, and
`save_state` holds all of the routing state (microsoft/autogen #7043). Each node that starts is announced
by a `GraphRouteEvent` naming the edges that led to it and why, which the transcript keeps.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal

from autogen_agentchat.base import ChatAgent, TerminationCondition
from autogen_agentchat.base import Team as AutogenTeam
from autogen_agentchat.messages import (
    BaseAgentEvent,
    BaseChatMessage,
    MessageFactory,
    StopMessage,
    ToolCallExecutionEvent,
)
from autogen_agentchat.teams import DiGraph, DiGraphEdge, DiGraphNode, GraphFlow
from autogen_core import MessageContext, event

from .._autogen import private
from ..scenario._schema import Team
from ._graph_route import Router, Turn, holds
from ._stop import StopWatch

if TYPE_CHECKING:  # for the type checker only; at run time through _autogen.py, which says why
    from autogen_agentchat.teams._group_chat._base_group_chat_manager import BaseGroupChatManager
    from autogen_agentchat.teams._group_chat._chat_agent_container import ChatAgentContainer
    from autogen_agentchat.teams._group_chat._events import GroupChatRequestPublish
    from autogen_agentchat.teams._group_chat._graph._digraph_group_chat import GraphFlowManager
else:
    BaseGroupChatManager = private("BaseGroupChatManager")
    ChatAgentContainer = private("ChatAgentContainer")
    GroupChatRequestPublish = private("GroupChatRequestPublish")  # named in a handler's type hints
    GraphFlowManager = private("GraphFlowManager")

__all__ = ["GRAPH_DONE", "GraphRouteEvent", "TroupeGraphFlow"]

GRAPH_DONE = "The graph is done: no agent is left to run."
_STATE_KEY = "troupe_router"


class GraphRouteEvent(BaseAgentEvent):
    """A node of a graph team starts; `via` are the edges that led to it (empty for an entry node)."""

    node: str
    via: list[dict[str, Any]] = []
    content: str = ""
    type: Literal["GraphRouteEvent"] = "GraphRouteEvent"

    def to_text(self) -> str:
        return self.content


class _CheckedGraph(DiGraph):
    """AutoGen's graph, for its bookkeeping only: the scenario's own checks (scenario/_graph.py) already
    ran, and they accept loops AutoGen refuses (bounded by max_visits) and graphs with no leaf."""

    def graph_validate(self) -> None:
        return None

    def get_has_cycles(self) -> bool:
        return False  # a run is always bounded by max_visits, conditions or the scenario's limits


def _digraph(team: Team) -> DiGraph:
    nodes = {
        a.name: DiGraphNode(
            name=a.name, activation=team.nodes[a.name].activation if a.name in team.nodes else "all"
        )
        for a in team.agents
    }
    for e in team.edges:
        cond = e.when
        check: Callable[[BaseChatMessage], bool] | None = None
        if cond is not None:

            def check(m: BaseChatMessage, c: Any = cond) -> bool:
                return holds(c, Turn(m.source, m.to_model_text()))[0]

        nodes[e.from_].edges.append(DiGraphEdge(target=e.to, condition=check))
    starts = Router(team).starts
    return _CheckedGraph(nodes=nodes, default_start_node=starts[0] if starts else None)


def _turn(messages: Sequence[BaseAgentEvent | BaseChatMessage], last: BaseChatMessage) -> Turn:
    failed = any(
        isinstance(m, ToolCallExecutionEvent) and any(r.is_error for r in m.content) for m in messages
    )
    return Turn(last.source, last.to_model_text(), failed)


class _Steps:
    """Which step each finished turn belongs to, so every node reads a step's messages in node order."""

    def __init__(self, names: list[str]) -> None:
        self.step = 0
        self.of: dict[str, int] = {}  # message id -> the step its turn ran in
        self.order = {n: i for i, n in enumerate(names)}

    def key(self, m: BaseChatMessage) -> tuple[int, int]:
        return self.of.get(m.id, -1), self.order.get(m.source, -1)


class _Node(ChatAgentContainer):
    """A node's container: nodes of one step finish in any order (a model's speed, a machine's load), but
    the messages its agent reads are put in step and node order first, so a recorded run replays."""

    def __init__(self, steps: _Steps, *args: Any) -> None:
        super().__init__(*args)
        self._steps = steps

    @event
    async def handle_request(  # type: ignore[override]  # the same handler, on a subclass
        self, message: GroupChatRequestPublish, ctx: MessageContext
    ) -> None:
        self._message_buffer.sort(key=self._steps.key)  # stable: a step's own order kept otherwise
        await ChatAgentContainer.handle_request(self, message, ctx)


class _Manager(GraphFlowManager):
    """GraphFlow's manager with our router deciding who runs next."""

    def __init__(self, *, router: Router, steps: _Steps, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._router = router
        self._steps = steps
        self._step: list[BaseAgentEvent | BaseChatMessage] = []  # every turn since the last check

    def _take_step(
        self, delta: Sequence[BaseAgentEvent | BaseChatMessage]
    ) -> list[BaseAgentEvent | BaseChatMessage]:
        step, self._step = self._step or list(delta), []
        return step

    async def update_message_thread(self, messages: Sequence[BaseAgentEvent | BaseChatMessage]) -> None:
        await BaseGroupChatManager.update_message_thread(self, messages)
        self._step.extend(messages)
        last = messages[-1] if messages else None
        if isinstance(last, BaseChatMessage) and last.source in self._router.names:
            self._steps.of[last.id] = self._steps.step
            self._router.after(_turn(messages, last))

    async def select_speaker(self, thread: Sequence[BaseAgentEvent | BaseChatMessage]) -> list[str]:
        started = self._router.take()
        self._steps.step += 1
        for node, hops in started:
            said = "; ".join(f"{h.from_node} → {node} (edge {h.edge}: {h.why})" for h in hops)
            await self._output_message_queue.put(
                GraphRouteEvent(
                    source="graph",
                    node=node,
                    via=[{"edge": h.edge, "from_node": h.from_node, "why": h.why} for h in hops],
                    content=said or f"{node} starts (entry)",
                )
            )
        return [n for n, _ in started]

    async def _apply_termination_condition(
        self, delta: Sequence[BaseAgentEvent | BaseChatMessage], increment_turn_count: bool = False
    ) -> bool:
        # AutoGen checks the rules on the last finished turn only; nodes run side by side in one step
        # would escape them (max_messages would undercount), so the rules see the whole step.
        delta = self._take_step(delta)
        if not self._router.ready:
            self._router.reset()  # as GraphFlow does: the next run starts from the entry nodes
            if self._termination_condition is not None:
                await self._termination_condition.reset()
            if isinstance(self._termination_condition, StopWatch):  # the run's typed stop: no rule fired
                self._termination_condition.ended("graph_done", GRAPH_DONE)
            self._current_turn = 0
            await self._signal_termination(StopMessage(content=GRAPH_DONE, source=self._name))
            return True
        return await BaseGroupChatManager._apply_termination_condition(self, delta, increment_turn_count)

    async def save_state(self) -> Mapping[str, Any]:
        return {**await super().save_state(), _STATE_KEY: self._router.dump()}

    async def load_state(self, state: Mapping[str, Any]) -> None:
        await super().load_state(state)
        if _STATE_KEY in state:
            self._router.load(dict(state[_STATE_KEY]))

    async def reset(self) -> None:
        await super().reset()
        self._router.reset()


class TroupeGraphFlow(GraphFlow):
    """GraphFlow for a scenario's graph team (`team.kind: graph`)."""

    def __init__(
        self,
        participants: list[ChatAgent],
        team: Team,
        *,
        termination_condition: TerminationCondition | None = None,
        max_turns: int | None = None,
        custom_message_types: list[type[BaseAgentEvent | BaseChatMessage]] | None = None,
    ) -> None:
        self._team = team
        self._steps = _Steps([a.name for a in team.agents])
        super().__init__(
            participants,
            _digraph(team),
            termination_condition=termination_condition,
            max_turns=max_turns,
            custom_message_types=[GraphRouteEvent, *(custom_message_types or ())],
        )

    def _create_group_chat_manager_factory(
        self,
        name: str,
        group_topic_type: str,
        output_topic_type: str,
        participant_topic_types: list[str],
        participant_names: list[str],
        participant_descriptions: list[str],
        output_message_queue: Any,
        termination_condition: TerminationCondition | None,
        max_turns: int | None,
        message_factory: MessageFactory,
    ) -> Callable[[], GraphFlowManager]:
        def factory() -> GraphFlowManager:
            return _Manager(
                router=Router(self._team),
                steps=self._steps,
                name=name,
                group_topic_type=group_topic_type,
                output_topic_type=output_topic_type,
                participant_topic_types=participant_topic_types,
                participant_names=participant_names,
                participant_descriptions=participant_descriptions,
                output_message_queue=output_message_queue,
                termination_condition=termination_condition,
                max_turns=max_turns,
                message_factory=message_factory,
                graph=self._graph,
            )

        return factory

    def _create_participant_factory(
        self,
        parent_topic_type: str,
        output_topic_type: str,
        agent: ChatAgent | AutogenTeam,
        message_factory: MessageFactory,
    ) -> Callable[[], ChatAgentContainer]:
        def factory() -> ChatAgentContainer:
            return _Node(self._steps, parent_topic_type, output_topic_type, agent, message_factory)

        return factory
