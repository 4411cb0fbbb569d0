"""`troupe run --trace` as a user runs it: a real OTLP/HTTP receiver on 127.0.0.1 decodes what the command
exports (opentelemetry-proto), and the fake endpoint, a process of its own, logs the `traceparent` it got."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from helpers import troupe
from otlp_receiver import OtlpReceiver, ReceivedSpan

TRAVEL = {
    "by_system": {
        "suggest a travel plan": ["Day 1: Kathmandu."],
        "authentic and interesting local": ["Try dal bhat."],
        "language or communication": ["Say Namaste."],
        "detailed final travel plan": ["Plan done. TERMINATE"],
    }
}
NO_OTEL = {  # the developer's own OpenTelemetry settings stay out of these runs
    "OTEL_EXPORTER_OTLP_ENDPOINT": "",
    "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "",
    "OTEL_SERVICE_NAME": "",
    "OTEL_SDK_DISABLED": "",
    "OTEL_TRACES_EXPORTER": "",
    "OTEL_METRICS_EXPORTER": "",
    "OTEL_EXPORTER_OTLP_PROTOCOL": "",
}


def run_travel(base: str, tmp_path: Path, *flags: str, **env: str) -> Any:
    out = str(tmp_path / "runs")
    return troupe(
        "run", "travel_planning", "--base-url", base, "--model", "m", "--quiet", "--out", out, *flags,
        env={**NO_OTEL, **env},
    )  # fmt: skip


def depth_first(spans: list[ReceivedSpan]) -> list[tuple[int, str]]:
    kids: dict[str, list[ReceivedSpan]] = {}
    for s in sorted(spans, key=lambda s: s.start_ns):
        kids.setdefault(s.parent_id, []).append(s)

    def walk(parent: str, depth: int) -> list[tuple[int, str]]:
        return [x for s in kids.get(parent, []) for x in [(depth, s.name), *walk(s.span_id, depth + 1)]]

    return walk("", 0)


def test_trace_sends_the_run_over_otlp_http_and_the_endpoint_gets_its_traceparent(
    fake_process: Any, tmp_path: Path
) -> None:
    base, log = fake_process(TRAVEL)
    with OtlpReceiver() as rx:
        proc = run_travel(
            base, tmp_path, "--trace", OTEL_EXPORTER_OTLP_ENDPOINT=rx.endpoint, OTEL_SERVICE_NAME="trip-svc"
        )
        assert proc.returncode == 0, proc.stderr
        spans, points, errors = rx.spans(), rx.metric_points(), rx.errors
    assert errors == []
    agents = ["planner_agent", "local_agent", "language_agent", "travel_summary_agent"]
    assert depth_first(spans) == [(0, "invoke_workflow travel_planning")] + [
        x for a in agents for x in ((1, f"invoke_agent {a}"), (2, "chat m"))
    ]
    (trace_id,) = {s.trace_id for s in spans}
    assert f"trace {trace_id} sent to {rx.endpoint}/v1/traces" in proc.stderr
    (transcript,) = (tmp_path / "runs").glob("travel_planning-*.jsonl")
    assert json.loads(transcript.read_text().splitlines()[-1])["trace_id"] == trace_id
    assert {s.resource["service.name"] for s in spans} == {"trip-svc"}
    chats = sorted((s for s in spans if s.name == "chat m"), key=lambda s: s.start_ns)
    assert {
        (s.kind, s.attributes["gen_ai.provider.name"], s.attributes["gen_ai.response.model"]) for s in chats
    } == {("CLIENT", "openai", "m")}
    requests = [json.loads(line) for line in log.read_text().splitlines()]
    sent = [r["headers"]["traceparent"] for r in requests if r["path"].endswith("/chat/completions")]
    assert [tuple(h.split("-")[1:3]) for h in sent] == [(trace_id, s.span_id) for s in chats]

    ((attributes, count),) = points["gen_ai.client.operation.duration"]
    assert (attributes["gen_ai.operation.name"], attributes["gen_ai.request.model"], count) == (
        "chat",
        "m",
        4,
    )
    assert {a["gen_ai.token.type"] for a, _ in points["gen_ai.client.token.usage"]} == {"input", "output"}
    assert points["troupe.runs"] == [
        ({"troupe.scenario": "travel_planning", "troupe.run.stopped_by": "rule"}, 1)
    ]


def test_the_standard_endpoint_variable_alone_turns_tracing_on(fake_process: Any, tmp_path: Path) -> None:
    base, _ = fake_process(TRAVEL)
    with OtlpReceiver() as rx:
        proc = run_travel(base, tmp_path, OTEL_EXPORTER_OTLP_TRACES_ENDPOINT=f"{rx.endpoint}/v1/traces")
        assert proc.returncode == 0, proc.stderr
        names = {s.name for s in rx.spans()}
    assert "invoke_workflow travel_planning" in names
    assert {s.resource["service.name"] for s in rx.spans()} == {"autogen-troupe"}


def test_the_sdk_switched_off_sends_nothing(fake_process: Any, tmp_path: Path) -> None:
    base, log = fake_process(TRAVEL)
    with OtlpReceiver() as rx:
        proc = run_travel(
            base, tmp_path, "--trace", OTEL_EXPORTER_OTLP_ENDPOINT=rx.endpoint, OTEL_SDK_DISABLED="true"
        )
        assert proc.returncode == 0, proc.stderr
        assert rx.traces == [] and rx.metrics == []
    assert "trace " not in proc.stderr
    assert all("traceparent" not in json.loads(line)["headers"] for line in log.read_text().splitlines())


def test_a_setting_tracing_cannot_honour_is_bad_input(fake_process: Any, tmp_path: Path) -> None:
    base, log = fake_process(TRAVEL)
    proc = run_travel(base, tmp_path, "--trace", OTEL_EXPORTER_OTLP_PROTOCOL="http/json")
    assert proc.returncode == 2
    assert (
        "OTEL_EXPORTER_OTLP_PROTOCOL='http/json' is not supported; use one of: http/protobuf, grpc"
        in proc.stderr
    )
    assert "Traceback" not in proc.stderr
    assert not log.exists() or log.read_text() == ""  # refused before the run


def test_a_replay_is_traced_offline_and_flagged(tmp_path: Path, scenarios_dir: Path) -> None:
    with OtlpReceiver() as rx:
        env = {**NO_OTEL, "OTEL_EXPORTER_OTLP_ENDPOINT": rx.endpoint}
        proc = troupe(
            "run", "time_agent", "--replay", str(scenarios_dir / "time_agent.cassette.json"), "--quiet",
            "--out", str(tmp_path / "runs"), "--trace", env=env,
        )  # fmt: skip
        assert proc.returncode == 0, proc.stderr
        spans = rx.spans()
    assert depth_first(spans) == [
        (0, "invoke_workflow time_agent"),
        (1, "invoke_agent time_assistant"),
        (2, "chat smollm2-135m-instruct"),
        (2, "execute_tool get_current_time"),
        (2, "chat smollm2-135m-instruct"),
    ]
    flagged = {s.name for s in spans if s.attributes.get("troupe.replayed")}
    assert flagged == {s.name for s in spans} - {"invoke_agent time_assistant"}
    assert {s.kind for s in spans} == {"INTERNAL"}  # nothing left the process


def test_an_eval_is_traced_run_by_run(fake_process: Any, tmp_path: Path) -> None:
    """`troupe eval --trace`: a trace per run (six here), five named on stderr and the rest counted."""
    base, _ = fake_process({"default": "Day 1 in the city. TERMINATE"})
    scenario = tmp_path / "trip.yaml"
    scenario.write_text(
        "name: trip\ntask: Plan a day in {{city}}.\n"
        "team: {kind: single, agents: [{name: planner, system_message: You plan trips.}],"
        " termination: {text_mention: TERMINATE}}\n"
    )
    tasks = tmp_path / "tasks.csv"
    tasks.write_text("city\nKyoto\nLima\nRome\nOslo\nCusco\nPune\n")
    with OtlpReceiver() as rx:
        proc = troupe(
            "eval", str(scenario), "--tasks", str(tasks), "--out", str(tmp_path / "out"), "-q", "--trace",
            "--base-url", base, "--model", "m",
            env={**NO_OTEL, "OTEL_EXPORTER_OTLP_ENDPOINT": rx.endpoint},
        )  # fmt: skip
        assert proc.returncode == 0, proc.stderr
        spans, errors = rx.spans(), rx.errors
    assert errors == []
    roots = [s for s in spans if s.name == "invoke_workflow trip"]
    assert len(roots) == 6 and len({s.trace_id for s in roots}) == 6
    named = [line for line in proc.stderr.splitlines() if line.startswith("trace ")]
    assert len(named) == 5 and {line.split()[1] for line in named} <= {s.trace_id for s in roots}
    assert f"and 1 more traces sent to {rx.endpoint}/v1/traces" in proc.stderr


def test_a_collector_that_is_down_is_said_once_in_our_words(fake_process: Any, tmp_path: Path) -> None:
    """The SDK's own lines (connection refused, failed export) go to the run's log, not the console; our
    line says what happened."""
    import socket

    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    base, _ = fake_process(TRAVEL)
    proc = run_travel(
        base, tmp_path, "--trace", OTEL_EXPORTER_OTLP_ENDPOINT=f"http://127.0.0.1:{port}",
        OTEL_EXPORTER_OTLP_TIMEOUT="2",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("trace "), proc.stderr
    assert f"could not all be sent to http://127.0.0.1:{port}/v1/traces" in lines[0]
    (log,) = (tmp_path / "runs").glob("*.log")
    assert "opentelemetry" in log.read_text()  # the SDK's own words, kept for whoever looks
