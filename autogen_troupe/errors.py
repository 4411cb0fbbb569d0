"""Errors of autogen-troupe, split by who has to act.

```
TroupeError
├── ScenarioError        the author of the scenario file (carries located Issues)
├── ProfileError         the person setting up the machine (profiles, endpoints, extras)
│   └── NetworkBlocked   a test tried to call an endpoint off this machine (pytest, no --troupe-live)
└── RunError             something went wrong while the team ran
    ├── ModelCallError   the model endpoint or engine failed
    │   ├── ContentBlocked   a gateway's moderation refused the text
    │   └── EngineError      the in-process engine cannot start in this environment
    ├── ToolCallError    an MCP server or Python tool failed
    └── ReplayMismatch   a replayed request differs from the recorded one
```

Every error keeps its data as attributes and survives pickling.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "ContentBlocked",
    "EngineError",
    "Issue",
    "ModelCallError",
    "NetworkBlocked",
    "ProfileError",
    "ReplayMismatch",
    "RunError",
    "ScenarioError",
    "ToolCallError",
    "TroupeError",
]


class TroupeError(Exception):
    """Root of every error this package raises on purpose."""


@dataclass(frozen=True)
class Issue:
    """One problem in a scenario file; line and column are 1-based, as editors show them."""

    path: Path | str
    line: int
    column: int
    message: str
    field: str = ""

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}:{self.column}"
        return f"{where}: {self.field}: {self.message}" if self.field else f"{where}: {self.message}"


class ScenarioError(TroupeError):
    """A scenario file is wrong; `issues` lists every problem found, located."""

    def __init__(self, issues: Sequence[Issue]) -> None:
        self.issues = tuple(issues)
        super().__init__("\n".join(map(str, self.issues)))

    def __reduce__(self):  # type: ignore[override]
        return type(self), (self.issues,)


class ProfileError(TroupeError):
    """A model profile, endpoint setting or optional install is missing or wrong."""


class NetworkBlocked(ProfileError):
    """Inside tests, a model endpoint or MCP server off this machine was about to be called without
    `--troupe-live`."""


class RunError(TroupeError):
    """A run failed after it started."""


class ModelCallError(RunError):
    """The model endpoint or engine failed, after any safe retries."""


class ContentBlocked(ModelCallError):
    """A gateway's content moderation refused the request or the answer (GenStudio `"blocked": true`)."""


class EngineError(ModelCallError):
    """The in-process vLLM engine cannot start in this environment (a broken install, not bad input)."""


class ToolCallError(RunError):
    """An MCP server or Python tool could not be started or failed outside the model's reach."""


class ReplayMismatch(RunError):
    """A request made during replay matches nothing recorded in the cassette."""

    def __init__(self, cassette: str, index: int, diff: str) -> None:
        self.cassette = cassette
        self.index = index
        self.diff = diff
        super().__init__(f"{cassette}: request {index} matches no recorded request:\n{diff}")

    def __reduce__(self):  # type: ignore[override]
        return type(self), (self.cassette, self.index, self.diff)
