"""The retrieval MCP server: one `search` tool over a `DocumentIndex`."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import threading
import warnings
from collections.abc import AsyncIterator
from typing import Annotated, Literal

import anyio.to_thread
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import ToolAnnotations
from pydantic import Field

from ...scenario._base import Frozen
from .._serve import package_version, tools_only
from ._embedders import RetrievalError
from ._index import DocumentIndex, Passage

__all__ = ["SearchResults", "create_server", "start_indexing"]

log = logging.getLogger("autogen_troupe.retrieval")
FORWARD_WAIT_S = 5.0  # bounds the wait for the client to take the last notifications (a stalled pipe)


class SearchResults(Frozen):
    query: str
    reranked: bool
    passages: tuple[Passage, ...]


def create_server(index: DocumentIndex) -> MCPServer:
    """A server whose `search` tool refreshes `index` (cheap when nothing changed) and queries it."""
    folder = index.docs_dir.name or str(index.docs_dir)
    server = MCPServer(
        "troupe-retrieval",
        version=package_version(),
        instructions=f"Search the documents in the folder {folder!r} and cite the source file and lines.",
        log_level="WARNING",
        subscriptions=False,
        middleware=[tools_only],  # declares and serves tools only
    )

    async def search(
        query: Annotated[str, Field(description="What to look for, in plain words or a question.")],
        ctx: Context,
        top_k: Annotated[int, Field(ge=1, le=20, description="How many passages to return.")] = 5,
    ) -> SearchResults:
        async with _progress_to(ctx, index):
            try:
                passages = await anyio.to_thread.run_sync(
                    functools.partial(index.search, query, top_k, refresh=True)
                )
            except RetrievalError as e:
                await _log(ctx, "error", f"search failed: {e}")
                raise ToolError(str(e)) from None
        return SearchResults(query=query, reranked=index.reranker is not None, passages=tuple(passages))

    server.add_tool(
        search,
        description=f"Search the documents in {folder!r} for passages relevant to a query. Each passage "
        "comes with its source file, line range, heading and score (higher is better).",
        annotations=ToolAnnotations(read_only_hint=True, destructive_hint=False, open_world_hint=False),
    )
    return server


@contextlib.asynccontextmanager
async def _progress_to(ctx: Context, index: DocumentIndex) -> AsyncIterator[None]:
    """While a search waits for indexing (the first one, or after files changed), the client hears its
    progress and a log line when it is done."""
    loop = asyncio.get_running_loop()
    updates: asyncio.Queue[tuple[int, int, str]] = asyncio.Queue()

    def heard(done: int, total: int, what: str) -> None:  # from the indexing thread
        loop.call_soon_threadsafe(updates.put_nowait, (done, total, what))

    async def forward() -> None:
        while True:
            done, total, what = await updates.get()
            try:
                await ctx.report_progress(done, total, what)
                if done == total:
                    await _log(ctx, "info", f"indexed {index.docs_dir.name}: {what}")
            except Exception:  # a client that cannot hear it loses nothing
                log.debug("progress notification failed", exc_info=True)
            finally:
                updates.task_done()

    index.add_listener(heard)
    task = asyncio.create_task(forward())
    try:
        yield
    finally:
        index.remove_listener(heard)
        await asyncio.sleep(0)  # let updates the thread queued just now arrive
        # Every update sent, not only taken from the queue: the last one's log line was cut off so.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(updates.join(), timeout=FORWARD_WAIT_S)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def _log(ctx: Context, level: Literal["info", "error"], message: str) -> None:
    """A log notification to the client (deprecated in the 2026-07-28 protocol, still what clients show)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            await ctx.log(level, message, logger_name="troupe-retrieval")
        except Exception:  # a client that cannot hear it loses nothing
            log.debug("log notification failed", exc_info=True)


def start_indexing(index: DocumentIndex) -> threading.Thread:
    """Build the index in a daemon thread so the handshake need not wait; searches wait for it."""

    def run() -> None:
        try:
            stats = index.refresh()
            warm_up = getattr(index.embedder, "warm_up", None)
            if warm_up is not None:  # a local model: load it before the first query needs it
                warm_up()
        except RetrievalError as e:
            log.error("indexing %s failed: %s (searches will retry)", index.docs_dir, e)
            return
        except Exception:  # never let the thread die silently; searches report their own errors
            log.exception("indexing %s failed unexpectedly", index.docs_dir)
            return
        log.info(
            "indexed %d files, %d chunks (%d embedded)", stats.files, stats.chunks, stats.embedded_chunks
        )

    thread = threading.Thread(target=run, name="troupe-retrieval-index", daemon=True)
    thread.start()
    return thread
