"""Checking a run against the scenario's `expect` block.

Every expectation is checked (not only up to the first failure), and each failure says which
expectation failed, what was expected, what happened, and the transcript lines that show it.
Imports no AutoGen code.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from typing import Any

from ..runtime._transcript import Entry, RunResult, ToolCall, ToolResult
from ..scenario._base import Frozen
from ..scenario._expectations import PathExpectation
from ..scenario._schema import (
    AgentExpectation,
    CallExpectation,
    CountRange,
    Expect,
    SpeakersExpectation,
    TextExpectation,
    ToolCallsExpectation,
)
from ..tapes._records import Guard
from ._expect_approvals import approval_failures
from ._expect_output import output_failures

__all__ = ["ActualCall", "ExpectReport", "Failure", "actual_calls", "check_expectations"]

_LINE_CHARS = 100
_MAX_LINES = 12


class Failure(Frozen):
    """One expectation that did not hold. `expectation` is its path in the `expect` block."""

    expectation: str
    expected: str
    actual: str
    lines: tuple[str, ...] = ()

    def __str__(self) -> str:
        head = f"{self.expectation}: expected {self.expected}; got {self.actual}"
        return "\n".join([head, *("    " + x for x in self.lines)])


class ExpectReport(Frozen):
    """The outcome of checking one run; `passed` when nothing failed."""

    scenario: str
    checked: tuple[str, ...] = ()
    failures: tuple[Failure, ...] = ()

    @property
    def passed(self) -> bool:
        return not self.failures

    def __str__(self) -> str:
        if self.passed:
            return f"{self.scenario}: {len(self.checked)} expectations hold"
        n = len(self.failures)
        return "\n".join(
            [f"{self.scenario}: {n} of {len(self.checked)} expectations failed", *map(str, self.failures)]
        )


class ActualCall(Frozen):
    """A tool call that happened: who made it, its name, its arguments, its transcript position."""

    agent: str
    name: str
    arguments: Any
    index: int


# --------------------------------------------------------------------------- helpers


def _clip(text: str, n: int = _LINE_CHARS) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= n else text[: n - 1] + "…"


def _line(i: int, e: Entry) -> str:
    if isinstance(e, ToolCall):
        body = "; ".join(f"{c.name}({_clip(c.arguments, 60)})" for c in e.calls)
        return f"#{i} {e.source} [tool call] {body}"
    if isinstance(e, ToolResult):
        body = "; ".join(
            f"{r.name}{' ERROR' if r.is_error else ''}: {_clip(r.content, 60)}" for r in e.results
        )
        return f"#{i} {e.source} [tool result] {body}"
    return f"#{i} {e.source}: {_clip(getattr(e, 'content', ''))}"


def _lines(items: Iterable[tuple[int, Entry]]) -> tuple[str, ...]:
    out = [_line(i, e) for i, e in items]
    if len(out) > _MAX_LINES:
        half = _MAX_LINES // 2
        out = [*out[:half], f"... {len(out) - 2 * half} more ...", *out[-half:]]
    return tuple(out)


def _messages(result: RunResult) -> list[tuple[int, Entry]]:
    return [(i, e) for i, e in enumerate(result.transcript) if e.kind in ("text", "handoff")]


def _q(v: Any) -> str:
    return json.dumps(v, ensure_ascii=False) if not isinstance(v, str) else repr(v)


def _text_failures(path: str, want: TextExpectation, actual: str) -> list[tuple[str, str]]:
    """(expected, got) for each part of a text expectation that does not hold."""
    out = []
    if want.equals is not None and actual != want.equals:
        out.append((f"{path}.equals", f"exactly {_q(want.equals)}"))
    if want.contains is not None and want.contains not in actual:
        out.append((f"{path}.contains", f"text containing {_q(want.contains)}"))
    if want.regex is not None and re.search(want.regex, actual) is None:
        out.append((f"{path}.regex", f"text matching /{want.regex}/"))
    return out


def _count(path: str, want: CountRange, n: int, what: str) -> tuple[str, str] | None:
    if (want.min is not None and n < want.min) or (want.max is not None and n > want.max):
        lo = "" if want.min is None else f"at least {want.min}"
        hi = "" if want.max is None else f"at most {want.max}"
        return path, f"{lo}{' and ' if lo and hi else ''}{hi} {what}"
    return None


def actual_calls(result: RunResult) -> list[ActualCall]:
    """Every tool call in the transcript, with arguments parsed from JSON where they parse."""
    out = []
    for i, e in enumerate(result.transcript):
        if isinstance(e, ToolCall):
            for c in e.calls:
                try:
                    args: Any = json.loads(c.arguments) if c.arguments.strip() else {}
                except ValueError:
                    args = c.arguments
                out.append(ActualCall(agent=e.source, name=c.name, arguments=args, index=i))
    return out


def _holds(subset: Any, actual: Any) -> bool:
    """Whether `actual` has everything `subset` has: dicts key by key, other values equal."""
    if isinstance(subset, dict):
        return isinstance(actual, dict) and all(
            k in actual and _holds(v, actual[k]) for k, v in subset.items()
        )
    if isinstance(subset, list | tuple) and isinstance(actual, list | tuple):
        return len(subset) == len(actual) and all(_holds(a, b) for a, b in zip(subset, actual, strict=True))
    return subset == actual


def _matches(want: CallExpectation, call: ActualCall) -> bool:
    return (
        want.name == call.name
        and (want.agent is None or want.agent == call.agent)
        and _holds(dict(want.arguments), call.arguments)
    )


def _pairing(wants: Sequence[CallExpectation], calls: Sequence[ActualCall]) -> dict[int, int]:
    """A largest one-to-one pairing of expected calls to actual calls (Kuhn's augmenting paths)."""
    owner: dict[int, int] = {}  # actual index -> expected index

    def place(w: int, seen: set[int]) -> bool:
        for c, call in enumerate(calls):
            if c in seen or not _matches(wants[w], call):
                continue
            seen.add(c)
            if c not in owner or place(owner[c], seen):
                owner[c] = w
                return True
        return False

    for w in range(len(wants)):
        place(w, set())
    return {w: c for c, w in owner.items()}


def _describe(w: CallExpectation) -> str:
    args = f"({_clip(json.dumps(w.arguments, ensure_ascii=False), 60)} ⊆ args)" if w.arguments else ""
    by = f" by {w.agent}" if w.agent else ""
    return f"{w.name}{args}{by}"


def _call_text(c: ActualCall) -> str:
    args = c.arguments if isinstance(c.arguments, str) else json.dumps(c.arguments, ensure_ascii=False)
    return f"{c.name}({_clip(args, 60)}) by {c.agent}"


def _tool_failures(
    path: str, want: ToolCallsExpectation, calls: Sequence[ActualCall], result: RunResult
) -> list[Failure]:
    lines = _lines((c.index, result.transcript[c.index]) for c in calls) or ("(no tool calls)",)
    got = "[" + ", ".join(_call_text(c) for c in calls) + "]" if calls else "no tool calls"
    return _tool_count_failures(path, want, calls, lines) + _tool_list_failures(path, want, calls, got, lines)


def _tool_count_failures(
    path: str, want: ToolCallsExpectation, calls: Sequence[ActualCall], lines: tuple[str, ...]
) -> list[Failure]:
    """The number of calls in all (`count`) and of each named tool (`per_tool`)."""
    out = []
    checks = [(f"{path}.count", want.count, len(calls), "tool calls")] if want.count is not None else []
    for name, rng in want.per_tool.items():
        n = sum(c.name == name for c in calls)
        checks.append((f"{path}.per_tool.{name}", rng, n, f"calls of {name}"))
    for where, rng, n, what in checks:
        bad = _count(where, rng, n, what)
        if bad:
            out.append(Failure(expectation=bad[0], expected=bad[1], actual=f"{n} {what}", lines=lines))
    return out


def _tool_list_failures(
    path: str, want: ToolCallsExpectation, calls: Sequence[ActualCall], got: str, lines: tuple[str, ...]
) -> list[Failure]:
    wants = want.calls
    expected_list = "[" + ", ".join(_describe(w) for w in wants) + "]"
    if want.order == "strict":
        ok = len(wants) == len(calls) and all(_matches(w, c) for w, c in zip(wants, calls, strict=False))
        if ok:
            return []
        bad = next(
            (k for k, (w, c) in enumerate(zip(wants, calls, strict=False)) if not _matches(w, c)),
            min(len(wants), len(calls)),
        )
        return [
            Failure(
                expectation=f"{path} (order: strict)",
                expected=f"exactly {expected_list} in this order (first difference at call {bad})",
                actual=got,
                lines=lines,
            )
        ]
    pairs = _pairing(wants, calls)
    missing = [w for k, w in enumerate(wants) if k not in pairs]
    if want.order == "superset":  # any number of calls of each listed kind; nothing else
        extra = [c for c in calls if not any(_matches(w, c) for w in wants)]
    else:  # one listed call per call made
        extra = [c for k, c in enumerate(calls) if k not in set(pairs.values())]
    problems = []
    if want.order in ("unordered", "subset") and missing:
        problems.append("missing " + ", ".join(_describe(w) for w in missing))
    if want.order in ("unordered", "superset") and extra:
        problems.append("unexpected " + ", ".join(_call_text(c) for c in extra))
    if not problems:
        return []
    meaning = {
        "unordered": f"exactly the calls {expected_list}, in any order",
        "subset": f"at least the calls {expected_list} (others allowed)",
        "superset": f"no calls other than {expected_list} (each any number of times)",
    }[want.order]
    return [
        Failure(
            expectation=f"{path} (order: {want.order})",
            expected=meaning,
            actual=f"{got} ({'; '.join(problems)})",
            lines=lines,
        )
    ]


def _speaker_failures(want: SpeakersExpectation, result: RunResult) -> list[Failure]:
    msgs = _messages(result)
    speakers = [e.source for _, e in msgs]
    got = "[" + ", ".join(speakers) + "]"
    lines = _lines(msgs)
    out = []
    if want.exact is not None and list(want.exact) != speakers:
        at = next(
            (k for k, (a, b) in enumerate(zip(want.exact, speakers, strict=False)) if a != b),
            min(len(want.exact), len(speakers)),
        )
        out.append(
            Failure(
                expectation="speakers.exact",
                expected="[" + ", ".join(want.exact) + f"] (first difference at message {at})",
                actual=got,
                lines=lines,
            )
        )
    if want.first is not None and (not speakers or speakers[0] != want.first):
        out.append(
            Failure(expectation="speakers.first", expected=repr(want.first), actual=got, lines=lines[:3])
        )
    if want.last is not None and (not speakers or speakers[-1] != want.last):
        out.append(
            Failure(expectation="speakers.last", expected=repr(want.last), actual=got, lines=lines[-3:])
        )
    if want.set is not None and set(want.set) != set(speakers):
        diff = []
        if set(want.set) - set(speakers):
            diff.append("never spoke: " + ", ".join(sorted(set(want.set) - set(speakers))))
        if set(speakers) - set(want.set):
            diff.append("not expected: " + ", ".join(sorted(set(speakers) - set(want.set))))
        out.append(
            Failure(
                expectation="speakers.set",
                expected="exactly the speakers {" + ", ".join(sorted(want.set)) + "}",
                actual=f"{got} ({'; '.join(diff)})",
                lines=lines,
            )
        )
    if want.includes is not None:
        absent = [s for s in want.includes if s not in speakers]
        if absent:
            out.append(
                Failure(
                    expectation="speakers.includes",
                    expected="speakers including " + ", ".join(want.includes),
                    actual=f"{got} (never spoke: {', '.join(absent)})",
                    lines=lines,
                )
            )
    return out


def _agent_failures(
    name: str, want: AgentExpectation, result: RunResult, calls: list[ActualCall]
) -> list[Failure]:
    path = f"agents.{name}"
    mine = [(i, e) for i, e in _messages(result) if e.source == name]
    lines = _lines(mine) or (f"({name} sent no messages)",)
    out = []
    if want.messages is not None:
        bad = _count(f"{path}.messages", want.messages, len(mine), f"messages from {name}")
        if bad:
            out.append(Failure(expectation=bad[0], expected=bad[1], actual=f"{len(mine)}", lines=lines))
    texts = [getattr(e, "content", "") for _, e in mine]
    if want.contains is not None and not any(want.contains in t for t in texts):
        out.append(
            Failure(
                expectation=f"{path}.contains",
                expected=f"a message from {name} containing {_q(want.contains)}",
                actual="none does",
                lines=lines,
            )
        )
    if want.regex is not None and not any(re.search(want.regex, t) for t in texts):
        out.append(
            Failure(
                expectation=f"{path}.regex",
                expected=f"a message from {name} matching /{want.regex}/",
                actual="none does",
                lines=lines,
            )
        )
    if want.tool_calls is not None:
        out.extend(
            _tool_failures(
                f"{path}.tool_calls", want.tool_calls, [c for c in calls if c.agent == name], result
            )
        )
    if want.output is not None:
        for where, expected, got in output_failures(name, want.output, result):
            out.append(Failure(expectation=where, expected=expected, actual=got, lines=lines))
    return out


def _count_failures(want: CountRange, result: RunResult) -> list[Failure]:
    msgs = _messages(result)
    bad = _count("messages", want, len(msgs), "messages (the task included)")
    if not bad:
        return []
    return [Failure(expectation=bad[0], expected=bad[1], actual=str(len(msgs)), lines=_lines(msgs))]


def _final_failures(want: TextExpectation, result: RunResult) -> list[Failure]:
    final = result.final_message
    actual = _q(_clip(final, 200)) if final else "no messages"
    lines = _lines(_messages(result)[-1:])
    return [
        Failure(expectation=path, expected=text, actual=actual, lines=lines)
        for path, text in _text_failures("final_message", want, final)
    ]


def _token_failures(most: int, result: RunResult) -> list[Failure]:
    u = result.usage
    total = u.total_tokens
    if total <= most:
        return []
    per: dict[str, int] = {}
    for e in result.transcript:
        if e.usage is not None:
            per[e.source] = per.get(e.source, 0) + e.usage.total_tokens
    return [
        Failure(
            expectation="max_total_tokens",
            expected=f"at most {most} tokens",
            actual=f"{total} ({u.prompt_tokens} prompt + {u.completion_tokens} completion)",
            lines=tuple(f"{a}: {n} tokens" for a, n in sorted(per.items(), key=lambda x: -x[1])),
        )
    ]


def _tool_error_failures(result: RunResult) -> list[Failure]:
    errs = [
        (i, e)
        for i, e in enumerate(result.transcript)
        if isinstance(e, ToolResult) and any(r.is_error for r in e.results)
    ]
    if not errs:
        return []
    n = sum(r.is_error for _, e in errs for r in e.results)
    return [
        Failure(
            expectation="no_tool_errors",
            expected="no tool errors",
            actual=f"{n} tool error(s)",
            lines=_lines(errs),
        )
    ]


def _path_failures(want: PathExpectation, result: RunResult) -> list[Failure]:
    """A graph team's path (the nodes in the order they started) against `exact` or `subsequence`."""
    got = list(result.path)
    shown = "[" + ", ".join(got) + "]"
    failures = []
    if want.exact is not None and list(want.exact) != got:
        failures.append(
            Failure(expectation="path.exact", expected=f"[{', '.join(want.exact)}]", actual=shown)
        )
    if want.subsequence is not None:
        rest = iter(got)
        if not all(any(n == m for m in rest) for n in want.subsequence):
            failures.append(
                Failure(
                    expectation="path.subsequence",
                    expected=f"[{', '.join(want.subsequence)}] in this order",
                    actual=shown,
                )
            )
    return failures


def _guard_failures(want: tuple[str, ...], result: RunResult) -> list[Failure]:
    """The guards that stopped the run (their `guard` entries), against exactly `want` in any order."""
    got = result.guards
    if sorted(set(got)) == sorted(set(want)):
        return []
    fired = [(i, e) for i, e in enumerate(result.transcript) if isinstance(e, Guard)]
    return [
        Failure(
            expectation="guards",
            expected="[" + ", ".join(want) + "]" if want else "no guard to fire",
            actual="[" + ", ".join(got) + "]" if got else "no guard fired",
            lines=_lines(fired) or _lines(list(enumerate(result.transcript))[-3:]),
        )
    ]


# --------------------------------------------------------------------------- entry point


def check_expectations(result: RunResult, expect: Expect | None) -> ExpectReport:
    """Check `result` against `expect`; a run that ended in an error always fails."""
    checked: list[str] = []
    failures: list[Failure] = []
    tail = _lines(list(enumerate(result.transcript))[-3:])
    if not result.ok:
        checked.append("run")
        failures.append(
            Failure(
                expectation="run",
                expected="the run to end by its rules or limits",
                actual=f"it ended with {result.stopped_by}: {_clip(result.error or result.stop_reason, 300)}",
                lines=tail,
            )
        )
    if expect is None:
        return ExpectReport(scenario=result.scenario, checked=tuple(checked), failures=tuple(failures))

    if expect.stop_reason is not None:
        checked.append("stop_reason")
        for path, want in _text_failures("stop_reason", expect.stop_reason, result.stop_reason):
            failures.append(
                Failure(expectation=path, expected=want, actual=repr(result.stop_reason), lines=tail)
            )
    if expect.speakers is not None:
        checked.append("speakers")
        failures.extend(_speaker_failures(expect.speakers, result))
    if expect.path is not None:
        checked.append("path")
        failures.extend(_path_failures(expect.path, result))
    calls = actual_calls(result)
    if expect.tool_calls is not None:
        checked.append("tool_calls")
        failures.extend(_tool_failures("tool_calls", expect.tool_calls, calls, result))
    if expect.messages is not None:
        checked.append("messages")
        failures.extend(_count_failures(expect.messages, result))
    if expect.final_message is not None:
        checked.append("final_message")
        failures.extend(_final_failures(expect.final_message, result))
    if expect.max_total_tokens is not None:
        checked.append("max_total_tokens")
        failures.extend(_token_failures(expect.max_total_tokens, result))
    if expect.no_tool_errors:
        checked.append("no_tool_errors")
        failures.extend(_tool_error_failures(result))
    if expect.guards is not None:
        checked.append("guards")
        failures.extend(_guard_failures(expect.guards, result))
    if expect.approvals is not None:
        checked.append("approvals")
        for path, want, got, at in approval_failures(expect.approvals, result):
            shown = _lines((i, result.transcript[i]) for i in at) or tail
            failures.append(Failure(expectation=path, expected=want, actual=got, lines=shown))
    for name, agent_expect in expect.agents.items():
        checked.append(f"agents.{name}")
        failures.extend(_agent_failures(name, agent_expect, result, calls))
    return ExpectReport(scenario=result.scenario, checked=tuple(checked), failures=tuple(failures))
