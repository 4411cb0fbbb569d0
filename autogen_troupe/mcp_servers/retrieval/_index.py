"""Search over a folder of text and Markdown files: chunk, embed, cache on disk, rank by cosine, rerank.

The index lives on disk, one folder per (docs folder, embedder, chunking) under the cache root: a
manifest keyed by file path with mtime, size and content hash, and one float32 vector file per content
hash, so only new or changed files are embedded again. Nothing here imports MCP.
"""

from __future__ import annotations

import array
import hashlib
import importlib.util
import json
import logging
import math
import os
import stat
import sys
import tempfile
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ...scenario._base import Frozen
from ._chunking import Chunk, chunk_text
from ._embedders import Embedder, Reranker, RetrievalError

__all__ = ["TEXT_SUFFIXES", "DocumentIndex", "IndexStats", "Passage", "default_cache_dir"]

log = logging.getLogger("autogen_troupe.retrieval")

TEXT_SUFFIXES = frozenset({".md", ".markdown", ".txt", ".text", ".rst"})
_MARKDOWN = frozenset({".md", ".markdown"})
_FORMAT = 1  # bump when the manifest, vector files or chunking change meaning
_MAX_FILE_BYTES = 10_000_000


class Passage(Frozen):
    """A search hit: `score` is the rerank relevance when reranked, else the cosine `similarity`."""

    source: str
    start_line: int
    end_line: int
    heading: str
    text: str
    score: float
    similarity: float


class IndexStats(Frozen):
    """What one refresh did."""

    files: int
    chunks: int
    embedded_files: tuple[str, ...]
    embedded_chunks: int
    reused_files: int
    removed_files: tuple[str, ...]


def default_cache_dir() -> Path:
    """`$TROUPE_CACHE_DIR/retrieval`, else `$XDG_CACHE_HOME/autogen-troupe/retrieval`, else ~/.cache/..."""
    root = os.environ.get("TROUPE_CACHE_DIR")
    if root:
        return Path(root).expanduser() / "retrieval"
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "autogen-troupe" / "retrieval"


def _normalise(v: Sequence[float]) -> list[float]:
    norm = math.sqrt(sum(x * x for x in v))
    return [x / norm for x in v] if norm > 0 else list(v)


def _read_inside(path: Path, root: Path) -> bytes:
    """A regular file's bytes, opened without following a link at its end (one swapped in since the scan)
    and, where /proc shows it, checked to still lie under `root` once open."""
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
    fd = os.open(path, flags)
    with os.fdopen(fd, "rb") as f:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise OSError(f"{path.name} is not a regular file")
        opened = f"/proc/self/fd/{fd}"
        if os.path.islink(opened) and not Path(os.path.realpath(opened)).is_relative_to(root):
            raise OSError(f"{path.name} now leads outside the documents folder")
        return f.read(_MAX_FILE_BYTES + 1)


