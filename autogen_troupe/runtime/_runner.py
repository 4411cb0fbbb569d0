"""Running a scenario: open models and MCP servers, stream the team's events, write the transcript.

Every run is bounded (the scenario's `limits`, default 40 messages and 10 minutes) and every run writes
its transcript, also when it fails or is interrupted. The transcript is the run's tape: each model call,
tool call and person's answer is written into it as it happens (see `tapes._tape`), so a killed run can
be continued from it.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import time
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .._redact import redact_data, redact_text, remember_secrets, secrets_in_env
from ..errors import Issue, RunError, ScenarioError, TroupeError, UsageError
from ..models._engine_time import metering
from ..scenario._schema import ModelRef, Scenario
from ..scenario._template import template_task_issue
from ..tapes._hooks import ClientSource, OneClient, RunHooks, guarded, stacked
from ..tapes._records import Chunk, Entry, Guard, RunResult, StopReason
from ._observe import observing
from ._run_record import RunRecord
from ._stopping import stop_team
from ._transcript import entry_from_autogen

if TYPE_CHECKING:
    from autogen_agentchat.base import Team as AutogenTeam
    from autogen_core.models import ChatCompletionClient

    from ..models._endpoints import Overrides
    from ..models._resolved import ResolvedModel
    from ..models._status import ModelStatus
    from ..tapes._record import Recorder
    from ..tools._mcp_client import Ask, McpNote
    from ._resume import Continuation

__all__ = ["OpenTeam", "RunOptions", "build_team", "open_team", "resolve_agent_model", "run_scenario"]

EventHook = Callable[["Entry | Chunk"], None]


@dataclass(frozen=True)
class RunOptions:
    """Run settings that are not part of the scenario file."""

    overrides: Overrides | None = None
    env: Mapping[str, str] | None = None
    profiles_path: Path | None = None
    out_dir: Path | None = None  # where the JSONL transcript goes; None: no file
    # The engine libraries' log lines (vLLM, torch...) go to NAME-TIME.log beside the transcript instead of
    # the console; process-wide, so for one run per process (the CLI). `show_engine_logs` also prints them.
    capture_engine_logs: bool = False
    show_engine_logs: bool = False
    run_id: str | None = None  # a caller's name for the run (a server's): in the transcript's name and header
    ask_human: Any = None  # runtime._human.AskHuman: who answers a user agent (None: its default answer)
    # Who answers MCP servers' questions (the console prompt in `troupe run`); None: nobody, so servers
    # whose scenario policy is not `accept_defaults` get a decline.
    ask_mcp: Ask | None = None
    # Hears what the models are doing before they answer (preparing, loading an engine, waiting for the
    # first token): the console's status line, a server's events. Called on the run's event loop.
    on_status: Callable[[ModelStatus], None] | None = None
    # Write the run's tape (each model call, tool call and answer) into its transcript as it goes, so that
    # `troupe resume` can continue it after a crash; off: the transcript holds the messages only.
    tape: bool = True


def resolve_agent_model(
    scenario: Scenario,
    ref: ModelRef,
    options: RunOptions,
    *,
    offline: bool = False,
    overrides: Overrides | None = None,
) -> ResolvedModel:
    """The resolved model for one agent's (or the selector's) ref; agent settings layer on the scenario's.

    `overrides` (a replay's recorded ones) go under the run's own; `offline` needs no keys (a replay).
    """
    from ..models._endpoints import resolve_model

    if overrides is not None and options.overrides is not None:
        overrides = overrides.under(options.overrides)
    return resolve_model(
        ref,
        overrides=overrides if overrides is not None else options.overrides,
        env=options.env,
        profiles_path=options.profiles_path,
        parent=None if ref is scenario.model else scenario.model,
        offline=offline,
    )


@dataclass
class OpenTeam:
    """A team whose model clients and MCP servers are open; `specs` are the resolved models by agent and
    `errors` the errors of ours its model clients raised (AutoGen passes on only their text)."""

    team: AutogenTeam
    scenario: Scenario
    specs: dict[str, ResolvedModel]
    errors: list[TroupeError] = field(default_factory=list)


@contextlib.asynccontextmanager
async def open_team(
    scenario: Scenario,
    *,
    model_client: ChatCompletionClient | None = None,
    clients: ClientSource | None = None,
    options: RunOptions | None = None,
    hooks: RunHooks | None = None,
    on_note: Callable[[McpNote], None] | None = None,
) -> AsyncIterator[OpenTeam]:
    """Build the scenario's team with its clients and MCP servers open; close everything on exit.

    `model_client` makes every agent use that one client (the caller closes it). `clients` is where the
    agents' clients come from instead of the live models (tests: a `ScriptedClient`); `hooks` are what
    record and replay change (see `RunHooks`). `on_note` hears what MCP servers ask and say. MCP prompts
    the scenario uses are fetched once the servers run: `OpenTeam.scenario` holds their text.
    """
    # Over 60 lines by its closures, which share the open client source, MCP servers and resolved specs
    # with the team builder; as functions they would only pass those three around.
    from ..agents import assemble_team, limit_conditions
    from ..models._capabilities import capabilities_of
    from ..models._facts import ModelLimits, limits_of
    from ..models._registry import ClientPool
    from ..models._status import status_to
    from ..tools import McpServerPool, load_python_tool
    from ..tools._mcp_client import NOTES
    from ._human import tool_confirm
    from ._mcp import client_options, has_prompts, note_sinks, prompt_source, resolve_prompts
    from ._structured import structured_answers
    from ._tool_budget import ToolBudget

    options = options or RunOptions()
    hooks = hooks or RunHooks()
    source = _client_source(model_client, clients, hooks)
    specs: dict[str, ResolvedModel] = {}
    errors: list[TroupeError] = []
    agent_clients: dict[str, Any] = {}  # sampling answers with the calling agent's own client
    notes = note_sinks(on_note, hooks.on_mcp_note)

    async with contextlib.AsyncExitStack() as stack:
        token = NOTES.set(notes)
        stack.callback(NOTES.reset, token)
        stack.enter_context(status_to(options.on_status))
        observe = stack.enter_context(observing(options.env))  # spans, when telemetry is on
        pool: ClientSource = source if source is not None else ClientPool()
        if source is None:
            stack.push_async_callback(pool.aclose)

        def client_for(agent: str, ref: ModelRef) -> Any:
            spec = pool.spec_for(agent, functools.partial(resolve_agent_model, scenario, ref, options))
            if spec is not None:
                specs[agent] = spec
            inner = structured_answers(observe.client(pool.get(spec, agent), spec, agent), agent)
            client = guarded(inner, errors, agent=agent)
            agent_clients[agent] = client
            return client

        replace_mcp, wrap_workbench, wrap_tool = hooks.replace_mcp, hooks.wrap_workbench, hooks.wrap_tool
        budget = ToolBudget(scenario.limits)  # the tool-call caps, held within a turn too
        mcp_options = client_options(
            scenario,
            ask=options.ask_mcp,
            clients=agent_clients,
            models=specs,
            on_note=notes,
            confirm=tool_confirm(options.ask_human),
        )
        mcp = (
            None
            if replace_mcp
            else await stack.enter_async_context(McpServerPool(scenario.mcp_servers, mcp_options))
        )
        if has_prompts(scenario):
            scenario = await resolve_prompts(scenario, prompt_source(mcp, hooks))

        def workbench_for(agent: str, use: Any) -> Any:
            if replace_mcp is not None:
                wb = replace_mcp(agent, use)
            else:
                assert mcp is not None  # started above whenever nothing replaces it
                wb = mcp.workbench(use, agent=agent)
                wb = wrap_workbench(agent, wb) if wrap_workbench else wb
            return budget.workbench(observe.workbench(wb, use.server, scenario.mcp_servers.get(use.server)))

        def tool_for(use: Any) -> Any:
            # The scenario's own folder is searched first, so a tools.py beside the file just works.
            search = (scenario.source.parent,) if scenario.source else ()
            tool = load_python_tool(use, search_path=search)
            return budget.tool(observe.tool(wrap_tool(tool) if wrap_tool else tool))

        def remote_for(agent: Any) -> Any:
            from ..tools._a2a_call import RemoteAgentCall

            call = RemoteAgentCall(agent)
            stack.push_async_callback(call.aclose)
            return observe.tool(wrap_tool(call) if wrap_tool else call)

        def limits_for(agent: str) -> ModelLimits | None:
            spec = specs.get(agent)
            return None if spec is None else limits_of(spec)

        team = assemble_team(
            scenario,
            client_for=client_for,
            workbench_for=workbench_for,
            tool_for=tool_for,
            extra_termination=limit_conditions(scenario.limits),
            limits_for=limits_for,
            human_for=functools.partial(_human_for, ask=options.ask_human, wrap=hooks.wrap_human),
            remote_for=remote_for,
            on_error=errors.append,
            capabilities_for=lambda agent: capabilities_of(specs.get(agent)),
        )
        await pool.prepare()
        yield OpenTeam(team=team, scenario=scenario, specs=specs, errors=errors)


def _human_for(agent: Any, *, ask: Any, wrap: Any) -> Any:
    from ._human import input_func_for

    return input_func_for(agent, ask, wrap)


def _client_source(
    model_client: ChatCompletionClient | None, clients: ClientSource | None, hooks: RunHooks
) -> ClientSource | None:
    given = [s for s in (model_client, clients, hooks.clients) if s is not None]
    if len(given) > 1:
        raise UsageError("give one of model_client=, clients= and hooks.clients, not several")
    if model_client is not None:
        return OneClient(model_client)
    return clients if clients is not None else hooks.clients


async def run_scenario(
    scenario: Scenario,
    *,
    task: str | None = None,
    model_client: ChatCompletionClient | None = None,
    clients: ClientSource | None = None,
    options: RunOptions | None = None,
    hooks: RunHooks | None = None,
    on_event: EventHook | None = None,
    recorder: Recorder | None = None,
    continuation: Continuation | None = None,
) -> RunResult:
    """Run a scenario to its end and return what happened; safe inside an already running event loop.

    Nothing is global: two runs in one process share only the in-process engine. `model_client`, `clients`
    and `hooks` are as for `open_team`. A run that writes a transcript (`options.out_dir`) and has no
    `hooks` of its own records its tape into it; `recorder` is the one to record with (`record_scenario`'s).
    """
    from ..agents._guards import reporting_guards
    from ._mcp import note_entry, text_preview

    options = options or RunOptions()
    wanted = task if task is not None else scenario.task
    template = template_task_issue(scenario) if task is None else None
    if template is not None:  # its task is `{{name}}`s that only `troupe eval` fills
        raise ScenarioError([template])
    if not wanted:
        where = scenario.source or scenario.name
        raise ScenarioError([Issue(where, 1, 1, "the scenario has no task; give one with --task / task=...")])
    if options.env is not None:  # keys given in a mapping rather than our environment
        remember_secrets(secrets_in_env(options.env))
    run = RunRecord(scenario, text_preview(wanted), options, on_event, wanted, continuation)
    raised: list[TroupeError] = []  # our errors the model clients raised, before AutoGen flattened them
    fired: list[Guard] = []  # guards that stopped the run, written when it ends (after its last message)
    try:
        with run.engine_logs(), run.traced(), metering(run.meter), reporting_guards(_guard_sink(run, fired)):
            async with contextlib.AsyncExitStack() as stack:
                if hooks is None and (
                    recorder is not None
                    or continuation is not None
                    or (run.writer is not None and options.tape)
                ):
                    from ..tapes._record import Recorder

                    recorder = recorder or Recorder(
                        scenario, env=options.env, overrides=options.overrides, keep=False
                    )
                    source = _client_source(model_client, clients, RunHooks())
                    if source is None:  # the live pool, ours to close
                        from ..models._registry import ClientPool

                        source = ClientPool()
                        stack.push_async_callback(source.aclose)
                    if continuation is not None:  # the tape first, then live; recorded once
                        if continuation.fork_at is None:  # a resume appends: what is there stays
                            recorder.continuing(continuation.tape)
                        source = continuation.session.clients(source)
                    hooks, model_client, clients = recorder.hooks(source), None, None
                    if continuation is not None:
                        hooks = stacked(hooks, continuation.session.hooks())
                opened = await stack.enter_async_context(
                    open_team(
                        scenario,
                        model_client=model_client,
                        clients=clients,
                        options=options,
                        hooks=hooks,
                        on_note=lambda n: run.note(note_entry(n, time.monotonic() - run.started)),
                    )
                )
                raised = opened.errors
                run.models(opened.specs, recorder)
                if not isinstance(wanted, str):  # an MCP prompt, fetched once its server runs
                    run.task = text_preview(opened.scenario.task)
                stop = await _stream(opened, run.task, time.monotonic(), run.emit, scenario.limits.timeout_s)
                for guard in fired:
                    run.emit(guard)
    except (KeyboardInterrupt, asyncio.CancelledError) as e:
        stop = StopReason(kind="interrupted", text="interrupted")
        _where(e, run.finish(stop, "the run was interrupted"))
        raise
    except TroupeError as e:
        error = redact_text(f"{type(e).__name__}: {e}")
        _where(e, run.finish(StopReason(kind="error", text=error), error, error_type=type(e).__name__))
        raise
    except Exception as e:  # a failure deep in the team: ours as it was raised, else explained
        typed = raised[-1] if raised else None
        error = redact_text(f"{type(typed).__name__}: {typed}" if typed else _explain(e))
        failed = typed or RunError(error)
        stop = StopReason(kind="error", text=error)
        _where(failed, run.finish(stop, error, error_type=type(failed).__name__))
        raise failed from e
    return run.finish(stop, None)


def _guard_sink(run: RunRecord, fired: list[Guard]) -> Callable[[Any], None]:
    """Where the team's guards report when they stop the run (see `agents._guards`)."""

    def sink(g: Any) -> None:
        elapsed = round(time.monotonic() - run.started, 3)
        fired.append(
            Guard(
                source=g.name,
                elapsed_s=elapsed,
                guard=g.name,
                content=redact_text(g.text),  # tool arguments a model wrote may hold a credential
                limit=g.limit,
                data=redact_data(dict(g.data)),
            )
        )

    return sink


def _where(error: BaseException, result: RunResult) -> None:
    """Tell whoever catches `error` where the run's transcript and engine log are (the CLI prints them)."""
    with contextlib.suppress(AttributeError, TypeError):
        error.transcript_path = result.transcript_path  # type: ignore[attr-defined]
        error.log_path = result.log_path  # type: ignore[attr-defined]


async def _stream(
    opened: OpenTeam, task: str, started: float, emit: EventHook, timeout_s: float
) -> StopReason:
    from autogen_agentchat.base import TaskResult
    from autogen_core import CancellationToken

    from ..agents._stop import watch_of

    token = CancellationToken()
    result: TaskResult | None = None
    watch = watch_of(opened.team)
    if watch is not None:  # a team run again (build_team's callers) starts with no stop
        watch.stop = None

    async def consume() -> None:
        nonlocal result
        async for item in opened.team.run_stream(task=task, cancellation_token=token):
            if isinstance(item, TaskResult):
                result = item
            else:
                emit(entry_from_autogen(item, time.monotonic() - started))

    consumer = asyncio.ensure_future(consume())
    try:
        # The caps include a timeout condition, checked as messages arrive; this is the hard stop behind it
        # for a model call that never returns.
        done, _ = await asyncio.wait({consumer}, timeout=timeout_s + 5)
    except BaseException:  # interrupted: AutoGen waits for in-flight calls unless they are cancelled
        await stop_team(consumer, token, opened.team)
        raise
    if not done:
        await stop_team(consumer, token, opened.team)
        text = f"Hard time limit of {timeout_s:g} s reached"
        return StopReason(kind="limit", condition="timeout", fired=("timeout",), text=text)
    consumer.result()  # re-raise what the team raised
    return _stop_of(opened, result.stop_reason if result else None)


def _stop_of(opened: OpenTeam, text: str | None) -> StopReason:
    """The typed stop: what the team's `StopWatch` saw fire (agents/_stop.py); with nothing fired, the
    team ended on its own, which its shape tells: `max_turns` when it has a turn cap."""
    from ..agents._stop import watch_of

    text = text or "the team stopped"
    watch = watch_of(opened.team)
    stopped = watch.stop if watch is not None else None
    if stopped is not None:
        fired = tuple(dict.fromkeys(f.name for f in stopped.fired))
        return StopReason(kind=stopped.kind, condition=stopped.condition, fired=fired, text=text)
    team = opened.scenario.team
    turns = team.max_turns is not None or team.kind == "single"
    return StopReason(
        kind="rule",
        condition="max_turns" if turns else None,
        fired=("max_turns",) if turns else (),
        text=text,
    )


def _explain(e: BaseException) -> str:
    """One paragraph for an unexpected failure, with the innermost cause that says most."""
    inner = e
    while (nxt := inner.__cause__ or inner.__context__) is not None:
        if isinstance(nxt, TroupeError):
            return f"{type(nxt).__name__}: {nxt}"
        inner = nxt
    msg = str(e) or type(e).__name__
    if inner is not e and str(inner):
        msg = f"{msg} (caused by {type(inner).__name__}: {inner})"
    return f"The run failed: {type(e).__name__}: {msg}"


def build_team(
    scenario: Scenario, model_client: ChatCompletionClient | None = None, *, options: RunOptions | None = None
) -> AutogenTeam:
    """The scenario's AutoGen team, for apps that call `team.run_stream()` themselves.

    With `model_client` every agent uses it (the caller closes it); without, clients come from the model
    profiles. Scenarios whose agents use MCP servers need their servers started: use
    `async with open_team(scenario) as opened: opened.team` instead.
    """
    from ..agents import assemble_team as _build
    from ..agents import limit_conditions
    from ..tools import load_python_tool

    if any(a.mcp for a in scenario.team.agents):
        raise UsageError(
            f"scenario {scenario.name!r} uses MCP servers, which must be started and stopped: "
            "use `async with open_team(scenario) as opened:` and `opened.team`"
        )
    from ..models._capabilities import capabilities_of
    from ..models._facts import ModelLimits, limits_of

    options = options or RunOptions()
    specs: dict[str, Any] = {}

    def client_for(agent: str, ref: Any) -> Any:
        from ._structured import structured_answers

        if model_client is not None:
            return structured_answers(model_client, agent)
        from ..models._registry import create_model_client

        specs[agent] = spec = resolve_agent_model(scenario, ref, options)
        return structured_answers(create_model_client(spec), agent, owned=True)

    def limits_for(agent: str) -> ModelLimits | None:
        spec = specs.get(agent)
        return None if spec is None else limits_of(spec)

    return _build(
        scenario,
        client_for=client_for,
        tool_for=load_python_tool,
        extra_termination=limit_conditions(scenario.limits),
        limits_for=limits_for,
        human_for=functools.partial(_human_for, ask=options.ask_human, wrap=None),
        capabilities_for=lambda agent: capabilities_of(specs.get(agent)),
    )
