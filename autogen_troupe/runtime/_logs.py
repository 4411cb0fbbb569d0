"""What other libraries may log to our terminal (kept apart from the console view, which imports more).

One mechanism for every command: `library_logs()` sends the log lines and warnings of the libraries under
us (vLLM, torch, transformers, triton, OpenTelemetry's SDK) to a file instead of the console, for the whole
command; the command names the file once it knows it (`library_log_file`: beside a run's transcript, in
`troupe serve`'s or `troupe eval`'s output folder). `--verbose` shows them on stderr too.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
from collections.abc import Iterator
from pathlib import Path

__all__ = ["engine_logs_to", "library_log_file", "library_logs", "quiet_autogen_logs"]

# The MCP SDK logs a failed OAuth flow as a traceback before raising; we report the error ourselves.
_AUTOGEN_LOGGERS = ("autogen_core", "autogen_agentchat", "mcp.client.auth")


def quiet_autogen_logs() -> None:
    """Keep AutoGen's own log lines off the terminal; TROUPE_DEBUG=1 keeps them.

    AutoGen logs a cancelled handler (Ctrl-C, a cap) as a traceback and notes speaker selection, while our
    console and results already say what happened. Their records stop at AutoGen's loggers instead of
    reaching the root logger's (or Python's last-resort) handler. Safe to call more than once.
    """
    if os.environ.get("TROUPE_DEBUG"):
        return
    for name in _AUTOGEN_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(h, logging.NullHandler) for h in logger.handlers):
            logger.addHandler(logging.NullHandler())
        logger.propagate = False


# The libraries under the in-process engine (vLLM, torch, transformers, triton), Python's warnings, and
# OpenTelemetry's SDK (an exporter that cannot reach its collector). Their lines, INFO, WARNING and ERROR
# alike ("Triton is installed, but doesn't include CPU backend"; "Failed to export span batch"), would
# drown the run on the console, and what matters of them we say ourselves. The A2A SDK (and the JSON-RPC
# library under it) logs each malformed request a client sends as a traceback, the client's own text
# (its request id: terminal escapes) in it; the client already has the error in its answer.
_LIBRARY_LOGGERS = (
    "vllm",
    "torch",
    "transformers",
    "huggingface_hub",
    "triton",
    "py.warnings",
    "opentelemetry",
    "a2a",
    "jsonrpc",
)
_KEPT = 1000  # lines kept in memory until the command names its log file (then written there)


_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class _TerminalSafe(logging.Formatter):
    """Lines for a terminal (`--verbose`): what a library logs may quote outside text (a request's, a
    model's), whose control characters are shown as escapes, never acted on."""

    def format(self, record: logging.LogRecord) -> str:
        from .._text import terminal_safe

        return terminal_safe(super().format(record))


class _LibraryLog(logging.Handler):
    """Writes to the file named last (`use`); lines from before any file is named wait in memory."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.setFormatter(logging.Formatter(_FORMAT))
        self.file: logging.FileHandler | None = None
        self.waiting: list[logging.LogRecord] = []

    def use(self, path: Path) -> None:
        """From now on write to `path` (created at the first line), first the lines kept so far."""
        self.acquire()  # the engine's thread may be logging meanwhile (`emit` runs under this lock)
        try:
            if self.file is not None and Path(self.file.baseFilename) == path.resolve():
                return
            self._close_file()
            self.file = logging.FileHandler(path, encoding="utf-8", delay=True)
            self.file.setFormatter(self.formatter)
            waiting, self.waiting = self.waiting, []
            for record in waiting:
                self.file.handle(record)
        finally:
            self.release()

    def emit(self, record: logging.LogRecord) -> None:
        if self.file is not None:
            self.file.handle(record)
        elif len(self.waiting) < _KEPT:
            self.waiting.append(record)

    def _close_file(self) -> None:
        if self.file is not None:
            self.file.close()
            self.file = None

    def end(self) -> None:
        """Close the file: the routing is over. (Not `close`, which `logging.config.dictConfig` calls on
        every handler when a library configures logging, as uvicorn does: this one goes on.)"""
        self._close_file()
        self.close()


_active: _LibraryLog | None = None  # the routing in force (process-wide, as logging is)


@contextlib.contextmanager
def library_logs(*, console: bool = False) -> Iterator[None]:
    """Route the libraries' log lines and Python's warnings off the console while the block runs; into the
    file `library_log_file` names (they wait in memory until then). `console=True` also shows them.

    vLLM configures its own console handler when first imported unless VLLM_CONFIGURE_LOGGING=0, so this
    starts before that import. A nested call (a run inside a command that routes already) uses the outer
    routing.
    """
    global _active
    if _active is not None:
        yield
        return
    os.environ.setdefault("VLLM_CONFIGURE_LOGGING", "0")
    handler = _LibraryLog()
    handlers: list[logging.Handler] = [handler]
    if console:
        shown = logging.StreamHandler(sys.stderr)
        shown.setFormatter(_TerminalSafe(_FORMAT))
        handlers.append(shown)
    saved: list[tuple[logging.Logger, list[logging.Handler], int, bool]] = []
    for name in _LIBRARY_LOGGERS:
        logger = logging.getLogger(name)
        saved.append((logger, list(logger.handlers), logger.level, logger.propagate))
        logger.handlers = list(handlers)  # vLLM's own console handler, if it made one, steps aside
        logger.setLevel(logging.INFO)
        logger.propagate = False
    logging.captureWarnings(True)
    _active = handler
    try:
        yield
    finally:
        _active = None
        logging.captureWarnings(False)
        for logger, old_handlers, level, propagate in saved:
            logger.handlers = old_handlers
            logger.setLevel(level)
            logger.propagate = propagate
        handler.end()


def library_log_file(path: Path) -> bool:
    """Name the file the routed lines go to from now on (and the ones kept so far); False when no routing
    is in force."""
    if _active is None:
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    _active.use(path)
    return True


@contextlib.contextmanager
def engine_logs_to(path: Path, *, console: bool = False) -> Iterator[None]:
    """A run's library log lines into `path`: within the command's routing, its file from now on (lines
    after the run, an exporter's at exit, still land there); without one, routed for the block."""
    if library_log_file(path):
        yield
        return
    with library_logs(console=console):
        library_log_file(path)
        yield
