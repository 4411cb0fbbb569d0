"""MCP servers of our own, each runnable as `python -m autogen_troupe.mcp_servers.NAME`.

- `travel`: currency conversion, country facts and phrases from small dated data files in the package.
- `retrieval`: `search` over a folder of text and Markdown files (remote embeddings or a local model).

Both speak stdio by default and streamable HTTP with `--http PORT`.
"""

from __future__ import annotations

__all__: list[str] = []
