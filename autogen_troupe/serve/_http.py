"""HTTP pieces both APIs share: OpenAI's error shape (for every error of the server), the one reader of
JSON bodies (bounded in size by the guard, in nesting here, text checked at the door), errors told to
clients in one paragraph, and waiting for a run while noticing that the client went away."""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
from itertools import accumulate
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse

from .._redact import redact_text
from .._text import bad_text_path

__all__ = [
    "MAX_JSON_DEPTH",
    "BadRequest",
    "error",
    "json_depth",
    "offered_scenario",
    "one_paragraph",
    "read_json",
    "until_disconnect",
    "wait_or_disconnect",
]

MAX_JSON_DEPTH = 64
"""Nesting a body may have. A chat request nests about 5 levels (messages, content parts), a tool's JSON
Schema 10 to 20; 64 leaves room for any of them and keeps far from Python's 1000-frame limit, which the
parser and every walk over the data afterwards (the text check, masking) would otherwise hit."""
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


def offered_scenario(request: Any, *, over: str = "") -> Any:
    """The served scenario the path's `{name}` names, or a 404 saying none of that name is served (`over`:
    the face asked, e.g. " over A2A")."""
    name = request.path_params["name"]
    offered = request.app.state.troupe.catalog.offered.get(name)
    if offered is None:
        raise BadRequest(404, f"no scenario named {name!r} is served{over}", code="scenario_not_found")
    return offered


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


_JSON_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"')  # unrolled: one step per run of plain text
_NOT_BRACKET = re.compile(rb"[^\[\]{}]+")
_STEP = {ord("["): 1, ord("{"): 1, ord("]"): -1, ord("}"): -1}


def json_depth(raw: bytes) -> int:
    """How deeply the JSON text `raw` nests, counted without parsing it (strings left out)."""
    brackets = _NOT_BRACKET.sub(b"", _JSON_STRING.sub(b"", raw))
    return max(accumulate(_STEP[b] for b in brackets), default=0)


async def read_json(request: Request) -> dict[str, Any]:
    """The body as a JSON object: every JSON route reads it here. Its size is capped by the guard before it
    gets here; its nesting is capped before parsing; text that cannot be written as UTF-8 (a lone
    surrogate, `"\\ud800"`) is refused, naming the field, before anything runs or is written."""
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if ctype != "application/json":
        raise BadRequest(415, f"send the body as application/json (got {ctype or 'no content type'})")
    raw = await request.body()
    if json_depth(raw) > MAX_JSON_DEPTH:
        raise BadRequest(400, f"the body nests more than {MAX_JSON_DEPTH} levels deep", code="too_deep")
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError) as e:
        raise BadRequest(400, f"the body is not valid JSON: {one_paragraph(str(e))}") from None
    if not isinstance(data, dict):
        raise BadRequest(400, "the body must be a JSON object")
    where = bad_text_path(data)
    if where is not None:
        raise BadRequest(
            400,
            f"{where}: the text holds a lone surrogate (an unpaired \\uD800-\\uDFFF escape), which is not "
            "valid Unicode; send UTF-8 text",
            code="invalid_text",
            param=where,
        )
    return data


_TRACEBACK = re.compile(r"\s*(?:Traceback:\s*)?Traceback \(most recent call last\):.*", re.DOTALL)
_PATH = re.compile(r"""(?:[A-Za-z]:)?[\\/][^\s"'<>()]*(?:site-packages|dist-packages)[^\s"'<>()]*""")
_PARAGRAPH_CHARS = 2000


def one_paragraph(text: str) -> str:
    """An error as a client is told it: no traceback, no path into installed packages, one paragraph,
    masked. (The whole of it goes to the server's log.)"""
    text = _TRACEBACK.sub("", text)
    text = _PATH.sub("<installed package>", text)
    text = " ".join(line.strip() for line in text.splitlines() if line.strip())
    if len(text) > _PARAGRAPH_CHARS:
        text = text[:_PARAGRAPH_CHARS] + "…"
    return redact_text(text)


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
