"""HTTP pieces both APIs share: OpenAI's error shape (for every error of the server), bounded JSON bodies,
and waiting for a run while noticing that the client went away."""

from __future__ import annotations

import asyncio
import contextlib
import json
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse

from ..models._redact import redact_text

__all__ = ["BadRequest", "error", "read_json", "until_disconnect", "wait_or_disconnect"]

_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "invalid_request_error",
    409: "invalid_request_error",
    413: "invalid_request_error",
    415: "invalid_request_error",
    503: "server_busy",
}


class BadRequest(Exception):
    """A request the server cannot take; becomes an error answer (never leaves the serve room)."""

    def __init__(self, status: int, message: str, *, code: str | None = None, param: str | None = None):
        super().__init__(message)
        self.status, self.message, self.code, self.param = status, message, code, param

    def response(self) -> JSONResponse:
        return error(self.status, self.message, code=self.code, param=self.param)


def error(
    status: int,
    message: str,
    *,
    code: str | None = None,
    param: str | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    """OpenAI's error shape, `{"error": {"message", "type", "param", "code"}}`, its message masked."""
    body = {
        "error": {
            "message": redact_text(message),
            "type": _TYPES.get(status, "server_error" if status >= 500 else "invalid_request_error"),
            "param": param,
            "code": code,
        }
    }
    return JSONResponse(body, status_code=status, headers=headers)


async def read_json(request: Request) -> dict[str, Any]:
    """The body as a JSON object (its size is capped by the guard before it gets here)."""
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if ctype != "application/json":
        raise BadRequest(415, f"send the body as application/json (got {ctype or 'no content type'})")
    raw = await request.body()
    try:
        data = json.loads(raw)
    except ValueError as e:
        raise BadRequest(400, f"the body is not valid JSON: {e}") from None
    if not isinstance(data, dict):
        raise BadRequest(400, "the body must be a JSON object")
    return data


async def until_disconnect(request: Request) -> None:
    """Return when the client hangs up (the body must have been read already)."""
    while True:
        message = await request.receive()
        if message["type"] == "http.disconnect":
            return


async def wait_or_disconnect(request: Request, done: asyncio.Future[Any] | Any) -> bool:
    """Wait for `done` (an awaitable); False when the client hung up first."""
    waiting = asyncio.ensure_future(done)
    gone = asyncio.ensure_future(until_disconnect(request))
    try:
        finished, _ = await asyncio.wait({waiting, gone}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for t in (waiting, gone):
            if not t.done():
                t.cancel()
                with contextlib.suppress(BaseException):
                    await t
    return waiting in finished
