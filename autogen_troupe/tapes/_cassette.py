"""The cassette: a run's model calls and tool calls, written as readable JSON next to the scenario.

A cassette is not a transcript (that is `RunResult`): it holds what the team asked its models and tools
and what came back, so that a replay can answer the same questions offline. Each model call is keyed by
the calling agent and a fingerprint of its normalised request; the normalised request is stored too, so
a request that no longer matches can be shown as a diff.

Imports no AutoGen code: messages and tools are read by their fields.
"""

from __future__ import annotations

import dataclasses
import difflib
import hashlib
import json
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, Final, Literal

from pydantic import BaseModel, Field, ValidationError

from .._redact import redact_data
from ..errors import Issue, ScenarioError
from ..scenario._base import Frozen
from ..scenario._files import CASSETTE_MAX_BYTES, FileProblem, parse_json, read_text

__all__ = [
    "CASSETTE_SUFFIX",
    "AgentRecord",
    "Cassette",
    "ModelCall",
    "ModelResponse",
    "PromptRecord",
    "RecordedCall",
    "ToolRecord",
    "UserAnswer",
    "cassette_path_for",
    "diff_requests",
    "fingerprint",
    "normalise_arguments",
    "normalise_request",
    "request_of_call",
    "scrub",
]

CASSETTE_SUFFIX = ".cassette.json"
FORMAT: Final = "troupe-cassette"
VERSION: Final = 1
SCRUBBED = "<scrubbed>"

# A date with a time of day (ISO 8601 or `YYYY-MM-DD HH:MM`), optionally with seconds, fraction and zone.
_DATETIME = re.compile(
    r"\b\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?(?![\d:])"
)
DATETIME_PLACEHOLDER = "<datetime>"


class RecordedCall(Frozen):
    """A tool call the model asked for: the id is kept verbatim so replayed transcripts are identical."""

    id: str
    name: str
    arguments: str


class TokenCount(Frozen):
    prompt_tokens: int = 0
    completion_tokens: int = 0


class ModelResponse(Frozen):
    """What the model answered: text or tool calls, its reasoning, and the tokens it counted."""

    finish_reason: str
    content: str | None = None
    tool_calls: tuple[RecordedCall, ...] = ()
    thought: str | None = None
    usage: TokenCount = Field(default_factory=TokenCount)


class ModelCall(Frozen):
    """One model call: who asked, the request's fingerprint and normalised form, the answer, and how long
    it took (seconds; a replay's spans show it)."""

    agent: str
    fingerprint: str
    stream: bool = False
    request: dict[str, Any]
    response: ModelResponse
    duration_s: float | None = None


class ToolRecord(Frozen):
    """One tool call and its result. `server` is the MCP server, None for a Python tool.

    `tool` is the name the server (or the Python tool) itself uses, before any per-agent rename.
    """

    agent: str
    server: str | None = None
    tool: str
    arguments: Any
    result: str
    is_error: bool = False
    notes: tuple[dict[str, Any], ...] = Field(
        (),
        description="What the MCP server asked and said during the call (questions and answers, "
        "sampling, progress, logs), shown again when replayed.",
    )
    duration_s: float | None = None  # how long the call took when recorded


class PromptRecord(Frozen):
    """An MCP prompt the scenario used (as a system message or the task) and its text."""

    server: str
    name: str
    arguments: dict[str, str] = Field(default_factory=dict)
    text: str


class UserAnswer(Frozen):
    """What the person answered a user agent (`kind: user`), or its default when nobody did."""

    agent: str
    answer: str


class AgentRecord(Frozen):
    """How an agent's model was reached when recording (no secrets) and what AutoGen was told about it.

    `settings` and `context_length` are what replay uses when it cannot resolve the scenario's model
    itself (a profile only the recording machine has).
    """

    provider: str | None = None
    model: str | None = None
    model_info: dict[str, Any] = Field(default_factory=dict)
    settings: dict[str, Any] = Field(default_factory=dict)
    context_length: int | None = None


