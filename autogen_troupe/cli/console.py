"""The two consoles every command writes to (results on stdout, messages on stderr), and `safe`, the one
way our messages quote outside text (what a server, a model or a file said)."""

from __future__ import annotations

from rich.console import Console

from .._text import terminal_safe

__all__ = ["err", "out", "safe", "say"]

out = Console()
err = Console(stderr=True, soft_wrap=True)


def safe(text: str) -> str:
    """Text with every secret masked and every control character shown as an escape, as everything we
    print must be (an error or a warning quotes what a server or a model said). Print it with
    `markup=False`, or give it to rich as `safe_text(...)`."""
    from .._redact import redact_text

    return terminal_safe(redact_text(text))


def say(text: str) -> None:
    """One message on stderr, as text (never markup), secrets masked, control characters visible."""
    err.print(safe(text), markup=False, highlight=False)
