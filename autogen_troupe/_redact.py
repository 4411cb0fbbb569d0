"""Redaction: the one place that decides what a secret looks like and masks it in text and data.

Everything we emit goes through here: transcripts, the console, error messages, cassettes and the text
an agent reads back from a tool. Two kinds of masking work together:

- by shape: credentials in a URL (`https://user:pass@host`, `?key=...&sig=...`), command-line flags
  (`--token=X`, `--api-key X`), headers (`Authorization: Bearer X`, `X-Api-Key: X`), assignments and
  JSON pairs whose name looks secret (`password=X`, `"api_key": "X"`);
- by value: every value of an environment variable whose name looks secret (in `os.environ`, read at
  each call, so a variable set later counts too) and every value `remember_secrets` was given (keys from
  profiles, an MCP server's secret env, args and headers), wherever it appears.

Text that arrives in pieces (a streamed answer) is masked by a `StreamRedactor`: it holds back the
shortest tail that could still become a secret, so the pieces it lets out join to what `redact_text`
makes of the whole text, however the text was cut.

Imports nothing else of the package, so any module may use it.
"""

from __future__ import annotations

import os
import re
import shlex
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from functools import cached_property, lru_cache
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from pydantic import SecretStr

__all__ = [
    "MASK",
    "MIN_SECRET_LENGTH",
    "StreamRedactor",
    "is_secret_name",
    "known_secrets",
    "redact_argv",
    "redact_command",
    "redact_data",
    "redact_headers",
    "redact_text",
    "redact_url",
    "remember_secrets",
    "safe_url",
    "secrets_in_argv",
    "secrets_in_env",
    "secrets_in_text",
]

MASK = "***"
MIN_SECRET_LENGTH = 6
"""Shorter values are not masked by value: "true", a port or a short word would be hidden everywhere."""

# --------------------------------------------------------------------------- what looks secret

_WORD = re.compile(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])|\d+")
# A word (after splitting on _ - . and camelCase) that names a credential, or a part of a one-word name
# that does (APIKEY, ACCESSTOKEN, BASICAUTH, DBPASSWORD).
_SECRET_WORD = re.compile(
    r"keys?|apikey|token|secrets?|pass(?:words?|wd|phrase)?|pwd|auth(?:ori[sz]ation|entication)?"
    r"|cred(?:ential)?s?|cookies?|session(?:id)?|sig(?:nature)?|bearer|jwt|pat|otp"
)
_SECRET_PART = re.compile(
    r"token(?!s$|i[sz])|secret|passw|apikey|accesskey|privatekey|credential|cookie|signature|bearer"
    r"|sessionid|auth$"
)
# A last word that says the value is about a secret, not the secret itself (API_KEY_ENV, TOKEN_FILE...).
_NOT_SECRET_LAST = re.compile(
    r"env|var|variable|names?|file|path|dir|directory|url|uri|host|hostname|port|user|username|type|mode"
    r"|timeout|ttl|size|length|len|count|limit|max|min|enabled?|disabled?|level|version|region|endpoint"
    r"|sock|socket|class|desktop|manager|format|algorithm|header|prefix|expiry|expires|usage"
)
_NOT_SECRET_NAMES = frozenset({"PWD", "OLDPWD", "SSH_AUTH_SOCK", "SESSION_MANAGER", "DESKTOP_SESSION"})
_NOT_SECRET_PREFIXES = ("XDG_", "DBUS_")


@lru_cache(maxsize=4096)
def is_secret_name(name: str) -> bool:
    """Whether a variable, header, flag or key of this name holds a credential.

    `OPENAI_API_KEY`, `GITHUB_TOKEN`, `DB_PASSWORD`, `Authorization`, `X-Api-Key`, `--access-token`,
    `sessionId` do; `max_tokens`, `TOKENIZERS_PARALLELISM`, `API_KEY_ENV`, `KEY_FILE`, `PWD` do not.
    """
    bare = name.strip().lstrip("-")
    if bare.upper() in _NOT_SECRET_NAMES or bare.upper().startswith(_NOT_SECRET_PREFIXES):
        return False
    words = [w.lower() for w in _WORD.findall(bare)]
    if not words or _NOT_SECRET_LAST.fullmatch(words[-1]):
        return False
    return any(_SECRET_WORD.fullmatch(w) or _SECRET_PART.search(w) for w in words)


