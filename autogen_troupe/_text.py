"""Text from outside (requests, files, models, servers) checked at the door and shown as text.

Two rules every room applies the same way, so they live at the package's base beside the errors:

- **At the door**: a string that cannot be written as UTF-8 (a lone surrogate such as `"\\ud800"`, which
  JSON and YAML escapes can produce) is refused where it comes in, with where it sits, before any run
  starts or anything reaches the disk; otherwise it fails later, far away, while writing a transcript or
  listing runs.
- **On a terminal**: control characters (escape sequences that retitle or clear a terminal, carriage returns
  that overwrite a line, bells) are shown as visible `\\x1b`-style text, never sent to the terminal; and
  `[brackets]` in it are never read as rich markup (a server's `[/bold]` would crash the printing, its
  `[link=...]` would make a hyperlink). `safe_text` gives such text to rich as a `rich.text.Text`, which
  rich never parses, after `terminal_safe`: every console, table and panel takes outside text through it.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.style import Style
    from rich.text import Text

__all__ = [
    "bad_text_path",
    "estimate_tokens",
    "first_lone_surrogate",
    "safe_text",
    "terminal_safe",
]

_SURROGATE = re.compile("[\ud800-\udfff]")
# C0 controls but tab and newline, DEL, and the C1 controls (U+0080-U+009F: a terminal reads U+009B as CSI).
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def first_lone_surrogate(text: str) -> int | None:
    """The index of the first code point that cannot be encoded as UTF-8, or None when there is none."""
    m = _SURROGATE.search(text)
    return m.start() if m else None


def bad_text_path(data: Any, where: str = "") -> str | None:
    """Where in `data` (`task`, `messages[2].content`, a key itself) the first unencodable text sits.

    Walks dicts, lists and tuples; returns None when every string (keys included) encodes as UTF-8.
    """
    if isinstance(data, str):
        return where or "(text)" if first_lone_surrogate(data) is not None else None
    if isinstance(data, Mapping):
        for key, value in data.items():
            here = f"{where}.{key}" if where else str(key)
            if isinstance(key, str) and first_lone_surrogate(key) is not None:
                return f"{where or '(top)'} (a key)"
            found = bad_text_path(value, here)
            if found:
                return found
        return None
    if isinstance(data, Sequence) and not isinstance(data, (bytes, bytearray)):
        for i, value in enumerate(data):
            found = bad_text_path(value, f"{where}[{i}]")
            if found:
                return found
    return None


def _visible(m: re.Match[str]) -> str:
    return repr(m.group())[1:-1]  # "\x1b" -> "\\x1b", "\r" -> "\\r"


def terminal_safe(text: str) -> str:
    """`text` with every control character but tab and newline shown as an escape (`\\x1b`), not acted on.

    Lone surrogates are shown the same way (`\\ud800`), so printing never fails on them either.
    """
    text = _CONTROL.sub(_visible, text)
    return _SURROGATE.sub(_visible, text)


def safe_text(text: str, style: str | Style = "") -> Text:
    """Outside `text` for rich (a console, a table cell, a rule's title): a `Text`, whose markup rich never
    reads, with every control character shown as an escape (`terminal_safe`)."""
    from rich.text import Text

    return Text(terminal_safe(text), style=style)


# A high estimate of token counts where no tokenizer is at hand (agents._context measured it against
# SmolLM2's tokenizer: 1.38x the true count at the median, never under 0.9x); also what a stream that
# reports no usage is counted by (models.openai), so token budgets still fire.
_PIECES = re.compile(r"'s|'t|'re|'ve|'m|'ll|'d| ?[^\W\d_]+| ?\d| ?[^\s\w]+|\s+(?!\S)|\s+")


def estimate_tokens(text: str) -> int:
    """A high estimate of the tokens `text` takes: words by length, each digit, punctuation and newline,
    and a token per byte beyond ASCII."""
    n = 0
    for m in _PIECES.finditer(text):
        piece = m.group()
        size = len(piece.encode())
        if size > len(piece):
            n += size
        elif piece.isspace():
            n += piece.count("\n") + 1
        elif piece.lstrip()[:1].isalpha():
            word = piece.strip()
            n += max(1, math.ceil(len(word) / 4) + (1 if len(word) > 7 else 0))
        else:
            n += len(piece.strip())
    return n
