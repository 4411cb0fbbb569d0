"""The model server's spans join our trace: the in-process engine's and vLLM's own OpenAI server's.

Both run the embedded SmolLM2-135M on the CPU (marked `vllm`: each loads a model engine). Spans from every
process go to one real OTLP/HTTP receiver on 127.0.0.1, which decodes them.
"""

from __future__ import annotations

import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from helpers import troupe, write
from otlp_receiver import OtlpReceiver, ReceivedSpan

pytestmark = pytest.mark.vllm

OTEL = {"OTEL_SERVICE_NAME": "", "OTEL_SDK_DISABLED": "", "OTEL_EXPORTER_OTLP_PROTOCOL": ""}
SCENARIO = """
    name: hello
    task: Say hello in one word.
    model: {profile: default, max_tokens: 8}
    team:
      kind: single
      agents: [{name: greeter, description: Says hello.}]
    """


def by_name(spans: list[ReceivedSpan], name: str) -> list[ReceivedSpan]:
    return [s for s in spans if s.name == name]


def test_the_in_process_engines_request_span_is_a_child_of_the_chat_span(tmp_path: Path) -> None:
    scenario = write(tmp_path, SCENARIO)
    with OtlpReceiver() as rx:
        env = {**OTEL, "OTEL_EXPORTER_OTLP_ENDPOINT": rx.endpoint}
        proc = troupe(
            "run", str(scenario), "--quiet", "--out", str(tmp_path / "runs"), "--trace", env=env, timeout=600
        )
        assert proc.returncode == 0, proc.stderr
        spans = rx.spans()
    ids = [s.span_id for s in spans]
    assert len(ids) == len(set(ids))  # unique, although vLLM seeds Python's random while it loads
    assert len({s.trace_id for s in spans}) == 1
    assert [s.name for s in spans if s.parent_id and s.parent_id not in ids] == []  # no orphans
    (chat,) = by_name(spans, "chat smollm2-135m-instruct")
    (request,) = by_name(spans, "llm_request")
    assert chat.kind == "INTERNAL" and chat.attributes["gen_ai.provider.name"] == "vllm"
    assert (request.kind, request.parent_id, request.scope) == ("SERVER", chat.span_id, "vllm.tracing.otel")
    assert request.attributes["gen_ai.request.id"] == chat.attributes["gen_ai.response.id"]
    for timing in ("time_in_queue", "time_in_model_prefill", "time_in_model_decode", "time_to_first_token"):
        assert request.attributes[f"gen_ai.latency.{timing}"] >= 0
    # vLLM's spans of loading the model belong to the run that loaded it.
    (root,) = by_name(spans, "invoke_workflow hello")
    loading = [s for s in spans if s.scope.startswith("vllm.") and s.name != "llm_request"]
    assert loading, "vLLM made no spans of its load"
    by_id = {s.span_id: s for s in spans}

    def top(span: ReceivedSpan) -> ReceivedSpan:
        while span.parent_id:
            span = by_id[span.parent_id]
        return span

    assert {top(s).span_id for s in loading} == {root.span_id}


def test_vllms_server_started_with_otlp_traces_endpoint_joins_the_trace(tmp_path: Path) -> None:
    from vllm_server import vllm_openai_server

    from autogen_troupe.models.vllm._default_model import ensure_default_model

    folder = ensure_default_model()
    scenario = write(tmp_path, SCENARIO.replace("{profile: default, max_tokens: 8}", "{max_tokens: 8}"))
    with OtlpReceiver() as rx:
        with vllm_openai_server(
            str(folder),
            max_model_len=2048,
            log=tmp_path / "server.log",
            extra_args=["--otlp-traces-endpoint", f"{rx.endpoint}/v1/traces"],
            env={"OTEL_EXPORTER_OTLP_TRACES_PROTOCOL": "http/protobuf", **OTEL},
        ) as server:
            env = {**OTEL, "OTEL_EXPORTER_OTLP_ENDPOINT": rx.endpoint}
            proc = troupe(
                "run", str(scenario), "--base-url", server.base_url, "--model", "smol", "--quiet",
                "--out", str(tmp_path / "runs"), "--trace", env=env, timeout=600,
            )  # fmt: skip
            assert proc.returncode == 0, proc.stderr
            deadline = time.monotonic() + 60  # the server exports in batches, every few seconds
            while not by_name(rx.spans(), "llm_request") and time.monotonic() < deadline:
                time.sleep(0.5)
        spans = rx.spans()
    (chat,) = by_name(spans, "chat smol")
    (request,) = by_name(spans, "llm_request")
    assert chat.kind == "CLIENT" and chat.attributes["server.port"] == urlsplit(server.base_url).port
    assert (request.trace_id, request.parent_id) == (chat.trace_id, chat.span_id)
    assert request.kind == "SERVER"
