"""What other libraries may log to our terminal (kept apart from the console view, which imports more)."""

from __future__ import annotations

import contextlib
import logging
import os
import sys
from collections.abc import Iterator
from pathlib import Path

__all__ = ["engine_logs_to", "quiet_autogen_logs"]

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


# The libraries under the in-process engine: vLLM, torch, transformers and Python's warnings. Their start-up
# lines (INFO, WARNING and ERROR alike: "Triton is installed, but doesn't include CPU backend") would drown
# the run on the console.
_ENGINE_LOGGERS = ("vllm", "torch", "transformers", "huggingface_hub", "py.warnings")


@contextlib.contextmanager
def engine_logs_to(path: Path, *, console: bool = False) -> Iterator[None]:
    """Send the engine libraries' log lines to `path` (created at the first line) while the block runs;
    `console=True` (`--verbose`) shows them on stderr too.

    Process-wide, as logging is: the CLI uses it around its one run. vLLM configures its own console
    handler when first imported unless VLLM_CONFIGURE_LOGGING=0, so this must start before that import.
    """
    os.environ.setdefault("VLLM_CONFIGURE_LOGGING", "0")
    handler = logging.FileHandler(path, encoding="utf-8", delay=True)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handlers: list[logging.Handler] = [handler]
    if console:
        handlers.append(logging.StreamHandler(sys.stderr))
    saved: list[tuple[logging.Logger, list[logging.Handler], int, bool]] = []
    for name in _ENGINE_LOGGERS:
        logger = logging.getLogger(name)
        saved.append((logger, list(logger.handlers), logger.level, logger.propagate))
        logger.handlers = list(handlers)  # vLLM's own console handler, if it made one, steps aside
        logger.setLevel(logging.INFO)
        logger.propagate = False
    logging.captureWarnings(True)
    try:
        yield
    finally:
        logging.captureWarnings(False)
        for logger, old_handlers, level, propagate in saved:
            logger.handlers = old_handlers
            logger.setLevel(level)
            logger.propagate = propagate
        handler.close()
