"""Traces and metrics of whole runs, read back from the OpenTelemetry SDK's in-memory exporter and reader.

Each test installs the SDK's tracer and meter providers as the process's global ones (what an application
does) and takes them away again, so the other tests run with telemetry off. Runs go to a real fake
endpoint on 127.0.0.1, real MCP servers and real Python tools; the span tree is checked as a tree: names,
kinds, parents, the conventions' attributes, and that nothing else (AutoGen's own spans) is in it.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fake_openai import FakeOpenAI, Reply, by_system
from helpers import write
from opentelemetry import metrics, trace
from opentelemetry.metrics import _internal as metrics_internal
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode
from opentelemetry.util._once import Once

from autogen_troupe import RunOptions, load_scenario, open_team, run_scenario
from autogen_troupe.errors import ModelCallError
from autogen_troupe.models._endpoints import Overrides
from autogen_troupe.tapes._cassette import Cassette
from autogen_troupe.telemetry import SEMCONV_VERSION, enabled
from autogen_troupe.testing import execute


@dataclass
class Otel:
    spans: InMemorySpanExporter
    reader: InMemoryMetricReader

    def finished(self) -> list[ReadableSpan]:
        return list(self.spans.get_finished_spans())

    def points(self, name: str) -> list[tuple[dict[str, Any], Any]]:
        """(attributes, data point) of every point of metric `name`."""
        data = self.reader.get_metrics_data()
        out = []
        for rm in data.resource_metrics if data else ():
            for sm in rm.scope_metrics:
                for m in sm.metrics:
                    if m.name == name:
                        out += [(dict(p.attributes or {}), p) for p in m.data.data_points]
        return out


def _set_globals(tracer_provider: Any, meter_provider: Any) -> None:
    """Install (or, with None, remove) the global providers, as OpenTelemetry's own test utilities do."""
    trace._TRACER_PROVIDER_SET_ONCE = Once()
    trace._TRACER_PROVIDER = None
    metrics_internal._METER_PROVIDER_SET_ONCE = Once()
    metrics_internal._METER_PROVIDER = None
    if tracer_provider is not None:
        trace.set_tracer_provider(tracer_provider)
        metrics.set_meter_provider(meter_provider)


@pytest.fixture
def otel() -> Iterator[Otel]:
    exporter, reader = InMemorySpanExporter(), InMemoryMetricReader()
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(exporter))
    _set_globals(tracer_provider, MeterProvider(metric_readers=[reader]))
    try:
        yield Otel(exporter, reader)
    finally:
        _set_globals(None, None)


def options(srv: FakeOpenAI, tmp_path: Path, **env: str) -> RunOptions:
    return RunOptions(
        overrides=Overrides(base_url=srv.base_url, model="fake-model"),
        env={**os.environ, **env},
        out_dir=tmp_path / "runs",
    )


OURS = "autogen_troupe"
MCP_SDK = "mcp-python-sdk"  # the MCP SDK traces its own requests (`MCP send tools/call ...`)
APP = "app"  # a test's own tracer, standing for the application's


def tree(spans: list[ReadableSpan], scope: str | None = OURS) -> list[tuple[int, str]]:
    """(depth, name) of every span (of `scope`; None: all), depth first in start order. Fails on a span
    whose parent is not in the trace, and on spans of any library but ours and the MCP SDK."""
    ids = {s.context.span_id for s in spans}
    orphans = [s.name for s in spans if s.parent is not None and s.parent.span_id not in ids]
    assert not orphans, f"spans whose parent is not in the trace: {orphans}"
    assert {s.instrumentation_scope.name for s in spans} <= {OURS, MCP_SDK, APP}  # none of AutoGen's own
    assert len({s.context.trace_id for s in spans}) <= 1
    kids: dict[int | None, list[ReadableSpan]] = {}
    chosen = [s for s in spans if scope is None or s.instrumentation_scope.name == scope]
    for s in sorted(chosen, key=lambda s: (s.start_time, s.context.span_id)):
        kids.setdefault(s.parent.span_id if s.parent else None, []).append(s)

    def walk(parent: int | None, depth: int) -> list[tuple[int, str]]:
        out = []
        for s in kids.get(parent, []):
            out.append((depth, s.name))
            out += walk(s.context.span_id, depth + 1)
        return out

    return walk(None, 0)