class Cassette(Frozen):
    """Everything a replay needs; `model_dump_json` of this is the file format (see `dumps`)."""

    format: Literal["troupe-cassette"] = FORMAT
    version: Literal[1] = VERSION
    scenario: str
    task: str | None = None
    agents: dict[str, AgentRecord] = Field(default_factory=dict)
    overrides: dict[str, str] = Field(
        default_factory=dict,
        description="Model overrides given when recording (profile, base_url, model); replay applies them.",
    )
    mcp_tools: dict[str, tuple[dict[str, Any], ...]] = Field(
        default_factory=dict, description="Per MCP server, the tools it listed (server's own names)."
    )
    model_calls: tuple[ModelCall, ...] = ()
    tool_calls: tuple[ToolRecord, ...] = ()
    mcp_prompts: tuple[PromptRecord, ...] = ()
    user_answers: tuple[UserAnswer, ...] = Field(
        (), description="The answers user agents got, in order; replay gives them again."
    )

    def dumps(self, *, secrets: Iterable[str] = ()) -> str:
        """The file text: stable key order, two-space indent, credentials scrubbed."""
        data = scrub(self.model_dump(mode="json"), secrets=secrets)
        return json.dumps(data, indent=2, ensure_ascii=False) + "\n"

    def save(self, path: str | os.PathLike[str], *, secrets: Iterable[str] = ()) -> Path:
        """Write the cassette atomically (a half-written file never replaces a good one)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(self.dumps(secrets=secrets), encoding="utf-8")
        tmp.replace(path)
        return path

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Cassette:
        """Read a cassette; a missing, broken or foreign file raises ScenarioError with its location.

        The file is read bounded (see `_files`): a regular file of at most 64 MiB, UTF-8 JSON nested at
        most 100 levels deep.
        """
        path = Path(path)
        try:
            data = parse_json(
                read_text(path, limit=CASSETTE_MAX_BYTES, what="cassette"), path, what="cassette"
            )
        except FileProblem as e:
            hint = " (record one with `troupe record SCENARIO`)" if not path.exists() else ""
            raise ScenarioError([Issue(path, e.line, e.column, e.message + hint)]) from None
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise ScenarioError([Issue(path, 1, 1, f'not a troupe cassette (no "format": "{FORMAT}")')])
        if data.get("version") != VERSION:
            raise ScenarioError(
                [
                    Issue(
                        path,
                        1,
                        1,
                        f"cassette version {data.get('version')!r} is not supported (want {VERSION})",
                    )
                ]
            )
        try:
            return cls.model_validate(data)
        except ValidationError as e:
            issues = [
                Issue(path, 1, 1, str(err["msg"]), ".".join(str(p) for p in err["loc"]))
                for err in e.errors(include_url=False)
            ]
            raise ScenarioError(issues) from None


def cassette_path_for(scenario_path: str | Path) -> Path:
    """Where a scenario's cassette lives: beside it, `NAME.cassette.json` for `NAME.yaml`."""
    p = Path(scenario_path)
    return p.with_name(p.stem + CASSETTE_SUFFIX)


# --------------------------------------------------------------------------- scrubbing


def scrub(data: Any, *, secrets: Iterable[str] = ()) -> Any:
    """A copy of `data` with credentials replaced by `<scrubbed>` (see `_redact.redact_data`).

    String values under credential-like keys (authorization, api-key, cookies, tokens), every
    `SecretStr`, every secret-shaped credential in text, and every occurrence of a known secret (the
    given strings, keys the run used, secret-named environment variables) are replaced.
    """
    return redact_data(data, extra=secrets, mask=SCRUBBED)


# --------------------------------------------------------------------------- normalising requests


def _canonical(v: Any) -> Any:
    """Plain JSON data with dict keys sorted, tuples as lists."""
    if isinstance(v, Mapping):
        return {str(k): _canonical(v[k]) for k in sorted(v, key=str)}
    if isinstance(v, list | tuple):
        return [_canonical(x) for x in v]
    if isinstance(v, BaseModel):
        return _canonical(v.model_dump(mode="json"))
    if dataclasses.is_dataclass(v) and not isinstance(v, type):
        return _canonical(dataclasses.asdict(v))
    if isinstance(v, str | int | float | bool) or v is None:
        return v
    return str(v)


def _volatile(text: str) -> str:
    return _DATETIME.sub(DATETIME_PLACEHOLDER, text)


def normalise_arguments(arguments: Any) -> Any:
    """Tool-call arguments as canonical JSON data (keys sorted); unparseable text stays as it is."""
    if isinstance(arguments, str):
        try:
            return _canonical(json.loads(arguments))
        except ValueError:
            return arguments
    return _canonical(arguments)


def _content(content: Any) -> Any:
    if isinstance(content, str):
        return _volatile(content)
    if isinstance(content, list | tuple):
        out: list[Any] = []
        for part in content:
            if isinstance(part, str):
                out.append(_volatile(part))
            else:  # an autogen Image: its digest stands for it
                data = getattr(part, "data_uri", None) or repr(part)
                out.append({"image": "sha256:" + hashlib.sha256(str(data).encode()).hexdigest()[:16]})
        return out
    return _volatile(str(content))


