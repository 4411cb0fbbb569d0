"""Secrets stay out of everything we emit: transcripts, the console, errors, cassettes, and the text a model
reads back from a tool. Real MCP servers (tests/mcp_fixtures/leaky.py echoes and fails with its secrets),
a real fake endpoint that logs what the model received, and `troupe` as a subprocess."""

from __future__ import annotations

import json
import textwrap
import threading
from pathlib import Path
from typing import Any

import pytest
from fake_openai import FakeOpenAI, Reply
from helpers import troupe

from autogen_troupe import RunOptions, load_scenario, run_scenario
from autogen_troupe._redact import (
    is_secret_name,
    redact_argv,
    redact_data,
    redact_text,
    remember_secrets,
    secrets_in_argv,
)
from autogen_troupe.errors import ToolCallError
from autogen_troupe.models._endpoints import Overrides, resolve_model
from autogen_troupe.models._resolved import redacted
from autogen_troupe.scenario._schema import ModelSpec

TESTS = Path(__file__).resolve().parent
LEAKY = str(TESTS / "mcp_fixtures" / "leaky.py")

# Each secret reaches the server a different way: a secret-named variable in a flag and in the child's env,
# and two plain-named variables whose values are secret only by where they go (a header, a --password).
TOKEN = "tok-3b1f9e7d2c"
KEY = "key-8a6c4e2f0b"
BEARER = "brr-5d7f9a1c3e"
PASSWORD = "pw-0e2d4c6b8a"
SECRETS = (TOKEN, KEY, BEARER, PASSWORD)
ENV = {"LEAKY_TOKEN": TOKEN, "LEAKY_API_KEY": KEY, "PLAIN_HEADER_VALUE": BEARER, "PLAIN_WORD": PASSWORD}


def leaky_scenario(folder: Path, *, fail: bool = False, name: str = "leaky") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.yaml"
    extra = ", --fail" if fail else ""
    path.write_text(
        textwrap.dedent(
            f"""
            name: {name}
            task: Who are you?
            team:
              kind: single
              agents:
                - name: agent
                  mcp: [leaky]
                  reflect_on_tool_use: true
            mcp_servers:
              leaky:
                command: python
                args: [{LEAKY}, "--token=${{LEAKY_TOKEN}}", --api-key, "${{LEAKY_API_KEY}}",
                       -H, "Authorization: Bearer ${{PLAIN_HEADER_VALUE}}",
                       --password, "${{PLAIN_WORD}}"{extra}]
                env: {{LEAKY_API_KEY: "${{LEAKY_API_KEY}}"}}
            """
        ).lstrip()
    )
    return path


def assert_clean(text: str, where: str) -> None:
    leaked = [s for s in SECRETS if s in text]
    assert not leaked, f"{where} carries {leaked}"


SCRIPT = {
    "replies": [
        {"tool_calls": [["whoami", {}], ["explode", {}]]},
        {"text": "I am the leaky agent. TERMINATE"},
    ]
}


# --------------------------------------------------------------------------- whole runs, as a user runs them