def _worth_masking(value: str) -> bool:
    v = value.strip()
    return len(v) >= MIN_SECRET_LENGTH and MASK not in v and "<scrubbed>" not in v


def secrets_in_env(env: Mapping[str, str] | None = None) -> set[str]:
    """The values of variables whose names look secret (long enough to mask by value)."""
    if env is None:
        return set(_process_env_secrets())
    return {
        v.strip() for k, v in env.items() if isinstance(v, str) and _worth_masking(v) and is_secret_name(k)
    }


_env_seen: tuple[tuple[Any, ...], frozenset[str]] | None = None


def _process_env_secrets() -> frozenset[str]:
    """`secrets_in_env(os.environ)`, worked out again only when the environment changed.

    Every redaction asks for it, and walking the environment (decoding each name and value) costs more
    than the masking itself; a snapshot of `os.environ`'s raw items, compared by identity, tells whether
    anything was set or removed since.
    """
    global _env_seen
    raw = getattr(os.environ, "_data", None)
    if not isinstance(raw, dict):  # not CPython's os._Environ: walk it every time
        return frozenset(secrets_in_env(dict(os.environ)))
    snapshot = tuple(raw.items())
    seen = _env_seen
    if seen is not None and seen[0] == snapshot:
        return seen[1]
    found = frozenset(secrets_in_env(dict(os.environ)))
    _env_seen = (snapshot, found)
    return found


_remembered: set[str] = set()
_lock = threading.Lock()


def remember_secrets(values: Iterable[str | None]) -> None:
    """Mask these values from now on, in this process (keys of profiles, secrets of MCP servers...)."""
    new = {v.strip() for v in values if isinstance(v, str) and _worth_masking(v)}
    if new - _remembered:
        with _lock:
            _remembered.update(new)


def known_secrets(extra: Iterable[str | None] = ()) -> frozenset[str]:
    """Every value masked by value now: remembered ones, secret-named environment variables, `extra`."""
    out = set(_remembered) | secrets_in_env()
    out.update(v.strip() for v in extra if isinstance(v, str) and _worth_masking(v))
    return frozenset(out)


@lru_cache(maxsize=64)
def _value_pattern(values: frozenset[str]) -> re.Pattern[str] | None:
    if not values:
        return None
    return re.compile("|".join(re.escape(v) for v in sorted(values, key=len, reverse=True)))


# --------------------------------------------------------------------------- secrets by shape

_SCHEMES = r"(?:Bearer|Basic|Token|Digest|Negotiate)[ \t]+"
_NAME = r"[A-Za-z_][\w.-]*"
_VALUE = r"\$\{[^}\s]*\}|\"[^\"\n]*\"|'[^'\n]*'|[^\s&;,\"'<>()\[\]{}]+"


class _Rule:
    """A regex whose `value` group is a secret when `name` (if the rule has one) looks secret."""

    def __init__(self, pattern: str, *, named: bool = True, flags: int = 0, userinfo: bool = False) -> None:
        self.regex = re.compile(pattern, flags)
        self.pattern, self.flags = pattern, flags
        self.named = named
        self.userinfo = userinfo  # `user:password`: the password alone is a secret too

    @cached_property
    def partial(self) -> Any:
        """The rule for the `regex` library, whose partial matching tells whether text could still grow
        into a match (streaming); imported at the first stream."""
        import regex

        return regex.compile(self.pattern, self.flags | regex.VERSION0)

    def hits(self, text: str) -> Iterator[re.Match[str]]:
        for m in self.regex.finditer(text):
            if self._is_secret(m):
                yield m

    def _is_secret(self, m: re.Match[str]) -> bool:
        value = _unquote(m["value"])
        if not value or value.startswith("${") or value.lower() in ("none", "null", "true", "false"):
            return False
        return not self.named or is_secret_name(m["name"])


def _unquote(v: str) -> str:
    return v[1:-1] if len(v) >= 2 and v[0] == v[-1] and v[0] in "\"'" else v


