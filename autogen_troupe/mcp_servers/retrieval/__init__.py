"""Retrieval over a folder of documents, as a library and as an MCP server.

`python -m autogen_troupe.mcp_servers.retrieval --docs FOLDER [...]` serves one tool, `search`. The
library part (`DocumentIndex` and the embedders) imports no MCP code and works on its own.
"""

from __future__ import annotations

from ._chunking import Chunk, chunk_text
from ._embedders import (
    LOCAL_MODEL,
    Embedder,
    HttpEmbedder,
    HttpReranker,
    LocalEmbedder,
    Reranker,
    RetrievalError,
)
from ._index import TEXT_SUFFIXES, DocumentIndex, IndexStats, Passage, default_cache_dir

__all__ = [
    "LOCAL_MODEL",
    "TEXT_SUFFIXES",
    "Chunk",
    "DocumentIndex",
    "Embedder",
    "HttpEmbedder",
    "HttpReranker",
    "IndexStats",
    "LocalEmbedder",
    "Passage",
    "Reranker",
    "RetrievalError",
    "chunk_text",
    "default_cache_dir",
]