def call(name: str, call_id: str, **arguments: Any) -> Reply:
    """A reply that calls one tool, with the call id given."""
    return Reply(tool_calls=[{"name": name, "arguments": arguments, "id": call_id}])


def single(tmp_path: Path, *, model: str | None = None, agent: str = "{name: a}") -> Any:
    """A one-agent scenario named hi (`model`: an inline model block)."""
    text = "name: hi\ntask: say hi\n" + (f"model: {model}\n" if model else "")
    return load_scenario(write(tmp_path, text + f"team: {{kind: single, agents: [{agent}]}}\n"))


def one(spans: list[ReadableSpan], name: str) -> ReadableSpan:
    found = [s for s in spans if s.name == name]
    assert len(found) == 1, f"{len(found)} spans named {name!r}: {[s.name for s in spans]}"
    return found[0]


def travel() -> Any:
    """Answers for the bundled travel team, one per agent."""
    return by_system(
        {
            "suggest a travel plan": ["Day 1: Kathmandu."],
            "authentic and interesting local": ["Try dal bhat."],
            "language or communication": ["Say Namaste."],
            "detailed final travel plan": ["Plan done. TERMINATE"],
        }
    )


# --------------------------------------------------------------------------- the span tree


async def test_a_run_is_one_tree_of_workflow_agents_and_model_calls(
    otel: Otel, srv: FakeOpenAI, tmp_path: Path
) -> None:
    srv.responder = travel()
    result = await run_scenario(load_scenario("travel_planning"), options=options(srv, tmp_path))
    assert result.ok
    spans = otel.finished()
    agents = ["planner_agent", "local_agent", "language_agent", "travel_summary_agent"]
    assert tree(spans) == [(0, "invoke_workflow travel_planning")] + [
        x for a in agents for x in ((1, f"invoke_agent {a}"), (2, "chat fake-model"))
    ]
    assert {s.instrumentation_scope.name for s in spans} == {OURS}  # none of AutoGen's own
    assert len({s.context.trace_id for s in spans}) == 1

    root = one(spans, "invoke_workflow travel_planning")
    assert root.kind == SpanKind.INTERNAL and root.parent is None
    assert root.instrumentation_scope.schema_url == f"https://opentelemetry.io/schemas/{SEMCONV_VERSION}"
    attrs = dict(root.attributes or {})
    assert attrs["gen_ai.operation.name"] == "invoke_workflow"
    assert attrs["gen_ai.workflow.name"] == "travel_planning"
    assert attrs["troupe.team.kind"] == "round_robin"
    assert attrs["troupe.task.length"] == len(result.task)
    assert attrs["troupe.run.stop_reason"] == result.stop_reason
    assert attrs["troupe.run.stopped_by"] == "rule"
    assert attrs["gen_ai.usage.input_tokens"] == result.usage.prompt_tokens
    assert "error.type" not in attrs

    agent = one(spans, "invoke_agent local_agent")
    assert agent.kind == SpanKind.INTERNAL
    assert dict(agent.attributes or {}) | {"gen_ai.agent.id": "-"} == {
        "gen_ai.operation.name": "invoke_agent",
        "gen_ai.agent.name": "local_agent",
        "gen_ai.agent.id": "-",
        "gen_ai.agent.description": "A local assistant that can suggest local activities or places to visit.",
        "gen_ai.provider.name": "openai",
        "gen_ai.request.model": "fake-model",
        "gen_ai.usage.input_tokens": agent.attributes["gen_ai.usage.input_tokens"],
        "gen_ai.usage.output_tokens": agent.attributes["gen_ai.usage.output_tokens"],
    }