_RULES = (
    # https://user:pass@host -> https://***@host
    _Rule(
        r"(?<![A-Za-z0-9+.-])[A-Za-z][A-Za-z0-9+.-]*://(?P<value>[^\s/?#@'\"<>]+)@",
        named=False,
        userinfo=True,
    ),
    # "api_key": "X", 'password': 'X'
    _Rule(
        r"(?P<q>[\"'])(?P<name>[^\"'\s:]{1,64})(?P=q)[ \t]*:[ \t]*"
        r"(?P<value>\"(?:\\.|[^\"\\\n])*\"|'[^'\n]*')"
    ),
    # Cookie: a=1; b=2 (every cookie)
    _Rule(r"(?<![\w-])(?P<name>(?:set-)?cookie)[ \t]*:[ \t]*(?P<value>[^\r\n\"']+)", flags=re.IGNORECASE),
    # Authorization: Bearer X, X-Api-Key: X, api_key: X (a header or YAML-style line; in a flow mapping,
    # `{api_key: X}`, the closing bracket is not part of the value)
    _Rule(
        rf"(?<![\w.-])(?P<name>(?:[A-Za-z][\w]*[-_][\w-]*|authorization|cookie|apikey|token|password|passwd|secret))"
        rf"[ \t]*:[ \t]*(?:{_SCHEMES})?(?P<value>[^\s\"',;\]}}]+)",
        flags=re.IGNORECASE,
    ),
    # token=X, ?key=X&sig=X, --api-key=X, PASSWORD=X
    _Rule(rf"(?<![\w.-])-{{0,2}}(?P<name>{_NAME})=(?P<value>{_VALUE})"),
    # --token X, --api-key 'X'
    _Rule(r"(?<![\w.-])(?P<name>--?[A-Za-z][\w.-]*)[ \t]+(?P<value>\"[^\"\n]*\"|'[^'\n]*'|(?!-)[^\s\"']+)"),
    # Bearer X anywhere
    _Rule(r"\b(?P<name>Bearer)[ \t]+(?P<value>[A-Za-z0-9._~+/=-]{8,})", named=False, flags=re.IGNORECASE),
)


def secrets_in_text(text: str) -> list[str]:
    """The secret values the shape rules find in `text` (e.g. the token of `--token=X`)."""
    found: list[str] = []
    for rule in _RULES:
        for m in rule.hits(text):
            value = _unquote(m["value"])
            found.append(value)
            if rule.userinfo and ":" in value:
                found.append(value.split(":", 1)[1])
    return found


def _mask_shapes(text: str, mask: str) -> str:
    for rule in _RULES:

        def sub(m: re.Match[str], rule: _Rule = rule) -> str:
            if not rule._is_secret(m):
                return m[0]
            value = m["value"]
            q = value[0] if _unquote(value) != value else ""
            start, end = m.span("value")
            return m[0][: start - m.start()] + f"{q}{mask}{q}" + m[0][end - m.start() :]

        text = rule.regex.sub(sub, text)
    return text


# --------------------------------------------------------------------------- masking


def redact_text(text: str, *, extra: Iterable[str | None] = (), mask: str = MASK) -> str:
    """`text` with every known secret value and every secret-shaped credential replaced by `mask`.

    `extra` adds values to mask this once (the key a client holds, say).
    """
    if not text:
        return text
    pattern = _value_pattern(known_secrets(extra))
    if pattern is not None:
        text = pattern.sub(mask, text)
    return _mask_shapes(text, mask)


def redact_data(data: Any, *, extra: Iterable[str | None] = (), mask: str = MASK) -> Any:
    """A copy of JSON-like data with secrets masked: strings as `redact_text` does, string values under
    secret-looking keys entirely, and pydantic `SecretStr`s. Tuples come back as lists."""
    pattern = _value_pattern(known_secrets(extra))

    def text(s: str) -> str:
        if pattern is not None:
            s = pattern.sub(mask, s)
        return _mask_shapes(s, mask)

    def walk(v: Any) -> Any:
        if isinstance(v, SecretStr):
            return mask
        if isinstance(v, Mapping):
            return {
                k: mask if isinstance(k, str) and isinstance(x, str) and x and is_secret_name(k) else walk(x)
                for k, x in v.items()
            }
        if isinstance(v, list | tuple):
            return [walk(x) for x in v]
        if isinstance(v, str):
            return text(v)
        return v

    return walk(data)


def redact_headers(headers: Mapping[str, str], *, mask: str = MASK) -> dict[str, str]:
    """Headers with the values of secret-looking names masked, the others kept as they are."""
    return {k: mask if is_secret_name(k) else v for k, v in headers.items()}


def redact_url(url: str, *, mask: str = MASK) -> str:
    """The URL with its user info and secret-looking query (and fragment) parameters masked."""
    return redact_text(url, mask=mask)