def _message(msg: Any, ids: dict[str, str]) -> dict[str, Any]:
    def norm_id(i: str) -> str:
        return ids.setdefault(i, f"call_{len(ids)}")

    kind = getattr(msg, "type", None) or (msg.get("type") if isinstance(msg, Mapping) else None)
    get = (
        (lambda k, d=None: msg.get(k, d))
        if isinstance(msg, Mapping)
        else (lambda k, d=None: getattr(msg, k, d))
    )
    if kind == "SystemMessage":
        return {"role": "system", "content": _content(get("content"))}
    if kind == "UserMessage":
        return {"role": "user", "source": get("source"), "content": _content(get("content"))}
    if kind == "AssistantMessage":
        out: dict[str, Any] = {"role": "assistant", "source": get("source")}
        content = get("content")
        if isinstance(content, str):
            out["content"] = _volatile(content)
        else:
            calls = []
            for c in content:
                cid, name, args = (
                    (c.get("id"), c.get("name"), c.get("arguments"))
                    if isinstance(c, Mapping)
                    else (c.id, c.name, c.arguments)
                )
                calls.append({"id": norm_id(str(cid)), "name": name, "arguments": normalise_arguments(args)})
            out["tool_calls"] = calls
        if get("thought"):
            out["thought"] = _volatile(get("thought"))
        return out
    if kind == "FunctionExecutionResultMessage":
        results = []
        for r in get("content"):
            rget = (
                (lambda k, d=None, r=r: r.get(k, d))
                if isinstance(r, Mapping)
                else (lambda k, d=None, r=r: getattr(r, k, d))
            )
            results.append(
                {
                    "call_id": norm_id(str(rget("call_id"))),
                    "name": rget("name"),
                    "content": _volatile(str(rget("content"))),
                    "is_error": bool(rget("is_error")),
                }
            )
        return {"role": "tool", "results": results}
    return {"role": "other", "content": _volatile(json.dumps(_canonical(msg), ensure_ascii=False))}


def _tool(tool: Any) -> dict[str, Any]:
    schema = tool if isinstance(tool, Mapping) else getattr(tool, "schema", None)
    if schema is None:
        return {"name": str(tool)}
    out = {"name": schema.get("name"), "description": schema.get("description", "")}
    if "parameters" in schema:
        out["parameters"] = _canonical(schema["parameters"])
    if schema.get("strict"):
        out["strict"] = True
    return out


def request_of_call(
    messages: Sequence[Any], kw: Mapping[str, Any], settings: Mapping[str, Any] | None
) -> dict[str, Any]:
    """`normalise_request` of a client call given as AutoGen passes it (`create(messages, **kw)`), with
    `create`'s own defaults for what the call leaves out: what replay and resume look up."""
    return normalise_request(
        messages,
        tools=kw.get("tools", ()),
        tool_choice=kw.get("tool_choice", "auto"),
        json_output=kw.get("json_output"),
        extra_create_args=kw.get("extra_create_args"),
        settings=settings,
    )