async def test_a_model_call_span_carries_the_conventions_attributes(
    otel: Otel, srv: FakeOpenAI, tmp_path: Path
) -> None:
    srv.script([Reply(text="hello TERMINATE", usage=(11, 3), model="served-model")])
    sc = single(tmp_path, model="{temperature: 0.2, max_tokens: 30}", agent="{name: a, stream: false}")
    await run_scenario(sc, options=options(srv, tmp_path))
    chat = one(otel.finished(), "chat fake-model")
    assert chat.kind == SpanKind.CLIENT
    assert dict(chat.attributes or {}) == {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "openai",
        "gen_ai.request.model": "fake-model",
        "gen_ai.request.temperature": 0.2,
        "gen_ai.request.max_tokens": 30,
        "gen_ai.request.stream": False,
        "server.address": "127.0.0.1",
        "server.port": srv.port,
        "gen_ai.response.model": "served-model",
        "gen_ai.response.id": chat.attributes["gen_ai.response.id"],
        "gen_ai.response.finish_reasons": ("stop",),
        "gen_ai.usage.input_tokens": 11,
        "gen_ai.usage.output_tokens": 3,
    }
    assert chat.attributes["gen_ai.response.id"].startswith("chatcmpl-")


async def test_the_endpoint_gets_the_traceparent_of_its_chat_span(
    otel: Otel, srv: FakeOpenAI, tmp_path: Path
) -> None:
    srv.responder = travel()
    await run_scenario(load_scenario("travel_planning"), options=options(srv, tmp_path))
    chats = sorted((s for s in otel.finished() if s.name.startswith("chat ")), key=lambda s: s.start_time)
    sent = [r.headers.get("traceparent") for r in srv.chat_requests]
    assert len(sent) == len(chats) == 4
    for header, chat in zip(sent, chats, strict=True):
        version, trace_id, parent_id, flags = header.split("-")
        assert (version, trace_id, parent_id) == (
            "00",
            format(chat.context.trace_id, "032x"),
            format(chat.context.span_id, "016x"),
        )
        assert int(flags, 16) & 1  # sampled


async def test_a_stream_is_one_chat_span_and_an_mcp_tool_call_is_an_execute_tool_span(
    otel: Otel, srv: FakeOpenAI, tmp_path: Path
) -> None:
    srv.script(
        [
            call("country_facts", "call_1", country="Nepal"),
            Reply(
                tool_calls=[{"name": "country_facts", "arguments": {"country": "Atlantis"}, "id": "call_2"}]
            ),
            Reply(text="Kathmandu. TERMINATE"),
        ]
    )
    sc = load_scenario(
        write(
            tmp_path,
            """
            name: facts
            task: What is the capital of Nepal?
            team:
              kind: single
              agents: [{name: guide, mcp: [travel], stream: true, max_tool_iterations: 3}]
            mcp_servers:
              travel: {command: python, args: [-m, autogen_troupe.mcp_servers.travel]}
            """,
        )
    )
    await run_scenario(sc, options=options(srv, tmp_path))
    spans = otel.finished()
    assert tree(spans) == [
        (0, "invoke_workflow facts"),
        (1, "invoke_agent guide"),
        (2, "chat fake-model"),
        (2, "execute_tool country_facts"),
        (2, "chat fake-model"),
        (2, "execute_tool country_facts"),
        (2, "chat fake-model"),
    ]
    first, second = sorted(
        (s for s in spans if s.name.startswith("execute_tool")), key=lambda s: s.start_time
    )
    assert first.kind == SpanKind.INTERNAL
    assert dict(first.attributes or {}) == {
        "gen_ai.operation.name": "execute_tool",
        "gen_ai.tool.name": "country_facts",
        "gen_ai.tool.type": "extension",
        "gen_ai.tool.call.id": "call_1",
        "mcp.method.name": "tools/call",
        "troupe.mcp.server": "travel",
        "network.transport": "pipe",
    }
    assert first.status.status_code == StatusCode.UNSET
    assert second.attributes["error.type"] == "tool_error"  # the server answered isError: an unknown country
    assert second.status.status_code == StatusCode.ERROR
    assert all(s.attributes["gen_ai.request.stream"] for s in spans if s.name.startswith("chat "))
    # The MCP SDK's own span of each request nests under the tool call it serves.
    by_id = {s.context.span_id: s for s in spans}
    sent = [s for s in spans if s.name == "MCP send tools/call country_facts"]
    assert [by_id[s.parent.span_id].name for s in sent] == ["execute_tool country_facts"] * 2
    assert {s.attributes["mcp.method.name"] for s in sent} == {"tools/call"}


