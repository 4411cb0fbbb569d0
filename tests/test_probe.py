"""`troupe probe` against endpoints that lack the features: a plain OpenAI-shaped stub and an
LMDeploy-shaped one (tests/lmdeploy_stub.py: lmdeploy cannot be installed here, so the stub emulates its
api_server's documented behaviour); a dead endpoint; the table, `--json` and `--save`. vLLM's real server
is probed in test_vllm_client.py (marker `vllm`), beside the parity test's server.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fake_openai import FakeOpenAI, Reply
from helpers import free_port
from lmdeploy_stub import lmdeploy_server
from typer.testing import CliRunner

from autogen_troupe.cli import app
from autogen_troupe.models import OpenAIModel, resolve_model
from autogen_troupe.models._capabilities import capabilities_of
from autogen_troupe.models.openai._probe import probe_endpoint
from autogen_troupe.scenario import ModelSpec

NO_FEATURES = (
    "tool_calls",
    "tool_required",
    "tool_named",
    "parallel_tool_calls",
    "json_schema",
    "choice",
    "template_tools",
)


def _spec(base_url: str, model: str | None = "m") -> OpenAIModel:
    spec = resolve_model(ModelSpec.model_validate({"base_url": base_url, "model": model}), env={})
    assert isinstance(spec, OpenAIModel)
    return spec


async def test_a_plain_stub_lacks_the_features_and_the_probe_says_so(srv: FakeOpenAI) -> None:
    srv.default = Reply(text="Hello there! How can I help?")
    report = await probe_endpoint(_spec(srv.base_url))
    rows = {r.feature: r for r in report.rows}
    assert report.problem is None and [rows[f].works for f in NO_FEATURES] == [False] * len(NO_FEATURES)
    assert rows["tool_required"].detail == "no tool call although required"
    assert rows["choice"].detail.startswith("answer not a choice: 'Hello there!")
    assert rows["stream_usage"].works is True  # the stub does count usage when asked
    assert (rows["reasoning"].works, rows["context_length"].works) == (False, False)
    assert report.capabilities.choice is False and report.context_length is None
    # what each feature was asked with reached the server
    bodies = [r.json for r in srv.chat_requests]
    assert {"required", "auto"} <= {
        b.get("tool_choice") for b in bodies if isinstance(b.get("tool_choice"), str)
    }
    assert any(b.get("structured_outputs") == {"choice": ["zebra-41", "yak-73"]} for b in bodies)
    assert any(b.get("response_format", {}).get("type") == "json_schema" for b in bodies)
    assert any(b.get("stream_options") == {"include_usage": True} for b in bodies)


async def test_a_stub_that_follows_the_constraints_gets_yes(srv: FakeOpenAI) -> None:
    """The same probe says yes where the answers do follow what was asked (a server that decodes so)."""

    def obeying(body: dict) -> Reply:
        listed = [t for t in body.get("tools") or [] if "enum" in str(t)]
        if listed:  # a required call under a list: rendered short when chat_template_kwargs says so
            short = "chat_template_kwargs" in body
            return Reply(
                tool_calls=[("get_weather", {"city": "station-07"})], usage=(20 if short else 200, 8)
            )
        if "structured_outputs" in body:
            return Reply(text=body["structured_outputs"]["choice"][0])
        if "response_format" in body:
            return Reply(text='{"answer": "beta-9"}')
        if isinstance(body.get("tool_choice"), dict):
            return Reply(tool_calls=[("get_time", {"timezone": "Europe/Paris"})])
        if body.get("tools"):
            return Reply(tool_calls=[("get_weather", {"city": "Paris"}), ("get_weather", {"city": "Rome"})])
        return Reply(text="Hi.", reasoning="The user greets me.")

    srv.responder = obeying
    srv.models_reply = Reply(raw={"data": [{"id": "m", "max_model_len": 8192}]})
    report = await probe_endpoint(_spec(srv.base_url))
    assert all(r.works for r in report.rows), report.rows
    assert report.context_length == 8192 and report.capabilities.reasoning is True


async def test_an_lmdeploy_endpoint_ignores_what_its_guide_does_not_name() -> None:
    with lmdeploy_server() as (base_url, requests):
        report = await probe_endpoint(_spec(base_url, model=None))
    rows = {r.feature: r.works for r in report.rows}
    assert report.model == "internlm-chat-7b"  # discovered from its GET /v1/models
    assert [rows[f] for f in NO_FEATURES] == [False] * len(NO_FEATURES)
    assert rows["stream_usage"] is False and report.capabilities.stream_usage is False
    assert len(requests) == 9  # the first plain answer and one per feature, nothing more


async def test_a_dead_endpoint_gets_one_paragraph() -> None:
    report = await probe_endpoint(_spec(f"http://127.0.0.1:{free_port()}/v1"), request_timeout_s=5)
    assert report.rows == () and report.problem is not None
    assert "cannot be probed: ConnectError" in report.problem and "\n" not in report.problem


async def test_the_probe_time_is_capped(srv: FakeOpenAI) -> None:
    srv.default = Reply(text="Hello.")
    srv.responder = lambda body: Reply(text="late", delay_s=30) if body.get("tools") else None
    report = await probe_endpoint(_spec(srv.base_url), request_timeout_s=2, total_s=6)
    rows = {r.feature: r for r in report.rows}
    assert rows["tool_calls"].works is False and "no answer within 2 s" in rows["tool_calls"].detail
    assert any(r.detail == "not measured: the probe's time ran out" for r in report.rows)


def test_cli_table_json_and_a_failing_endpoint(srv: FakeOpenAI) -> None:
    srv.default = Reply(text="Hello \x1b[31mred\x1b[0m [bold]there[/bold]")
    runner = CliRunner()
    shown = runner.invoke(app, ["probe", "--base-url", srv.base_url, "--model", "m"])
    assert shown.exit_code == 0, shown.output
    assert "choice" in shown.output and "\x1b[31m" not in shown.output and "[bold]" in shown.output
    as_json = runner.invoke(app, ["probe", "--base-url", srv.base_url, "--model", "m", "--json"])
    data = json.loads(as_json.stdout)
    assert data["capabilities"]["choice"] is False and data["capabilities"]["stream_usage"] is True
    dead = runner.invoke(app, ["probe", "--base-url", f"http://127.0.0.1:{free_port()}/v1", "--timeout", "5"])
    assert dead.exit_code == 1 and "cannot be probed" in dead.stderr and "Traceback" not in dead.output
    engine = runner.invoke(app, ["probe", "default"])
    assert engine.exit_code == 2 and "in-process engine" in engine.stderr


def test_save_pins_the_results_into_the_profile_file(
    srv: FakeOpenAI, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    profiles = tmp_path / "profiles.yaml"
    profiles.write_text(f"# my endpoints\nbox:  # under the desk\n  base_url: {srv.base_url}\n  model: m\n")
    monkeypatch.setenv("TROUPE_PROFILES", str(profiles))
    srv.default = Reply(text="Hello.")
    runner = CliRunner()
    done = runner.invoke(app, ["probe", "box", "--save", "box"])
    assert done.exit_code == 0, done.output
    text = profiles.read_text()
    assert text.startswith("# my endpoints\nbox:  # under the desk\n")
    caps = capabilities_of(resolve_model("box"))
    assert (caps.choice, caps.tool_required, caps.stream_usage) == (False, False, True)
    again = runner.invoke(app, ["probe", "--base-url", srv.base_url, "--model", "m", "--save", "other"])
    assert again.exit_code == 0, again.output
    other = resolve_model("other")
    assert other.base_url == srv.base_url and other.capabilities is not None  # type: ignore[union-attr]
    assert text in profiles.read_text()  # the first profile stays as it was written