def _write_atomic(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@dataclass
class _FileEntry:
    mtime_ns: int
    size: int
    sha256: str
    chunks: list[Chunk]


class DocumentIndex:
    """The searchable index of one folder; thread-safe, refreshed from disk on demand.

    `cache_dir` is the cache root (default `default_cache_dir()`); the index itself goes to a
    sub-folder named by a hash of the folder, the embedder's identity and the chunking settings.
    """

    def __init__(
        self,
        docs_dir: str | Path,
        embedder: Embedder,
        *,
        reranker: Reranker | None = None,
        cache_dir: str | Path | None = None,
        max_chars: int = 1000,
        target_chars: int = 800,
        rerank_candidates: int = 20,
        use_numpy: bool | None = None,
    ) -> None:
        docs = Path(docs_dir).expanduser()
        if not docs.is_dir():
            raise RetrievalError(f"documents folder {str(docs)!r} does not exist or is not a folder")
        self.docs_dir = docs.resolve()
        self.embedder = embedder
        self.reranker = reranker
        self.max_chars = max_chars
        self.target_chars = target_chars
        self.rerank_candidates = rerank_candidates
        key = json.dumps([_FORMAT, str(self.docs_dir), embedder.identity, max_chars, target_chars])
        root = Path(cache_dir).expanduser() if cache_dir is not None else default_cache_dir()
        self.index_dir = root / hashlib.sha256(key.encode()).hexdigest()[:20]
        if use_numpy is None:
            use_numpy = importlib.util.find_spec("numpy") is not None
        self._use_numpy = use_numpy
        self._lock = threading.RLock()
        self._files: dict[str, _FileEntry] | None = None  # loaded from the manifest on first refresh
        self._vectors: dict[str, list[list[float]]] = {}  # content hash -> normalised vectors
        self._dim: int | None = None
        self._chunks: list[Chunk] = []
        self._matrix: Any = None
        self._refreshed = False
        self._listeners: list[Callable[[int, int, str], None]] = []

    # ------------------------------------------------------------------ progress

    def add_listener(self, fn: Callable[[int, int, str], None]) -> None:
        """Hear indexing progress as (chunks embedded, chunks to embed, what); called from the indexing
        thread, so `fn` must be thread-safe."""
        self._listeners.append(fn)

    def remove_listener(self, fn: Callable[[int, int, str], None]) -> None:
        if fn in self._listeners:
            self._listeners.remove(fn)

    def _report(self, done: int, total: int, what: str) -> None:
        for fn in list(self._listeners):
            try:
                fn(done, total, what)
            except Exception:  # a listener's fault must not stop the indexing
                log.debug("progress listener failed", exc_info=True)

    # ------------------------------------------------------------------ cache files

    def _manifest_path(self) -> Path:
        return self.index_dir / "manifest.json"

    def _vector_path(self, sha: str) -> Path:
        return self.index_dir / "vectors" / f"{sha}.f32"

    def _load_manifest(self) -> dict[str, _FileEntry]:
        path = self._manifest_path()
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
            if doc.get("format") != _FORMAT or doc.get("embedder") != self.embedder.identity:
                return {}
            if doc.get("byteorder") != sys.byteorder:
                return {}
            self._dim = doc.get("dim")
            return {
                rel: _FileEntry(
                    f["mtime_ns"], f["size"], f["sha256"], [Chunk.model_validate(c) for c in f["chunks"]]
                )
                for rel, f in doc["files"].items()
            }
        except FileNotFoundError:
            return {}
        except (ValueError, KeyError, TypeError) as e:
            log.warning("ignoring unreadable index manifest %s (%s); rebuilding", path, type(e).__name__)
            return {}

    def _save_manifest(self) -> None:
        assert self._files is not None
        doc = {
            "format": _FORMAT,
            "docs_dir": str(self.docs_dir),
            "embedder": self.embedder.identity,
            "byteorder": sys.byteorder,
            "dim": self._dim,
            "files": {
                rel: {
                    "mtime_ns": e.mtime_ns,
                    "size": e.size,
                    "sha256": e.sha256,
                    "chunks": [c.model_dump() for c in e.chunks],
                }
                for rel, e in sorted(self._files.items())
            },
        }
        _write_atomic(self._manifest_path(), json.dumps(doc, ensure_ascii=False).encode())

    def _cached_vectors(self, entry: _FileEntry) -> list[list[float]] | None:
        if entry.sha256 in self._vectors:
            return self._vectors[entry.sha256]
        if not entry.chunks:
            return []
        if not self._dim:
            return None
        try:
            raw = array.array("f")
            raw.frombytes(self._vector_path(entry.sha256).read_bytes())
        except (OSError, ValueError):
            return None
        if len(raw) != len(entry.chunks) * self._dim:
            return None
        rows = [raw[i : i + self._dim].tolist() for i in range(0, len(raw), self._dim)]
        self._vectors[entry.sha256] = rows
        return rows

    # ------------------------------------------------------------------ refresh

    def _scan(self) -> dict[str, Path]:
        """The text files under the folder: relative name -> real path. A file whose real path lies outside
        the folder (a symlink to /etc/passwd, say) is left out; linked folders are not entered."""
        found: dict[str, Path] = {}
        for dirpath, dirnames, filenames in os.walk(self.docs_dir):
            dirnames[:] = sorted(
                d for d in dirnames if not d.startswith(".") and d not in ("__pycache__", "node_modules")
            )
            for name in sorted(filenames):
                path = Path(dirpath) / name
                if name.startswith(".") or path.suffix.lower() not in TEXT_SUFFIXES:
                    continue
                rel = path.relative_to(self.docs_dir).as_posix()
                real = Path(os.path.realpath(path))
                if not real.is_relative_to(self.docs_dir):
                    log.warning("skipping %s: it leads outside the documents folder", rel)
                    continue
                found[rel] = real
        return found

    def refresh(self) -> IndexStats:
        """Bring the index up to date with the folder, embedding only new or changed files."""
        with self._lock:
            if self._files is None:
                self._files = self._load_manifest()
            old = self._files
            new: dict[str, _FileEntry] = {}
            pending: list[tuple[str, _FileEntry]] = []
            reused = 0
            for rel, path in self._scan().items():
                entry, cached = self._entry(rel, path, old.get(rel))
                if entry is None:
                    continue
                if cached:
                    new[rel] = entry
                    reused += 1
                else:
                    pending.append((rel, entry))
            embedded = self._embed(pending, reused)
            new.update(pending)

            removed = tuple(sorted(set(old) - set(new)))
            self._files = new
            live = {e.sha256 for e in new.values()}
            for sha in (set(self._vectors) | {e.sha256 for e in old.values()}) - live:
                self._vectors.pop(sha, None)
                self._vector_path(sha).unlink(missing_ok=True)
            if pending or removed or new != old or not self._manifest_path().exists():
                self._save_manifest()
            self._rebuild()
            self._refreshed = True
            return IndexStats(
                files=len(new),
                chunks=len(self._chunks),
                embedded_files=tuple(rel for rel, _ in pending),
                embedded_chunks=embedded,
                reused_files=reused,
                removed_files=removed,
            )

    def _entry(self, rel: str, path: Path, prev: _FileEntry | None) -> tuple[_FileEntry | None, bool]:
        """A file's entry (None when it is skipped), and whether its vectors are cached already."""
        try:
            st = path.stat()
            if not stat.S_ISREG(st.st_mode):
                log.warning("skipping %s: not a regular file", rel)
                return None, False
            unchanged = prev and (prev.mtime_ns, prev.size) == (st.st_mtime_ns, st.st_size)
            if unchanged and prev and self._cached_vectors(prev) is not None:
                return prev, True
            if st.st_size > _MAX_FILE_BYTES:
                log.warning("skipping %s: larger than %d bytes", rel, _MAX_FILE_BYTES)
                return None, False
            data = _read_inside(path, self.docs_dir)
        except OSError as e:
            log.warning("skipping %s: %s", rel, e)
            return None, False
        sha = hashlib.sha256(data).hexdigest()
        if prev and prev.sha256 == sha and self._cached_vectors(prev) is not None:
            return _FileEntry(st.st_mtime_ns, st.st_size, sha, prev.chunks), True
        text = data.decode("utf-8-sig", errors="replace")
        chunks = chunk_text(
            text,
            source=rel,
            markdown=path.suffix.lower() in _MARKDOWN,
            max_chars=self.max_chars,
            target_chars=self.target_chars,
        )
        entry = _FileEntry(st.st_mtime_ns, st.st_size, sha, chunks)
        return entry, self._cached_vectors(entry) is not None  # same content seen under another name

    def _embed(self, pending: list[tuple[str, _FileEntry]], reused: int) -> int:
        """Embed the chunks of `pending` files and store their vectors; the number of chunks embedded."""
        texts = [c.embed_text() for _, e in pending for c in e.chunks]
        vectors: list[list[float]] = []
        step = max(1, int(getattr(self.embedder, "batch_size", 32)))  # one embedder batch per report
        for i in range(0, len(texts), step):
            self._report(i, len(texts), f"embedding chunks of {len(pending)} file(s)")
            vectors += [_normalise(v) for v in self.embedder.embed(texts[i : i + step])]
        if texts:
            self._report(len(texts), len(texts), f"embedded {len(texts)} chunks")
        if len(vectors) != len(texts):
            raise RetrievalError(f"the embedder returned {len(vectors)} vectors for {len(texts)} texts")
        dims = {len(v) for v in vectors}
        if len(dims) > 1 or (dims and self._dim and dims != {self._dim} and reused):
            raise RetrievalError(f"embedding sizes disagree ({sorted(dims | {self._dim or 0})})")
        if dims:
            self._dim = dims.pop()
        (self.index_dir / "vectors").mkdir(parents=True, exist_ok=True)
        at = 0
        for _, entry in pending:
            rows = vectors[at : at + len(entry.chunks)]
            at += len(entry.chunks)
            self._vectors[entry.sha256] = rows
            flat = array.array("f", (x for row in rows for x in row))
            _write_atomic(self._vector_path(entry.sha256), flat.tobytes())
        return len(texts)

    def _rebuild(self) -> None:
        assert self._files is not None
        chunks: list[Chunk] = []
        rows: list[list[float]] = []
        for _, entry in sorted(self._files.items()):
            vectors = self._cached_vectors(entry) or []
            chunks.extend(entry.chunks)
            rows.extend(vectors)
        self._chunks = chunks
        if self._use_numpy and rows:
            import numpy as np

            self._matrix = np.asarray(rows, dtype=np.float32)
        else:
            self._matrix = rows

    # ------------------------------------------------------------------ search

    @property
    def chunks(self) -> tuple[Chunk, ...]:
        return tuple(self._chunks)

    def _similarities(self, query_vector: list[float]) -> list[float]:
        if self._use_numpy and len(self._chunks):
            import numpy as np

            return (self._matrix @ np.asarray(query_vector, dtype=np.float32)).tolist()
        return [sum(a * b for a, b in zip(row, query_vector, strict=True)) for row in self._matrix]

    def search(self, query: str, top_k: int = 5, *, refresh: bool = False) -> list[Passage]:
        """The `top_k` passages best matching `query`; refreshes first if asked or never done."""
        if not query.strip():
            raise RetrievalError("the query is empty")
        if not 1 <= top_k <= 50:
            raise RetrievalError(f"top_k must be between 1 and 50, got {top_k}")
        with self._lock:
            if refresh or not self._refreshed:
                self.refresh()
            chunks = list(self._chunks)
            if not chunks:
                return []
            query_vector = _normalise(self.embedder.embed([query])[0])
            if self._dim and len(query_vector) != self._dim:
                raise RetrievalError(
                    f"the query vector has {len(query_vector)} dimensions, the index {self._dim}"
                )
            sims = self._similarities(query_vector)
        order = sorted(range(len(chunks)), key=lambda i: (-sims[i], i))
        if self.reranker is None:
            picked = [(i, sims[i]) for i in order[:top_k]]
        else:
            candidates = order[: max(top_k, self.rerank_candidates)]
            ranked = self.reranker.rerank(
                query, [chunks[i].text for i in candidates], min(top_k, len(candidates))
            )
            picked = [(candidates[j], score) for j, score in ranked]
        return [
            Passage(
                source=chunks[i].source,
                start_line=chunks[i].start_line,
                end_line=chunks[i].end_line,
                heading=chunks[i].heading,
                text=chunks[i].text,
                score=round(score, 6),
                similarity=round(sims[i], 6),
            )
            for i, score in picked
        ]

    def close(self) -> None:
        self.embedder.close()
        if self.reranker is not None:
            self.reranker.close()
