"""An HTTP stub shaped like LMDeploy's `api_server`, as its Restful API guide describes it (the guide in
/work/shared/seeds: `python3 -m lmdeploy.serve.openai.api_server ./workspace HOST PORT`), for tests.

LMDeploy itself cannot be installed here (it needs CUDA wheels), so this emulates what the guide shows:
`GET /v1/models`, `POST /v1/chat/completions` (model and messages; OpenAI-shaped answers and SSE streams),
`POST /v1/embeddings`, and its own `POST /generate`. Nothing more is documented, so fields the guide does
not name (tools, tool_choice, response_format, structured_outputs, stream_options) are ignored as its
pydantic request models ignore unknown keys: the answer is plain text, and a stream carries no usage.
A real HTTP server (starlette + uvicorn) on 127.0.0.1, in a background thread.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from typing import Any

__all__ = ["lmdeploy_server"]

_ANSWER = "Hello! I am an AI assistant. How can I help you today?"


def _app(model: str, requests: list[dict[str, Any]]) -> Any:
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse, StreamingResponse
    from starlette.routing import Route

    async def models(request: Request) -> Any:
        card = {"id": model, "object": "model", "created": 1700000000, "owned_by": "lmdeploy", "root": model}
        return JSONResponse({"object": "list", "data": [card]})

    async def chat(request: Request) -> Any:
        body = await request.json()
        requests.append(body)
        if not isinstance(body.get("messages"), list):
            return JSONResponse({"detail": [{"loc": ["body", "messages"], "msg": "field required"}]}, 422)
        usage = {"prompt_tokens": 12, "completion_tokens": 14, "total_tokens": 26}
        head = {"id": "1", "created": int(time.time()), "model": model}
        if body.get("stream"):

            def event(choice: dict[str, Any]) -> str:
                chunk = {**head, "object": "chat.completion.chunk", "choices": [choice]}
                return f"data: {json.dumps(chunk)}\n\n"

            async def chunks() -> AsyncIterator[str]:
                for i, word in enumerate(_ANSWER.split(" ")):
                    delta = {"role": "assistant", "content": (" " if i else "") + word}
                    yield event({"index": 0, "delta": delta, "finish_reason": None})
                yield event({"index": 0, "delta": {}, "finish_reason": "stop"})
                yield "data: [DONE]\n\n"

            return StreamingResponse(chunks(), media_type="text/event-stream")
        message = {"role": "assistant", "content": _ANSWER}
        choice = {"index": 0, "message": message, "finish_reason": "stop"}
        return JSONResponse({**head, "object": "chat.completion", "choices": [choice], "usage": usage})

    async def generate(request: Request) -> Any:
        return JSONResponse({"text": _ANSWER, "tokens": 14})

    return Starlette(
        routes=[
            Route("/v1/models", models),
            Route("/v1/chat/completions", chat, methods=["POST"]),
            Route("/generate", generate, methods=["POST"]),
        ]
    )


@contextmanager
def lmdeploy_server(model: str = "internlm-chat-7b") -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """(base URL ending in /v1, the chat request bodies received) of a running stub."""
    import uvicorn

    requests: list[dict[str, Any]] = []
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(_app(model, requests), log_level="warning", lifespan="off")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        while not server.started:
            time.sleep(0.01)
        yield f"http://127.0.0.1:{port}/v1", requests
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()
