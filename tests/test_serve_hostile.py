"""`troupe serve` under hostile input: secrets cut across stream chunks, secrets in a scenario's text that
have no telling shape, lone surrogates and broken transcripts, JSON nested past reason, failures deep in
AutoGen; and the server's log, a line per run started and ended."""

from __future__ import annotations

import itertools
import json
import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2
import openai
import pytest
from fake_openai import FakeOpenAI, Reply
from helpers import write
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from served import Served, sse

from autogen_troupe._redact import StreamRedactor, redact_text, remember_secrets

ECHO = "name: echo\ntask: hi\nteam: {kind: single, agents: [{name: echoer}]}\n"
KEY = "sk-live-0123456789abcdefLEAK"  # an endpoint key, known to the server through its environment
BEARER = "Authorization: Bearer tok3n.XYZ_0123456789"
USER = [{"role": "user", "content": "hi"}]


def _joined(text: str, cuts: list[int]) -> str:
    stream = StreamRedactor()
    bounds = [0, *sorted(set(cuts)), len(text)]
    return "".join(stream.feed(text[a:b]) for a, b in itertools.pairwise(bounds)) + stream.end()


_WORDS = [
    *"abc xyz-=:;'\",._/@\n\r\t{}[]()<>$*?#&\\",
    *("token", "Bearer ", "--", "sk-", "Cookie: ", "https://", "user:pw@", "?sig=", "api_key", "${A}"),
]
_PROSE = st.lists(st.sampled_from(_WORDS), max_size=20).map("".join)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(before=_PROSE, middle=_PROSE, after=_PROSE, cuts=st.lists(st.integers(0, 400), max_size=40))
def test_a_secret_cut_anywhere_across_pieces_is_masked_as_in_the_whole_text(
    before: str, middle: str, after: str, cuts: list[int]
) -> None:
    remember_secrets([KEY])
    text = f"{before}{KEY}{middle} {BEARER}\n{after}"
    joined = _joined(text, [c for c in cuts if c <= len(text)])
    assert joined == redact_text(text)
    assert KEY not in joined and "tok3n.XYZ_0123456789" not in joined


def test_text_without_secrets_streams_through_with_a_short_hold() -> None:
    prose = "Day one: the temple at 9, lunch by the river, a walk in Gion at dusk. " * 20
    stream, sent, longest = StreamRedactor(), 0, 0  # the longest stretch held back: a word or two
    for i, ch in enumerate(prose):
        sent += len(stream.feed(ch))
        longest = max(longest, i + 1 - sent)
    assert sent + len(stream.end()) == len(prose) and longest <= 12