async def test_python_tools_and_swarm_handoffs_each_get_one_execute_tool_span(
    otel: Otel, srv: FakeOpenAI, tmp_path: Path
) -> None:
    srv.script(
        [
            Reply(
                tool_calls=[{"name": "trip_budget", "arguments": {"days": 3, "daily_usd": 50}, "id": "b1"}]
            ),
            call("transfer_to_closer", "h1"),
            Reply(text="Done. TERMINATE"),
        ]
    )
    sc = load_scenario(
        write(
            tmp_path,
            """
            name: swarm
            task: Budget a trip.
            team:
              kind: swarm
              agents:
                - {name: budgeter, tools: ["autogen_troupe.tools.examples:trip_budget"], handoffs: [closer]}
                - {name: closer}
              termination: {text_mention: TERMINATE}
            """,
        )
    )
    await run_scenario(sc, options=options(srv, tmp_path))
    spans = otel.finished()
    assert tree(spans) == [
        (0, "invoke_workflow swarm"),
        (1, "invoke_agent budgeter"),  # a tool call ends its turn; no handoff yet, so it speaks again
        (2, "chat fake-model"),
        (2, "execute_tool trip_budget"),
        (1, "invoke_agent budgeter"),
        (2, "chat fake-model"),
        (2, "execute_tool transfer_to_closer"),  # AutoGen runs handoffs itself: its helper makes ours
        (1, "invoke_agent closer"),
        (2, "chat fake-model"),
    ]
    budget = one(spans, "execute_tool trip_budget")
    assert budget.attributes["gen_ai.tool.type"] == "function"
    assert budget.attributes["gen_ai.tool.call.id"] == "b1"
    assert budget.attributes["gen_ai.tool.description"]
    assert one(spans, "execute_tool transfer_to_closer").attributes["gen_ai.tool.call.id"] == "h1"


async def test_open_team_on_its_own_traces_under_the_applications_span(
    otel: Otel, srv: FakeOpenAI, tmp_path: Path
) -> None:
    srv.script([Reply(text="hi TERMINATE")])
    sc = single(tmp_path)
    with trace.get_tracer(APP).start_as_current_span("request from the app"):
        async with open_team(sc, options=options(srv, tmp_path)) as opened:
            await opened.team.run(task="say hi")
    assert tree(otel.finished(), scope=None) == [
        (0, "request from the app"),
        (1, "invoke_agent a"),
        (2, "chat fake-model"),
    ]


def test_outside_a_troupe_run_autogens_own_spans_are_untouched(otel: Otel) -> None:
    from autogen_core.tools import FunctionTool

    from autogen_troupe.runtime._autogen_spans import install

    install()
    from autogen_core import CancellationToken
    from autogen_core.tools import _base

    def echo(x: int) -> int:
        return x

    tool = FunctionTool(echo, name="echo", description="Echo.")
    assert getattr(_base.trace_tool_span, "__troupe__", False)  # replaced, and yet:
    import asyncio

    asyncio.run(tool.run_json({"x": 1}, CancellationToken(), call_id="c1"))
    (span,) = otel.finished()
    assert (span.name, span.instrumentation_scope.name) == ("execute_tool echo", "autogen-core")


async def test_inside_a_troupe_run_autogens_runtime_builds_no_attributes_for_its_messaging_spans(
    otel: Otel,
) -> None:
    from autogen_core import SingleThreadedAgentRuntime

    from autogen_troupe.runtime._autogen_spans import install
    from autogen_troupe.telemetry import RunTelemetry

    install()
    runtime = SingleThreadedAgentRuntime()
    assert "message" in await runtime._create_otel_attributes(message="hello")  # AutoGen's own, outside
    with RunTelemetry().active():
        assert await runtime._create_otel_attributes(message="hello") == {}  # no message serialized
    assert "message" in await runtime._create_otel_attributes(message="hello")


# --------------------------------------------------------------------------- errors and metrics