def safe_url(url: Any) -> str:
    """The URL reduced to scheme, host, port and path (no user info, query or fragment): where it goes."""
    try:
        p = urlsplit(str(url))
        host = p.netloc.rsplit("@", 1)[-1]
    except ValueError:
        return "<unparsable URL>"
    return urlunsplit((p.scheme, host, p.path, "", ""))


def _argv_pairs(argv: Sequence[str]) -> Iterator[tuple[str, list[str]]]:
    """Each argument as shown, with the secret values found in it."""
    flag = re.compile(r"^--?[A-Za-z][\w.-]*$")
    after_secret_flag = False
    for arg in argv:
        if after_secret_flag and not arg.startswith("-") and arg:
            after_secret_flag = False
            yield MASK, [arg]
            continue
        after_secret_flag = bool(flag.match(arg)) and is_secret_name(arg)
        yield redact_text(arg), secrets_in_text(arg)


def redact_argv(argv: Sequence[str]) -> list[str]:
    """A command line with secret flag values (`--token X`, `--token=X`), header values and URL
    credentials masked."""
    return [shown for shown, _ in _argv_pairs(argv)]


def redact_command(argv: Sequence[str]) -> str:
    """The command line as a shell would take it, masked; a mask is not quoted (`--token=***`)."""

    def quote(arg: str) -> str:
        plain = arg.replace(MASK, "x")
        return arg if MASK in arg and shlex.quote(plain) == plain else shlex.quote(arg)

    return " ".join(quote(a) for a in redact_argv(argv))


def secrets_in_argv(argv: Sequence[str]) -> list[str]:
    """The secret values `redact_argv` masks by shape, to mask them anywhere else too."""
    return [s for _, found in _argv_pairs(argv) for s in found]


# --------------------------------------------------------------------------- masking text as it streams

_CONTEXT_CHARS = 256
"""How much of a line's text before a piece its masking sees at least: from an earlier cut (where no
match crosses, so the line masks there as it would whole) this far back or more; the whole line would
cost its length at every piece."""
_LONG_HOLD = 256
_NEUTRAL = re.compile(r"[^\w.+-]")
"""A character no rule's look-behind (nor `\\b`) tells from the start of the text, masked or not: a
context may start after one."""


def _value_cut(text: str, secrets: frozenset[str], pattern: re.Pattern[str] | None) -> int:
    """Where the tail of `text` that could still grow into a known secret value starts."""
    cut = len(text)
    for secret in secrets:
        for n in range(min(len(secret) - 1, len(text)), 0, -1):  # the longest overlap starts earliest
            if text.endswith(secret[:n]):
                cut = min(cut, len(text) - n)
                break
    if pattern is not None:
        for m in pattern.finditer(text):  # never cut through a whole one
            if m.start() < cut < m.end():
                cut = m.start()
    return cut


def _spans(text: str, mask: str) -> list[tuple[int, int]]:
    """Every match of every rule as `_mask_shapes` meets them, each rule on the text the ones before it
    left (masks in place), as spans of `text` itself."""
    spans: list[tuple[int, int]] = []
    begins, ends = list(range(len(text))), list(range(1, len(text) + 1))  # where each character came from
    for rule in _RULES:
        if rule.regex.search(text) is None:
            continue
        out: list[str] = []
        new_begins: list[int] = []
        new_ends: list[int] = []
        last = 0
        for m in rule.regex.finditer(text):
            if m.end() > m.start():
                spans.append((begins[m.start()], ends[m.end() - 1]))
            if not rule._is_secret(m):
                continue
            start, end = m.span("value")
            value = m["value"]
            q = value[0] if _unquote(value) != value else ""
            shown = f"{q}{mask}{q}"
            out.append(text[last:start] + shown)
            new_begins += begins[last:start] + [begins[start]] * len(shown)
            new_ends += ends[last:start] + [ends[end - 1]] * len(shown)
            last = end
        out.append(text[last:])
        text = "".join(out)
        begins, ends = new_begins + begins[last:], new_ends + ends[last:]
    return spans


def _shape_cut(line: str, start: int, from_: int, mask: str) -> int:
    """Where the tail of `line` (from `start` on) that could still become part of a shaped secret starts:
    the first position from which some rule could match text that runs on past the end (a name waiting
    for its `=`, `Bearer ` waiting for its token, an open quote); never inside a whole match, as the rules
    meet them in turn (from `from_`, an earlier cut)."""
    cut = len(line)
    for pos in range(start, len(line)):
        if any(rule.partial.fullmatch(line, pos, partial=True) for rule in _RULES):
            cut = pos
            break
    if cut == start:
        return cut
    spans = [(a + from_, b + from_) for a, b in _spans(line[from_:], mask)]
    moved = True
    while moved:
        crossing = [a for a, b in spans if a < cut < b]
        moved = bool(crossing)
        if crossing:
            cut = max(start, min(crossing))
    return cut