def test_the_terminal_view_masks_a_secret_cut_across_chunks_of_a_long_line(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """`troupe run`'s console forwards chunks too: a line longer than it used to hold whole (512
    characters) was let out up to its last space, `Bearer ` on one side and the token on the other."""
    from io import StringIO

    from rich.console import Console

    from autogen_troupe.cli.run_view import ConsoleView
    from autogen_troupe.runtime._transcript import Chunk, Text

    monkeypatch.setenv("MY_ENDPOINT_KEY", KEY)
    said = "x" * 500 + f" {BEARER} and the key {KEY} again."
    out = StringIO()
    view = ConsoleView(Console(file=out, width=200, color_system=None))
    cuts = [0, said.index("tok3n"), *range(said.index("tok3n") + 3, len(said), 3)]
    for a, b in itertools.pairwise([*sorted(set(cuts)), len(said)]):
        view(Chunk(source="echoer", content=said[a:b], elapsed_s=0.1))
    view(Text(source="echoer", content=said, elapsed_s=0.2))
    shown = out.getvalue()
    assert KEY not in shown and "tok3n.XYZ_0123456789" not in shown
    assert redact_text(said) in shown


def _chunk(content: str) -> dict[str, Any]:
    return {
        "id": "c",
        "object": "chat.completion.chunk",
        "created": 1,
        "model": "m",
        "choices": [{"index": 0, "delta": {"content": content}, "finish_reason": None}],
    }


def _three_at_a_time(text: str) -> Reply:
    """An endpoint that streams `text` three characters at a time."""
    pieces = [_chunk(text[i : i + 3]) for i in range(0, len(text), 3)]
    end = {**_chunk(""), "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}
    return Reply(chunks=[*pieces, end])


@pytest.fixture
def echo(tmp_path: Path) -> Path:
    return write(tmp_path, ECHO, "echo.yaml")


def test_a_key_streamed_three_characters_at_a_time_never_reaches_a_client(
    srv: FakeOpenAI, echo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MY_ENDPOINT_KEY", KEY)
    said = f"Your key is {KEY} and the header {BEARER} works."
    srv.responder = lambda body: _three_at_a_time(said)
    with Served([echo], base_url=srv.base_url, out_dir=tmp_path / "runs") as s:
        client = openai.OpenAI(base_url=s.url + "v1", api_key="x", max_retries=0)
        stream = client.chat.completions.create(model="echo", messages=USER, stream=True)  # type: ignore[arg-type]
        joined = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
        run = httpx2.post(s.url + "api/runs", json={"scenario": "echo"}).json()
        with httpx2.stream("GET", s.url + f"api/runs/{run['id']}/events", timeout=30) as r:
            chunks = "".join(d["content"] for event, d, _ in sse(r) if event == "chunk")
    assert len(srv.chat_requests) == 2
    for text in (joined, chunks):
        assert KEY not in text and "tok3n.XYZ_0123456789" not in text
        assert redact_text(said) in text  # masked as the whole text is, and nothing lost
    assert joined.startswith("**echoer**: Your key is *** and the header Authorization: Bearer *** works.")


SOURCE = """\
name: keys
task: hi
team: {kind: single, agents: [{name: a}]}
model: {base_url: "https://llm.example/v1", model: m, api_key: "flow-style-secret-1",
  headers: {X-Api-Token: abc123def456}}
mcp_servers:
  gh:
    command: python
    args: [-c, "pass"]
    env:
      GITHUB_TOKEN: 'ghp-block-secret-22'
      LOG_LEVEL: debug
  web:
    kind: http
    url: https://mcp.example/mcp
    headers:
      x-genos-user-id: user-42
      X-Custom-Secret: "custom secret value"
      Authorization: Bearer bearer-in-header-33
"""


def test_a_scenarios_text_is_shown_with_secrets_masked_by_where_they_sit(
    srv: FakeOpenAI, tmp_path: Path
) -> None:
    path = write(tmp_path, SOURCE, "keys.yaml")
    with Served([path], out_dir=tmp_path / "runs") as s:
        shown = httpx2.get(s.url + "api/scenarios/keys").json()["source"]
    for secret in ("flow-style-secret-1", "abc123def456", "ghp-block-secret-22", "custom secret value"):
        assert secret not in shown
    assert "bearer-in-header-33" not in shown
    expected = (
        SOURCE.replace('"flow-style-secret-1"', '"***"')
        .replace("abc123def456", "***")
        .replace("'ghp-block-secret-22'", "'***'")
        .replace('"custom secret value"', '"***"')
        .replace("Bearer bearer-in-header-33", "***")
    )
    assert shown == expected  # every other byte as written: comments, quotes, x-genos-user-id, debug


def _post_raw(url: str, body: str) -> httpx2.Response:
    return httpx2.post(url, content=body.encode(), headers={"content-type": "application/json"}, timeout=30)


def test_a_lone_surrogate_is_refused_at_the_door_and_starts_nothing(
    srv: FakeOpenAI, echo: Path, tmp_path: Path
) -> None:
    srv.default = Reply(text="ok")
    out = tmp_path / "runs"
    with Served([echo], base_url=srv.base_url, out_dir=out) as s:
        r = _post_raw(s.url + "api/runs", '{"scenario": "echo", "task": "plan \\ud800 a trip"}')
        assert r.status_code == 400 and r.json()["error"]["param"] == "task"
        assert "lone surrogate" in r.json()["error"]["message"]
        messages = '[{"role": "user", "content": [{"type": "text", "text": "x\\udfff"}]}]'
        r = _post_raw(s.url + "v1/chat/completions", f'{{"model": "echo", "messages": {messages}}}')
        assert r.status_code == 400 and r.json()["error"]["param"] == "messages[0].content[0].text"
        body = '{"scenario": "echo", "task": "ok", "model": {"\\udc00": "x"}}'  # in a key, too
        assert _post_raw(s.url + "api/runs", body).status_code == 400
        listed = httpx2.get(s.url + "api/runs")
        assert listed.status_code == 200 and listed.json()["runs"] == []
    assert srv.chat_requests == [] and not (out.exists() and any(out.iterdir()))


def test_no_transcript_on_disk_can_break_the_runs_listing(
    srv: FakeOpenAI, echo: Path, tmp_path: Path
) -> None:
    out = tmp_path / "runs"
    out.mkdir()
    header = json.dumps({"record": "run", "scenario": "echo", "run_id": "r1"})
    result = {"record": "result", "stopped_by": "rule", "stop_reason": "ok", "usage": {"prompt_tokens": 1}}
    files = {
        "surrogate": f'{header}\n{{"record": "entry", "kind": "text", "source": "a", "content": "\\ud800"}}\n'
        f'{{"record": "result", "stopped_by": "rule", "task": "x\\udc00", "usage": {{}}}}\n',
        "bad-utf8": header.encode() + b'\n{"record": "entry", "content": "\xff\xfe"}\n',
        "not-a-dict": f"{header}\n[1, 2]\n42\n{json.dumps(result)}\n",
        "huge-line": f'{header}\n{{"record": "entry", "content": "{"x" * 600_000}"}}\n',
        "torn": f"{header}\n{json.dumps(result)[:-9]}",
        "deep": f"{header}\n" + "[" * 50_000 + "\n",
        "wrong-types": '{"record": "run", "scenario": ["x"], "started_at": 5}\n'
        '{"record": "entry", "source": ["a"], "usage": "lots", "kind": "text"}\n'
        '{"record": "result", "stopped_by": {}, "usage": {"prompt_tokens": "many"}, "duration_s": "x"}\n',
        "header-surrogate": '{"record": "run", "scenario": "\\ud83d"}\n',
    }
    for stem, data in files.items():
        path = out / f"{stem}.jsonl"
        path.write_bytes(data if isinstance(data, bytes) else data.encode("utf-8"))
    srv.default = Reply(text="ok")
    with Served([echo], base_url=srv.base_url, out_dir=out) as s:
        listed = httpx2.get(s.url + "api/runs")
        assert listed.status_code == 200
        assert sorted(r["id"] for r in listed.json()["runs"]) == sorted(files)
        for stem in files:
            one = httpx2.get(s.url + f"api/runs/{stem}")
            assert one.status_code == 200, (stem, one.text)
            with httpx2.stream("GET", s.url + f"api/runs/{stem}/events", timeout=30) as r:
                assert [e for e, _, _ in sse(r)][-1] == "done"
        # a run after all that is listed beside them
        client = openai.OpenAI(base_url=s.url + "v1", api_key="x", max_retries=0)
        client.chat.completions.create(model="echo", messages=USER)  # type: ignore[arg-type]
        assert httpx2.get(s.url + "api/runs").status_code == 200


def test_json_nested_past_reason_is_a_400_in_the_error_shape_on_every_json_route(
    srv: FakeOpenAI, echo: Path, tmp_path: Path
) -> None:
    deep = "[" * 50_000 + "]" * 50_000  # about 100 KB
    srv.default = Reply(text="ok")
    with Served([echo], base_url=srv.base_url, out_dir=tmp_path / "runs") as s:
        run = httpx2.post(s.url + "api/runs", json={"scenario": "echo"}).json()  # kept once ended, so
        for route in ("api/runs", "v1/chat/completions", f"api/runs/{run['id']}/input"):  # its input reads
            for body in (deep, f'{{"task": {deep}}}', "[" * 65 + "]" * 65):
                r = _post_raw(s.url + route, body)
                assert r.status_code == 400, (route, r.text[:300])
                assert r.json()["error"]["code"] == "too_deep"
        ok = "[" * 60 + "]" * 60  # within the limit: read, and refused for what it is
        r = _post_raw(s.url + "api/runs", f'{{"scenario": "echo", "task": {ok}}}')
        assert r.status_code == 400 and r.json()["error"]["param"] == "task"


def _bad_chunks() -> Reply:
    """A stream AutoGen's own client fails on (a number where the text goes): a TypeError deep inside it."""
    return Reply(chunks=[_chunk("a"), _chunk(5)])  # type: ignore[arg-type]


def _one_paragraph(message: str) -> None:
    assert "Traceback" not in message and "site-packages" not in message and "\n" not in message
    assert "TypeError: object of type 'int' has no len()" in message


def test_a_run_failing_inside_autogen_tells_clients_one_paragraph(
    srv: FakeOpenAI, echo: Path, tmp_path: Path
) -> None:
    srv.responder = lambda body: _bad_chunks()
    with Served([echo], base_url=srv.base_url, out_dir=tmp_path / "runs") as s:
        client = openai.OpenAI(base_url=s.url + "v1", api_key="x", max_retries=0)
        with pytest.raises(openai.InternalServerError) as failed:
            client.chat.completions.create(model="echo", messages=USER)  # type: ignore[arg-type]
        body = failed.value.body
        assert isinstance(body, dict)
        _one_paragraph(body["message"])
        streamed = httpx2.post(
            s.url + "v1/chat/completions",
            json={"model": "echo", "messages": USER, "stream": True},
            timeout=30,
        )
        last = [json.loads(line[5:]) for line in streamed.text.splitlines() if line.startswith("data:")][-1]
        assert last["error"]["code"] == "run_failed"
        _one_paragraph(last["error"]["message"])
        run = httpx2.post(s.url + "api/runs", json={"scenario": "echo"}).json()
        with httpx2.stream("GET", s.url + f"api/runs/{run['id']}/events", timeout=30) as r:
            done = [d for e, d, _ in sse(r) if e == "done"][-1]
        assert done["status"] == "failed"
        _one_paragraph(done["error"])
        listed = httpx2.get(s.url + "api/runs").text
        assert "Traceback" not in listed and "site-packages" not in listed
        past = [r for r in httpx2.get(s.url + "api/runs").json()["runs"] if r["origin"] == "file"]
        assert all("Traceback" not in json.dumps(p) for p in past)


class _Serve:
    """`troupe serve` as a process of its own: its stderr is the server's log."""

    def __init__(self, tmp_path: Path, *args: str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "autogen_troupe.cli", "serve", "--port", "0", *args],
            cwd=tmp_path,
            env={**os.environ, "MY_ENDPOINT_KEY": KEY},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout is not None
        first = self.proc.stdout.readline()
        self.url = first.split()[2] if first.startswith("troupe serve: ") else ""

    def log(self) -> str:
        self.proc.send_signal(signal.SIGINT)
        _, err = self.proc.communicate(timeout=60)
        return err


@pytest.fixture
def serve_process() -> Iterator[list[_Serve]]:
    started: list[_Serve] = []
    yield started
    for p in started:
        if p.proc.poll() is None:
            p.proc.kill()
            p.proc.communicate(timeout=30)


def test_the_server_logs_each_run_started_and_ended_masked_with_the_traceback_kept_there(
    fake_process: Any, echo: Path, tmp_path: Path, serve_process: list[_Serve]
) -> None:
    bad = {"chunks": [_chunk("a"), _chunk(5)]}
    base_url, _ = fake_process({"replies": [f"the key is {KEY}", bad]})
    c = _Serve(tmp_path, str(echo), "--out", str(tmp_path / "runs"), "--base-url", base_url, "--model", "m")
    serve_process.append(c)
    assert c.url, c.proc.stderr.read() if c.proc.stderr else ""
    client = openai.OpenAI(base_url=c.url + "v1", api_key="x", max_retries=0)
    ok = client.chat.completions.create(model="echo", messages=USER)  # type: ignore[arg-type]
    assert ok.choices[0].message.content == "the key is ***"
    failed = httpx2.post(c.url + "api/runs", json={"scenario": "echo"}).json()
    with httpx2.stream("GET", c.url + f"api/runs/{failed['id']}/events", timeout=30) as r:
        assert [e for e, _, _ in sse(r)][-1] == "done"
    log = c.log()
    first = ok.id.removeprefix("chatcmpl-")
    lines = [line for line in log.splitlines() if " run " in line]
    assert any(
        f"run {first} started: scenario echo, from the OpenAI-compatible API" in line for line in lines
    ), log
    assert any(
        re.search(rf"run {first} done: \d+ messages, \d+ tokens, [\d.]+ s$", line) for line in lines
    ), log
    assert any(f"run {failed['id']} started: scenario echo, from the runs API" in line for line in lines), log
    assert any(f"run {failed['id']} failed: " in line and "TypeError" in line for line in lines), log
    assert "Traceback (most recent call last)" in log  # the whole error is the server's to read
    assert KEY not in log