async def test_a_failed_model_call_is_an_error_on_its_span_and_on_the_run(
    otel: Otel, srv: FakeOpenAI, tmp_path: Path
) -> None:
    srv.script([Reply(status=500, error="the model fell over")])
    sc = single(tmp_path, model="{max_retries: 0}")
    with pytest.raises(ModelCallError):
        await run_scenario(sc, options=options(srv, tmp_path))
    spans = otel.finished()
    chat, root = one(spans, "chat fake-model"), one(spans, "invoke_workflow hi")
    for span in (chat, root):
        assert span.attributes["error.type"] == "ModelCallError"
        assert span.status.status_code == StatusCode.ERROR
    assert root.attributes["troupe.run.stopped_by"] == "error"
    assert "the model fell over" in chat.status.description
    ((attributes, point),) = otel.points("troupe.runs")
    assert attributes == {
        "troupe.scenario": "hi",
        "troupe.run.stopped_by": "error",
        "error.type": "ModelCallError",
    }
    assert point.value == 1
    ((attributes, _),) = otel.points("gen_ai.client.operation.duration")
    assert attributes["error.type"] == "ModelCallError"
    assert otel.points("gen_ai.client.token.usage") == []  # no usage from a failed call


async def test_metrics_follow_the_conventions(otel: Otel, srv: FakeOpenAI, tmp_path: Path) -> None:
    srv.responder = travel()
    await run_scenario(load_scenario("travel_planning"), options=options(srv, tmp_path))
    common = {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "openai",
        "gen_ai.request.model": "fake-model",
        "gen_ai.response.model": "fake-model",
        "server.address": "127.0.0.1",
        "server.port": srv.port,
    }
    ((attributes, duration),) = otel.points("gen_ai.client.operation.duration")
    assert attributes == common
    assert duration.count == 4
    assert list(duration.explicit_bounds)[:3] == [0.01, 0.02, 0.04]  # the conventions' advice
    tokens = {a["gen_ai.token.type"]: p for a, p in otel.points("gen_ai.client.token.usage")}
    assert set(tokens) == {"input", "output"}
    assert tokens["input"].count == 4
    spans = [s for s in otel.finished() if s.name.startswith("chat ")]
    assert tokens["output"].sum == sum(s.attributes["gen_ai.usage.output_tokens"] for s in spans)
    ((attributes, runs),) = otel.points("troupe.runs")
    assert attributes == {"troupe.scenario": "travel_planning", "troupe.run.stopped_by": "rule"}
    assert runs.value == 1


# --------------------------------------------------------------------------- message contents


async def test_message_contents_are_left_out_unless_asked(
    otel: Otel, srv: FakeOpenAI, tmp_path: Path
) -> None:
    srv.responder = travel()
    await run_scenario(load_scenario("travel_planning"), options=options(srv, tmp_path))
    for span in otel.finished():
        assert not {"gen_ai.input.messages", "gen_ai.output.messages"} & set(span.attributes or {})
        assert "Namaste" not in json.dumps(dict(span.attributes or {}))


