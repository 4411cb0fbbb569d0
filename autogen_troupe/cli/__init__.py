"""The `troupe` command: one module per command (`run`, `record`, `test`, `check`, `models`, `graph`,
`tapes` for resume and fork, `serve`, `eval`, `mcp`), the tree and how every command runs in `app`, the
options several commands share declared once in `options` (groups such as `ModelFlags`), one error-to-exit
mapping (`errors`), one stop handling (`stop`), and what is drawn on the terminal (`console`, `run_view`,
`eval_view`).

Thin: each command parses its input, calls the library through the rooms' public faces, renders the
result and sets the exit code.
"""

from __future__ import annotations

from .app import app, main

__all__ = ["app", "main"]
