"""What other libraries may log to our terminal (kept apart from the console view, which imports more)."""

from __future__ import annotations

import logging
import os

__all__ = ["quiet_autogen_logs"]

_AUTOGEN_LOGGERS = ("autogen_core", "autogen_agentchat")


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