def _mask_piece(line: str, start: int, end: int, mask: str, from_: int = 0) -> str:
    """`line[start:end]` masked by shape as it is inside the whole line, its text from `from_` (an earlier
    cut) seen for context; nothing matched crosses `from_`, `start` or `end`."""
    if start == end:
        return ""
    before = _mask_shapes(line[from_:start], mask)
    both = _mask_shapes(line[from_:end], mask)
    return both[len(before) :] if both.startswith(before) else _mask_shapes(line[start:end], mask)


class StreamRedactor:
    """Masks a text given in pieces, as `redact_text` masks the whole: `feed` each piece and send on what
    it gives back, then `end()` when the text is complete.

    A secret cut across pieces (`sk-a`, `bc1`, `23...`) is masked too: the tail that could still grow
    into one (a prefix of a known secret value; by shape, an unfinished `name=`, `Bearer `, open quote,
    `Cookie:` line) is held back and let out once it can no longer become one, or at the end.
    """

    def __init__(self, *, extra: Iterable[str | None] = (), mask: str = MASK) -> None:
        self._extra = tuple(v for v in extra if isinstance(v, str))
        self._mask = mask
        self._raw = ""  # not yet masked by value
        self._line = ""  # the current line, masked by value
        self._sent = 0  # how much of `_line` has been let out
        self._look_at = 0  # a long tail held whole: look again once the line is this long
        self._cuts = [0]  # where earlier pieces of the line were cut: contexts start there

    def feed(self, piece: str) -> str:
        """What of the text so far can be let out now, masked."""
        if not piece:
            return ""
        self._raw += piece
        secrets = known_secrets(self._extra)
        pattern = _value_pattern(secrets)
        cut = _value_cut(self._raw, secrets, pattern)
        ready, self._raw = self._raw[:cut], self._raw[cut:]
        return self._shapes(pattern.sub(self._mask, ready) if pattern is not None else ready, final=False)

    def end(self) -> str:
        """The rest, masked: the text is complete."""
        pattern = _value_pattern(known_secrets(self._extra))
        rest, self._raw = self._raw, ""
        return self._shapes(pattern.sub(self._mask, rest) if pattern is not None else rest, final=True)

    def _shapes(self, text: str, *, final: bool) -> str:
        out: list[str] = []
        for part in re.split(r"(?<=\n)", text):  # only "\n": every rule stops there, not at "\r"
            self._line += part
            if self._line.endswith("\n"):  # a whole line: no rule matches across a line's end
                out.append(self._piece(len(self._line)))
                self._next_line()
        if final:
            cut = len(self._line)
        elif len(self._line) < self._look_at:
            cut = self._sent
        else:
            cut = _shape_cut(self._line, self._sent, self._context(), self._mask)
            held = len(self._line) - cut
            # A tail held whole (a `Cookie:` line, an open quote) is looked at again when it has doubled:
            # each look reads all of it, and looking at every piece would cost its length squared.
            self._look_at = len(self._line) + held if cut == self._sent and held > _LONG_HOLD else 0
        out.append(self._piece(cut))
        if final:
            self._next_line()
        return "".join(out)

    def _piece(self, cut: int) -> str:
        """The line from what was let out to `cut`, masked, with an earlier cut's context."""
        if cut == self._sent:
            return ""
        from_ = self._context()
        self._cuts = [c for c in self._cuts if c >= from_] + [cut]
        shown = _mask_piece(self._line, self._sent, cut, self._mask, from_)
        self._sent = cut
        return shown

    def _context(self) -> int:
        """Where the context of the next piece starts: the latest earlier cut `_CONTEXT_CHARS` back or
        more that follows a neutral character (or the line's start)."""
        line, sent = self._line, self._sent
        back = [
            c for c in self._cuts if c <= sent - _CONTEXT_CHARS and (c == 0 or _NEUTRAL.match(line, c - 1))
        ]
        return back[-1] if back else 0

    def _next_line(self) -> None:
        self._line, self._sent, self._look_at, self._cuts = "", 0, 0, [0]
