"""`python -m autogen_troupe.mcp_servers.retrieval --docs FOLDER`: document search as an MCP server."""

from __future__ import annotations

import argparse
import logging
import os

from .._serve import add_transport_args, serve
from ._embedders import LOCAL_MODEL, Embedder, HttpEmbedder, HttpReranker, LocalEmbedder, RetrievalError
from ._index import DocumentIndex

_LOCAL_NAMES = {LOCAL_MODEL, "all-minilm-l6-v2", "sentence-transformers/all-minilm-l6-v2"}


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m autogen_troupe.mcp_servers.retrieval",
        description="MCP server with one tool, search(query, top_k), over the text and Markdown files "
        "of a folder. Embeds through an OpenAI/AIOS-style endpoint, or with the local "
        f"{LOCAL_MODEL} model when no --base-url is given.",
    )
    p.add_argument("--docs", required=True, metavar="FOLDER", help="folder of .md/.txt/.rst files to index")
    p.add_argument("--base-url", help="OpenAI-style base URL with /v1, e.g. http://127.0.0.1:8000/v1")
    p.add_argument("--model", help="embedding model id at --base-url (required with it)")
    p.add_argument("--api-key-env", metavar="VAR", help="environment variable holding the API key")
    p.add_argument(
        "--rerank", choices=("none", "v1", "v2"), default="none", help="rerank API (default: none)"
    )
    p.add_argument("--rerank-model", help="rerank model id (required with --rerank v1|v2)")
    p.add_argument("--cache-dir", help="cache root (default: $TROUPE_CACHE_DIR/retrieval or ~/.cache/...)")
    p.add_argument("--batch-size", type=int, default=32, help="texts per embedding request (default: 32)")
    p.add_argument("--timeout-s", type=float, default=60.0, help="HTTP timeout in seconds (default: 60)")
    p.add_argument("--max-chars", type=int, default=1000, help="largest chunk in characters (default: 1000)")
    p.add_argument("--log-level", default="WARNING", choices=("DEBUG", "INFO", "WARNING", "ERROR"))
    add_transport_args(p)
    return p


def build_index(args: argparse.Namespace) -> DocumentIndex:
    """The index the command line asks for; raises RetrievalError with a one-line reason."""
    api_key = None
    if args.api_key_env:
        api_key = os.environ.get(args.api_key_env)
        if not api_key:
            raise RetrievalError(
                f"environment variable {args.api_key_env} (named by --api-key-env) is not set"
            )
    if args.batch_size < 1:
        raise RetrievalError("--batch-size must be at least 1")
    if args.max_chars < 100:
        raise RetrievalError("--max-chars must be at least 100")
    embedder: Embedder
    if args.base_url:
        if not args.model:
            raise RetrievalError("--model is required with --base-url")
        embedder = HttpEmbedder(
            args.base_url, args.model, api_key=api_key, batch_size=args.batch_size, timeout_s=args.timeout_s
        )
    else:
        if args.model and args.model.lower() not in _LOCAL_NAMES:
            raise RetrievalError(f"without --base-url only the local model {LOCAL_MODEL} is available")
        embedder = LocalEmbedder(batch_size=args.batch_size)
    reranker = None
    if args.rerank != "none":
        if not args.base_url or not args.rerank_model:
            raise RetrievalError(f"--rerank {args.rerank} needs --base-url and --rerank-model")
        reranker = HttpReranker(
            args.base_url, args.rerank_model, api=args.rerank, api_key=api_key, timeout_s=args.timeout_s
        )
    return DocumentIndex(
        args.docs,
        embedder,
        reranker=reranker,
        cache_dir=args.cache_dir,
        max_chars=args.max_chars,
        target_chars=args.max_chars * 4 // 5,
    )


def main(argv: list[str] | None = None) -> None:
    parser = _parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=args.log_level, format="%(name)s: %(levelname)s: %(message)s")
    try:
        index = build_index(args)
    except RetrievalError as e:
        parser.error(str(e))
    from ._server import create_server, start_indexing

    server = create_server(index)
    start_indexing(index)
    serve(server, args)


if __name__ == "__main__":
    main()