def test_recorded_run_leaks_no_secret_anywhere(fake_process: Any, tmp_path: Path) -> None:
    base, log = fake_process(SCRIPT)
    path = leaky_scenario(tmp_path / "sc")
    tape = tmp_path / "tape.json"
    args = ["record", str(path), "--cassette", str(tape), "--out", str(tmp_path / "runs")]
    proc = troupe(*args, "--base-url", base, "--model", "fake", env=ENV, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr

    (transcript,) = (tmp_path / "runs").glob("leaky-*.jsonl")
    requests = log.read_text()
    for where, text in [
        ("stdout", proc.stdout),
        ("stderr", proc.stderr),
        ("the transcript", transcript.read_text()),
        ("the cassette", tape.read_text()),
        ("the requests the model received", requests),
    ]:
        assert_clean(text, where)

    # The secrets were really used and echoed: what came back is masked, not missing.
    results = [json.loads(line) for line in transcript.read_text().splitlines()]
    (tool_result,) = [r for r in results if r.get("kind") == "tool_result"]
    whoami, explode = tool_result["results"]
    assert whoami["content"] == (
        "token ***, key ***, header Authorization: Bearer ***, password ***, env key ***"
    )
    assert (
        explode["is_error"] and "authentication failed for token *** with password ***" in explode["content"]
    )
    second = [json.loads(line) for line in requests.splitlines()][-1]["json"]
    tool_texts = [m["content"] for m in second["messages"] if m["role"] == "tool"]
    assert any("token ***, key ***" in t for t in tool_texts)
    assert any("authentication failed for token ***" in t for t in tool_texts)
    assert "token ***" in proc.stdout  # the console showed the result, masked


def test_failing_server_leaks_no_secret(fake_process: Any, tmp_path: Path) -> None:
    base, log = fake_process(SCRIPT)
    path = leaky_scenario(tmp_path / "sc", fail=True)
    out = tmp_path / "runs"
    proc = troupe(
        "run", str(path), "--base-url", base, "--model", "fake", "--out", str(out), env=ENV, cwd=tmp_path
    )
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert "MCP server 'leaky'" in proc.stderr and "exited with code 1" in proc.stderr
    # The command line and the stderr tail are shown, with every secret masked.
    assert (
        "leaky.py --token=*** --api-key *** -H 'Authorization: Bearer ***' --password *** --fail)"
        in proc.stderr
    )
    assert "leaky: cannot log in with ***" in proc.stderr
    assert "LEAKY_API_KEY is ***" in proc.stderr
    (transcript,) = out.glob("leaky-*.jsonl")
    for where, text in [
        ("stdout", proc.stdout),
        ("stderr", proc.stderr),
        ("the transcript", transcript.read_text()),
    ]:
        assert_clean(text, where)
    assert json.loads(transcript.read_text().splitlines()[-1])["stopped_by"] == "error"
    assert not log.exists() or "chat/completions" not in log.read_text()  # failed before any model call


async def test_the_error_raised_to_a_library_caller_carries_no_secret(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for k, v in ENV.items():
        monkeypatch.setenv(k, v)
    sc = load_scenario(leaky_scenario(tmp_path, fail=True))
    with FakeOpenAI() as srv:
        opts = RunOptions(overrides=Overrides(base_url=srv.base_url, model="fake"), out_dir=tmp_path / "runs")
        with pytest.raises(ToolCallError) as info:
            await run_scenario(sc, options=opts)
    assert_clean(str(info.value), "the error")
    assert_clean(repr(info.value.args), "the error's args")
    assert "--password ***" in str(info.value)


async def test_python_tool_results_and_errors_reach_the_model_masked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SHOP_API_TOKEN", TOKEN)
    (tmp_path / "shop_tools.py").write_text(
        textwrap.dedent(
            '''
            import os

            def show_token() -> str:
                """The shop token."""
                return "the token is " + os.environ["SHOP_API_TOKEN"]

            def fail_login() -> str:
                """Log in."""
                raise PermissionError("login refused for " + os.environ["SHOP_API_TOKEN"])
            '''
        )
    )
    path = tmp_path / "shop.yaml"
    path.write_text(
        textwrap.dedent(
            """
            name: shop
            task: Log in.
            team:
              kind: single
              agents:
                - name: agent
                  tools: [shop_tools:show_token, shop_tools:fail_login]
                  reflect_on_tool_use: true
            """
        ).lstrip()
    )
    with FakeOpenAI() as srv:
        srv.script([Reply(tool_calls=[("show_token", {}), ("fail_login", {})]), Reply(text="Done.")])
        opts = RunOptions(overrides=Overrides(base_url=srv.base_url, model="fake"), out_dir=tmp_path / "runs")
        result = await run_scenario(load_scenario(path), options=opts)
        sent = json.dumps([r.json for r in srv.chat_requests])
    assert result.ok, result.error
    assert_clean(sent, "the requests the model received")
    assert "the token is ***" in sent and "login refused for ***" in sent
    assert_clean(result.transcript_path.read_text(), "the transcript")


# --------------------------------------------------------------------------- URLs, profiles, `troupe models`


def test_url_credentials_are_masked_in_errors_and_troupe_models(tmp_path: Path) -> None:
    url = f"http://bob:{PASSWORD}@127.0.0.1:9/v1?api-version=2024-06&key={TOKEN}&sig={KEY}"
    proc = troupe("models", "--base-url", url, env={}, cwd=tmp_path)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert "127.0.0.1:9" in proc.stderr
    assert_clean(proc.stdout + proc.stderr, "troupe models")

    out = tmp_path / "runs"
    proc = troupe(
        "run", "travel_planning", "--base-url", url, "--model", "m", "--out", str(out), env={}, cwd=tmp_path
    )
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert_clean(proc.stdout + proc.stderr, "troupe run")
    (transcript,) = out.glob("*.jsonl")
    assert_clean(transcript.read_text(), "the transcript")
    models = next(json.loads(x) for x in transcript.read_text().splitlines() if '"record": "models"' in x)
    shown = {spec["base_url"] for spec in models["models"].values()}
    assert shown == {"http://***@127.0.0.1:9/v1?api-version=2024-06&key=***&sig=***"}


def test_troupe_models_masks_a_key_the_server_echoes(fake_process: Any, tmp_path: Path) -> None:
    base, _ = fake_process({"models": ["m"], "default": "x"})
    proc = troupe("models", "--base-url", f"{base}?token={TOKEN}", env={}, cwd=tmp_path)
    assert_clean(proc.stdout + proc.stderr, "troupe models")


def test_redacted_spec_masks_url_query_and_headers() -> None:
    spec = resolve_model(
        ModelSpec(
            provider="openai",
            base_url=f"https://u:{PASSWORD}@h.example/v1?code=1&api_key={TOKEN}",
            model="m",
            headers={"X-Session-Token": KEY, "X-Trace": "t-1"},
        ),
        env={},
    )
    data = redacted(spec)
    assert data["base_url"] == "https://***@h.example/v1?code=1&api_key=***"
    assert data["headers"] == {"X-Session-Token": "***", "X-Trace": "t-1"}


# --------------------------------------------------------------------------- the rules themselves


@pytest.mark.parametrize(
    "name, secret",
    [
        ("OPENAI_API_KEY", True),
        ("GITHUB_TOKEN", True),
        ("DB_PASSWORD", True),
        ("AWS_SECRET_ACCESS_KEY", True),
        ("Authorization", True),
        ("X-Api-Key", True),
        ("Cookie", True),
        ("--access-token", True),
        ("sessionId", True),
        ("APIKEY", True),
        ("BASICAUTH", True),
        ("sig", True),
        ("X-Amz-Credential", True),
        ("max_tokens", False),
        ("TOKENIZERS_PARALLELISM", False),
        ("api_key_env", False),
        ("KEY_FILE", False),
        ("PWD", False),
        ("OLDPWD", False),
        ("SSH_AUTH_SOCK", False),
        ("GIT_AUTHOR_NAME", False),
        ("KEYBOARD", False),
        ("x-genos-user-id", False),
        ("PATH", False),
        ("token_usage", False),
    ],
)
def test_what_names_look_secret(name: str, secret: bool) -> None:
    assert is_secret_name(name) is secret


@pytest.mark.parametrize(
    "text, shown",
    [
        ("https://u:p4ss@h/v1?a=1&key=K123&sig=S456", "https://***@h/v1?a=1&key=***&sig=***"),
        ("srv --token=T1 --api-key K2 --max-tokens 512", "srv --token=*** --api-key *** --max-tokens 512"),
        ("-H 'Authorization: Bearer abcdefgh'", "-H 'Authorization: Bearer ***'"),
        ("X-Api-Key: k-1 and Cookie: a=1; b=2", "X-Api-Key: *** and Cookie: ***"),
        ('{"password": "hunter22", "user": "bob"}', '{"password": "***", "user": "bob"}'),
        ("api_key: sk-1 / time_zone: Asia/Seoul", "api_key: *** / time_zone: Asia/Seoul"),
        (
            "token=${TOKEN} is a placeholder, token=None too",
            "token=${TOKEN} is a placeholder, token=None too",
        ),
        ("Key: the main idea", "Key: the main idea"),
        ("already --token=*** masked", "already --token=*** masked"),
    ],
)
def test_secret_shapes_are_masked(text: str, shown: str) -> None:
    assert redact_text(text) == shown


def test_values_of_secret_named_variables_are_masked_wherever_they_appear(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("MY_SERVICE_CREDENTIALS", "c-77aa99bb")
    monkeypatch.setenv("MY_SERVICE_COLOUR", "colour-value-1")
    monkeypatch.setenv("SHORT_TOKEN", "abc")  # too short to mask by value: "abc" is everywhere
    text = "creds c-77aa99bb, colour colour-value-1, abc"
    assert redact_text(text) == "creds ***, colour colour-value-1, abc"
    monkeypatch.delenv("MY_SERVICE_CREDENTIALS")
    assert redact_text(text) == text  # read at each call, not frozen at import


def test_a_secret_variable_given_a_new_value_masks_the_new_value(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MY_SERVICE_TOKEN", "first-value-1")
    assert redact_text("first-value-1 second-value-2") == "*** second-value-2"
    monkeypatch.setenv("MY_SERVICE_TOKEN", "second-value-2")
    assert redact_text("first-value-1 second-value-2") == "first-value-1 ***"


def test_remembered_values_and_data() -> None:
    remember_secrets(["rem-1234567", None, "x"])
    data = {"a": ["see rem-1234567"], "api_key": "plain", "max_tokens": 5, "nested": {"Cookie": "c=1"}}
    assert redact_data(data) == {
        "a": ["see ***"],
        "api_key": "***",
        "max_tokens": 5,
        "nested": {"Cookie": "***"},
    }
    assert redact_data(data, mask="<scrubbed>")["api_key"] == "<scrubbed>"


def test_argv_is_masked_by_position_and_shape() -> None:
    argv = [
        "-m",
        "srv",
        "--token",
        "t-1",
        "--secret=s-2",
        "-H",
        "Authorization: Bearer b-3456789",
        "--port",
        "80",
    ]
    assert redact_argv(argv) == [
        "-m",
        "srv",
        "--token",
        "***",
        "--secret=***",
        "-H",
        "Authorization: Bearer ***",
        "--port",
        "80",
    ]
    assert set(secrets_in_argv(argv)) == {"t-1", "s-2", "b-3456789"}


@pytest.mark.parametrize(
    "text",
    [
        "a." * 200_000,
        "-a" * 500_000,
        "Ab_9-" * 200_000,
        "'" * 1_000_000,
        '"a":"' * 200_000,
        "http://" * 100_000,
    ],
)
def test_redaction_of_a_megabyte_is_bounded(text: str) -> None:
    """Tool answers can be megabytes long; no rule may backtrack its way into a hang on any of them."""
    done: list[str] = []
    worker = threading.Thread(target=lambda: done.append(redact_text(text)), daemon=True)
    worker.start()
    worker.join(60)
    assert done and len(done[0]) == len(text)
