"""`troupe serve` is safe by default: loopback only unless a token is given, Host and Origin checked, no
CORS unless asked, bodies capped, strict headers on the page, and no key of a model endpoint in any
answer, event or listing."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx2
import openai
import pytest
from fake_openai import FakeOpenAI, Reply
from helpers import cli, write
from served import Served, sse

from autogen_troupe.errors import ProfileError
from autogen_troupe.serve import ServeConfig

ECHO = "name: echo\ntask: hi\nteam: {kind: single, agents: [{name: echoer}]}\n"
TOKEN = "s3rve-t0ken-for-tests-0123456789"


@pytest.fixture
def echo(tmp_path: Path) -> Path:
    return write(tmp_path, ECHO, "echo.yaml")


@pytest.fixture
def served(srv: FakeOpenAI, echo: Path, tmp_path: Path) -> Iterator[Served]:
    srv.default = Reply(text="ok")
    with Served([echo], base_url=srv.base_url, out_dir=tmp_path / "runs", max_body_bytes=4096) as s:
        yield s


def test_off_loopback_a_token_is_required(tmp_path: Path) -> None:
    with pytest.raises(ProfileError, match=r"refusing to serve on 0\.0\.0\.0: .* a token is required"):
        ServeConfig.checked(host="0.0.0.0", env={})
    assert ServeConfig.checked(host="0.0.0.0", env={"TROUPE_SERVE_TOKEN": TOKEN}).token == TOKEN
    assert ServeConfig.checked(host="::1", env={}).token is None  # loopback: none needed
    r = cli("serve", "travel_planning", "--host", "0.0.0.0", "--port", "0", env={"TROUPE_SERVE_TOKEN": ""})
    assert (
        r.returncode == 2
        and "the page asks for it once): set TROUPE_SERVE_TOKEN or pass --token\n" in r.stderr
    )
    with pytest.raises(ProfileError, match="'\\*' is refused"):
        ServeConfig.checked(cors=("*",), env={})


def test_the_host_header_must_name_this_machine(served: Served) -> None:
    port = served.port
    for host in (f"127.0.0.1:{port}", f"localhost:{port}", "localhost"):
        assert httpx2.get(served.url + "v1/models", headers={"host": host}).status_code == 200, host
    for host in ("evil.example", f"evil.example:{port}", "127.0.0.1.evil.example", ""):
        r = httpx2.get(served.url + "v1/models", headers={"host": host})
        assert r.status_code == 403 and "answers only to 127.0.0.1" in r.json()["error"]["message"], host


def test_pages_of_other_origins_are_refused_unless_cors_names_them(
    srv: FakeOpenAI, echo: Path, tmp_path: Path, served: Served
) -> None:
    own = served.url.rstrip("/")
    assert httpx2.get(served.url + "api/runs", headers={"origin": own}).status_code == 200
    for origin in ("http://evil.example", "null", own.replace("http:", "ftp:")):
        r = httpx2.post(served.url + "api/runs", json={"scenario": "echo"}, headers={"origin": origin})
        assert r.status_code == 403 and "are refused" in r.json()["error"]["message"], origin
        assert "access-control-allow-origin" not in r.headers
    assert httpx2.get(served.url + "api/runs").json()["runs"] == []  # nothing was started
    app = "http://app.example:3000"
    with Served([echo], base_url=srv.base_url, out_dir=tmp_path / "cors", cors=(app,)) as s:
        pre = httpx2.options(
            s.url + "api/runs",
            headers={
                "origin": app,
                "access-control-request-method": "POST",
                "access-control-request-headers": "content-type",
            },
        )
        assert pre.status_code == 200 and pre.headers["access-control-allow-origin"] == app
        r = httpx2.post(s.url + "api/runs", json={"scenario": "echo"}, headers={"origin": app})
        assert r.status_code == 201 and r.headers["access-control-allow-origin"] == app
        other = httpx2.post(
            s.url + "api/runs", json={"scenario": "echo"}, headers={"origin": "http://evil.example"}
        )
        assert other.status_code == 403


def test_with_a_token_the_apis_need_it_and_the_page_does_not(
    srv: FakeOpenAI, echo: Path, tmp_path: Path
) -> None:
    srv.default = Reply(text="ok")
    with Served([echo], base_url=srv.base_url, out_dir=tmp_path / "runs", host="0.0.0.0", token=TOKEN) as s:
        for path in ("v1/models", "api/runs", "api/scenarios", "api/health"):
            r = httpx2.get(s.url + path)
            assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer", path
            wrong = httpx2.get(s.url + path, headers={"authorization": "Bearer " + TOKEN[:-1]})
            assert wrong.status_code == 401
        for path in ("", "static/app.js", "static/style.css"):
            assert httpx2.get(s.url + path).status_code == 200, path
        with pytest.raises(openai.AuthenticationError):
            openai.OpenAI(base_url=s.url + "v1", api_key="wrong", max_retries=0).models.list()
        client = openai.OpenAI(base_url=s.url + "v1", api_key=TOKEN, max_retries=0)
        reply = client.chat.completions.create(model="echo", messages=[{"role": "user", "content": "hi"}])
        assert reply.choices[0].message.content == "ok"
        # off loopback the Host header is not checked (the token is what guards), and the token never shows
        r = httpx2.get(
            s.url + "api/runs", headers={"host": "troupe.lan:8765", "authorization": f"Bearer {TOKEN}"}
        )
        assert r.status_code == 200 and TOKEN not in r.text


def test_bodies_are_capped_and_posts_must_be_json(served: Served) -> None:
    big = {"scenario": "echo", "task": "x" * 5000}
    r = httpx2.post(served.url + "api/runs", json=big)
    assert r.status_code == 413 and "over 4096 bytes" in r.json()["error"]["message"]

    def chunks() -> Iterator[bytes]:  # no Content-Length: counted as it streams in
        yield b'{"scenario": "echo", "task": "'
        for _ in range(10):
            yield b"x" * 1000
        yield b'"}'

    r = httpx2.post(served.url + "api/runs", content=chunks(), headers={"content-type": "application/json"})
    assert r.status_code == 413
    form = httpx2.post(served.url + "api/runs", data={"scenario": "echo"})
    assert form.status_code == 415 and "application/json" in form.json()["error"]["message"]
    assert httpx2.get(served.url + "api/runs").json()["runs"] == []


def test_answers_carry_strict_headers(served: Served) -> None:
    page = httpx2.get(served.url)
    csp = page.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp and "unsafe-inline" not in csp
    assert page.headers["x-frame-options"] == "DENY" and page.headers["x-content-type-options"] == "nosniff"
    assert page.headers["referrer-policy"] == "no-referrer"
    assert httpx2.get(served.url + "api/runs").headers["cache-control"] == "no-store"
    assert "server" not in page.headers


def test_no_key_of_a_model_endpoint_reaches_the_page_or_the_apis(
    srv: FakeOpenAI, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = "sk-live-abcdef0123456789leak"
    monkeypatch.setenv("MY_ENDPOINT_KEY", secret)
    # a model that repeats the key it was sent, and a scenario file that names where the key comes from
    srv.responder = lambda body: Reply(text=f"my key is {srv.last.headers.get('authorization')}")
    path = write(
        tmp_path,
        f"name: leaky\ntask: hi\nteam: {{kind: single, agents: [{{name: echoer}}]}}\n"
        f"model: {{base_url: '{srv.base_url}', model: m, api_key_env: MY_ENDPOINT_KEY}}\n",
        "leaky.yaml",
    )
    with Served([path], out_dir=tmp_path / "runs") as s, httpx2.Client(base_url=s.url, timeout=30) as api:
        client = openai.OpenAI(base_url=s.url + "v1", api_key="x", max_retries=0)
        reply = client.chat.completions.create(model="leaky", messages=[{"role": "user", "content": "hi"}])
        assert srv.chat_requests[-1].headers["authorization"] == f"Bearer {secret}"  # the key was used...
        seen = [reply.model_dump_json()]
        stream = client.chat.completions.create(
            model="leaky", messages=[{"role": "user", "content": "hi"}], stream=True
        )
        seen += [c.model_dump_json() for c in stream]
        run = api.post("/api/runs", json={"scenario": "leaky"}).json()
        with api.stream("GET", f"/api/runs/{run['id']}/events") as r:
            seen += [str(d) for _, d, _ in sse(r)]
        seen.append(api.get(f"/api/runs/{run['id']}").text)
        listed = api.get("/api/runs").json()["runs"]
        seen.append(str(listed))
        seen += [api.get(f"/api/runs/{r['transcript'].removesuffix('.jsonl')}").text for r in listed]
        seen.append(api.get("/api/scenarios/leaky").text)
        seen.append(api.get("/v1/models").text)
    text = "\n".join(seen)
    assert secret not in text  # ...and never shown
    assert "my key is Bearer ***" in text