async def test_asked_for_message_contents_follow_the_schema_and_hold_no_secret(
    otel: Otel, srv: FakeOpenAI, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = "sk-telemetry-secret-0123456789"
    monkeypatch.setenv("SHOP_API_KEY", secret)
    srv.script(
        [
            call("country_facts", "c1", country="Nepal"),
            Reply(text=f"Your key is {secret}. TERMINATE"),
        ]
    )
    sc = load_scenario(
        write(
            tmp_path,
            f"""
            name: leaky
            task: "Look up Nepal with key {secret}"
            team: {{kind: single, agents: [{{name: guide, mcp: [travel], reflect_on_tool_use: true}}]}}
            mcp_servers:
              travel: {{command: python, args: [-m, autogen_troupe.mcp_servers.travel]}}
            """,
        )
    )
    await run_scenario(
        sc,
        options=options(srv, tmp_path, OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT="true"),
    )
    spans = otel.finished()
    assert secret not in json.dumps([dict(s.attributes or {}) for s in spans])
    first, last = sorted((s for s in spans if s.name.startswith("chat ")), key=lambda s: s.start_time)
    inputs = json.loads(first.attributes["gen_ai.input.messages"])
    assert [m["role"] for m in inputs] == ["system", "user"]
    assert inputs[1]["parts"] == [{"type": "text", "content": "Look up Nepal with key ***"}]
    assert json.loads(first.attributes["gen_ai.output.messages"]) == [
        {
            "role": "assistant",
            "parts": [
                {"type": "tool_call", "id": "c1", "name": "country_facts", "arguments": {"country": "Nepal"}}
            ],
            "finish_reason": "tool_calls",
        }
    ]
    roles = [m["role"] for m in json.loads(last.attributes["gen_ai.input.messages"])]
    assert roles == ["system", "user", "assistant", "tool"]
    assert json.loads(last.attributes["gen_ai.output.messages"])[0]["parts"][0]["content"] == (
        "Your key is ***. TERMINATE"
    )
    tool = one(spans, "execute_tool country_facts")
    assert json.loads(tool.attributes["gen_ai.tool.call.arguments"]) == {"country": "Nepal"}
    assert "Kathmandu" in json.loads(tool.attributes["gen_ai.tool.call.result"])


# --------------------------------------------------------------------------- replay


async def test_a_replay_makes_the_same_tree_with_the_recorded_timings_flagged(
    otel: Otel, srv: FakeOpenAI, tmp_path: Path
) -> None:
    srv.script(
        [
            call("country_facts", "c1", country="Nepal"),
            Reply(text="Kathmandu. TERMINATE"),
        ]
    )
    sc = load_scenario(
        write(
            tmp_path,
            """
            name: facts
            task: What is the capital of Nepal?
            team: {kind: single, agents: [{name: guide, mcp: [travel]}]}
            mcp_servers:
              travel: {command: python, args: [-m, autogen_troupe.mcp_servers.travel]}
            """,
        )
    )
    tape = tmp_path / "facts.cassette.json"
    recorded = await execute(sc, "record", cassette=tape, options=options(srv, tmp_path))
    assert recorded.ok, recorded.problem
    live = otel.finished()
    cassette = Cassette.load(tape)
    assert all(c.duration_s is not None for c in (*cassette.model_calls, *cassette.tool_calls))
    # Known recorded timings, so the replayed spans can be checked to the nanosecond.
    timed = cassette.model_copy(
        update={
            "model_calls": tuple(c.model_copy(update={"duration_s": 1.5}) for c in cassette.model_calls),
            "tool_calls": tuple(c.model_copy(update={"duration_s": 0.25}) for c in cassette.tool_calls),
        }
    )
    timed.save(tape)
    otel.spans.clear()

    replayed = await execute(sc, "replay", cassette=tape, options=RunOptions(out_dir=tmp_path / "runs"))
    assert replayed.ok, replayed.problem
    spans = otel.finished()
    assert tree(spans) == tree(live)
    flagged = sorted(s.name for s in spans if s.attributes.get("troupe.replayed"))
    assert flagged == sorted(s.name for s in spans if not s.name.startswith("invoke_agent "))
    for span in spans:
        recorded_s = {"chat": 1.5, "execute_tool": 0.25}.get(span.name.split()[0])
        if recorded_s is not None:
            assert span.attributes["troupe.recorded.duration_s"] == recorded_s
            assert span.end_time - span.start_time == int(recorded_s * 1e9)
    chats = [s for s in spans if s.name.startswith("chat ")]
    assert all(s.attributes["gen_ai.provider.name"] == "openai" for s in chats)  # as recorded
    root = one(spans, "invoke_workflow facts")
    recorded_ns = int((1.5 * len(cassette.model_calls) + 0.25 * len(cassette.tool_calls)) * 1e9)
    assert root.end_time - root.start_time >= recorded_ns  # as long as the recorded calls took
    ((attributes, _),) = otel.points("troupe.runs")[-1:]
    assert attributes.get("troupe.replayed") is True


# --------------------------------------------------------------------------- off


async def test_without_a_provider_nothing_is_traced_and_none_is_installed(
    srv: FakeOpenAI, tmp_path: Path
) -> None:
    srv.script([Reply(text="hi TERMINATE")])
    sc = single(tmp_path)
    assert not enabled()
    await run_scenario(sc, options=options(srv, tmp_path))
    assert "traceparent" not in srv.chat_requests[0].headers
    assert isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider)  # the library added none
    assert not enabled()