def normalise_request(
    messages: Sequence[Any],
    *,
    tools: Sequence[Any] = (),
    tool_choice: Any = "auto",
    json_output: Any = None,
    extra_create_args: Mapping[str, Any] | None = None,
    settings: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The parts of a model request that decide its answer, with volatile parts normalised.

    `settings` are the client's own request settings (temperature, max_tokens...: `request_settings`):
    a cassette recorded with other settings does not match.

    Tool-call ids become `call_0`, `call_1`... in order of appearance, and dates with a time of day become
    `<datetime>`, so a new id or a new clock reading does not make a request "different". Secrets are
    scrubbed.
    """
    ids: dict[str, str] = {}
    if isinstance(tool_choice, str) or tool_choice is None:
        choice: Any = tool_choice
    else:
        choice = {"tool": getattr(tool_choice, "name", str(tool_choice))}
    if isinstance(json_output, type) and issubclass(json_output, BaseModel):
        json_out: Any = {"schema": _canonical(json_output.model_json_schema())}
    else:
        json_out = json_output
    # Scrubbed as the cassette stores it, so a recorded request and its replay compare alike.
    request = {
        "messages": [_message(m, ids) for m in messages],
        "tools": [_tool(t) for t in tools],
        "tool_choice": choice,
        "json_output": json_out,
        "options": _canonical(dict(extra_create_args or {})),
    }
    if settings:
        request["settings"] = _canonical(dict(settings))
    return scrub(request)


def fingerprint(request: Mapping[str, Any]) -> str:
    """A short stable hash of a normalised request."""
    text = json.dumps(request, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


# --------------------------------------------------------------------------- explaining a mismatch


def _pretty(v: Any) -> list[str]:
    return json.dumps(v, indent=2, ensure_ascii=False, sort_keys=True).splitlines()


def _unified(old: Any, new: Any, *, indent: str = "    ") -> list[str]:
    if isinstance(old, str) and isinstance(new, str):
        a, b = old.splitlines() or [""], new.splitlines() or [""]
    else:
        a, b = _pretty(old), _pretty(new)
    lines = difflib.unified_diff(a, b, "recorded", "now", n=2, lineterm="")
    return [indent + line for line in lines]


def _label(i: int, m: Mapping[str, Any]) -> str:
    who = m.get("role", "?")
    if m.get("source"):
        who += f" from {m['source']}"
    if "tool_calls" in m:
        who += " with tool calls"
    return f"message {i} ({who})"


def _message_diff(old: Sequence[Mapping[str, Any]], new: Sequence[Mapping[str, Any]]) -> list[str]:
    out: list[str] = []
    key = [json.dumps(m, sort_keys=True) for m in old], [json.dumps(m, sort_keys=True) for m in new]
    sm = difflib.SequenceMatcher(a=key[0], b=key[1], autojunk=False)
    for op, a0, a1, b0, b1 in sm.get_opcodes():
        if op == "equal":
            continue
        if op == "replace" and a1 - a0 == b1 - b0:
            for k in range(a1 - a0):
                o, n = old[a0 + k], new[b0 + k]
                out.append(f"  {_label(b0 + k, n)} changed:")
                if o.get("role") == n.get("role") and "content" in o and "content" in n:
                    out.extend(_unified(o["content"], n["content"]))
                else:
                    out.extend(_unified(dict(o), dict(n)))
            continue
        for k in range(a0, a1):
            out.append(f"  recorded {_label(k, old[k])} is missing now:")
            out.extend("    - " + line for line in _pretty(old[k]))
        for k in range(b0, b1):
            out.append(f"  {_label(k, new[k])} is new:")
            out.extend("    + " + line for line in _pretty(new[k]))
    return out


def _tools_diff(old: Sequence[Mapping[str, Any]], new: Sequence[Mapping[str, Any]]) -> list[str]:
    out: list[str] = []
    a = {t.get("name"): t for t in old}
    b = {t.get("name"): t for t in new}
    gone = [n for n in a if n not in b]
    added = [n for n in b if n not in a]

    def shape(t: Mapping[str, Any]) -> Any:
        return (t.get("description"), json.dumps(t.get("parameters"), sort_keys=True))

    renamed = []
    for g in list(gone):
        twin = next((n for n in added if shape(b[n]) == shape(a[g])), None)
        if twin is not None:
            renamed.append((g, twin))
            gone.remove(g)
            added.remove(twin)
    for g, n in renamed:
        out.append(f"  tool {g!r} was renamed to {n!r} (same description and parameters)")
    for g in gone:
        out.append(f"  tool {g!r} was offered when recording and is gone now")
    for n in added:
        out.append(f"  tool {n!r} is new (not offered when recording)")
    for name in a:
        if name in b and a[name] != b[name]:
            out.append(f"  tool {name!r} schema changed:")
            out.extend(_unified(dict(a[name]), dict(b[name])))
    if not out and [t.get("name") for t in old] != [t.get("name") for t in new]:
        out.append(f"  tools are offered in a new order: {list(b)} (recorded: {list(a)})")
    return out


def diff_requests(recorded: Mapping[str, Any], now: Mapping[str, Any]) -> str:
    """A readable account of how `now` differs from `recorded`: which message, which tool schema."""
    lines: list[str] = []
    old_m, new_m = recorded.get("messages", []), now.get("messages", [])
    if old_m != new_m:
        lines.append(f"messages (recorded {len(old_m)}, now {len(new_m)}):")
        lines.extend(_message_diff(old_m, new_m))
    old_t, new_t = recorded.get("tools", []), now.get("tools", [])
    if old_t != new_t:
        lines.append("tools:")
        lines.extend(_tools_diff(old_t, new_t))
    for key in ("settings", "tool_choice", "json_output", "options"):
        if recorded.get(key) != now.get(key):
            lines.append(f"{key}: recorded {json.dumps(recorded.get(key))}, now {json.dumps(now.get(key))}")
    return "\n".join(lines) if lines else "(no difference in the normalised request)"
