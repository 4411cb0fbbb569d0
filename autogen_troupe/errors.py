"""Errors of autogen-troupe, split by who has to act.

```
TroupeError
├── ScenarioError        the author of the scenario file (carries located Issues)        exit 2
│   ├── ToolConfigError  a tool it names cannot be loaded (import, signature, name)
│   └── CassetteMissing  a replay was asked for and there is no cassette
├── ProfileError         the person setting up the machine (profiles, endpoints, extras)  exit 2
│   └── NetworkBlocked   a test tried to call an endpoint off this machine (pytest, no --troupe-live)
├── UsageError           a program called the library in a way that cannot work          exit 2
└── RunError             something went wrong while the team ran                          exit 1
    ├── ModelCallError   the model endpoint or engine failed
    │   ├── ContentBlocked   a gateway's moderation refused the text
    │   ├── StructuredOutputError  an answer broke the agent's output_schema, also after one repair
    │   └── EngineError      the in-process engine cannot start in this environment
    ├── ToolCallError    an MCP server or Python tool failed
    │   ├── McpAuthError     an MCP server wants a login we do not have, or OAuth failed
    │   └── RetrievalError   our retrieval server could not index or search
    ├── RemoteAgentError a remote A2A agent (`kind: a2a`) failed
    │   ├── RemoteAgentUnreachable  no answer: connection refused, unknown host, timed out
    │   ├── RemoteAgentRefused      it answered with an error: 401/403, a JSON-RPC error, a failed task
    │   └── RemoteAgentBadAnswer    what it answered is not an A2A card or answer we can read
    └── ReplayMismatch   a replayed request differs from the recorded one
```

The CLI maps exit codes by class alone (`exit_code_for`). Every error keeps its data as attributes and
survives pickling.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = [
    "CassetteMissing",
    "ContentBlocked",
    "EngineError",
    "InvalidModelRequest",
    "Issue",
    "McpAuthError",
    "ModelCallError",
    "NetworkBlocked",
    "ProfileError",
    "RecordingNotWritten",
    "RemoteAgentBadAnswer",
    "RemoteAgentError",
    "RemoteAgentRefused",
    "RemoteAgentUnreachable",
    "ReplayIncomplete",
    "ReplayMismatch",
    "RetrievalError",
    "RunError",
    "ScenarioError",
    "StructuredOutputError",
    "ToolCallError",
    "ToolConfigError",
    "ToolLoadError",
    "TroupeError",
    "UsageError",
    "exit_code_for",
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

    def __reduce__(self) -> tuple[Any, ...]:
        return type(self), (self.issues,)


class ToolConfigError(ScenarioError):
    """A tool the scenario names cannot be loaded: its import fails, it has no docstring, its name clashes.

    Raised before the first model call; `ref` is the tool as the scenario names it.
    """

    def __init__(self, ref: str, reason: str, issues: Sequence[Issue] = ()) -> None:
        self.ref = ref
        self.reason = reason
        TroupeError.__init__(self, f"python tool {ref!r}: {reason}")
        self.issues = tuple(issues)

    def __str__(self) -> str:
        return str(self.args[0])

    def __reduce__(self) -> tuple[Any, ...]:
        return type(self), (self.ref, self.reason, self.issues)


ToolLoadError = ToolConfigError  # its name before 0.2


class CassetteMissing(ScenarioError):
    """A replay was asked for (`troupe test`, the pytest plugin) and the scenario has no cassette."""

    def __init__(self, cassette: Path | None) -> None:
        self.cassette = cassette
        where = f"at {cassette}" if cassette is not None else "given"
        TroupeError.__init__(
            self,
            f"no cassette {where}; record one with --troupe-record=new (pytest), `troupe record SCENARIO` "
            "or `troupe test --update` (these call the real model), or allow live runs with --troupe-live",
        )
        self.issues = ()

    def __str__(self) -> str:
        return str(self.args[0])

    def __reduce__(self) -> tuple[Any, ...]:
        return type(self), (self.cassette,)


class ProfileError(TroupeError):
    """A model profile, endpoint setting or optional install is missing or wrong."""


class NetworkBlocked(ProfileError):
    """Inside tests, a model endpoint or MCP server off this machine was about to be called without
    `--troupe-live`."""


class UsageError(TroupeError):
    """A program called the library in a way that cannot work; the calling code has to change."""


class InvalidModelRequest(UsageError, ValueError):
    """A model call whose arguments cannot work together: an unknown create argument, tools for a model
    without a tool parser, a `tool_choice` naming no given tool, images for a model without vision. Also a
    ValueError, which is what AutoGen's own clients raise for such calls."""


class RunError(TroupeError):
    """A run failed after it started."""


class ModelCallError(RunError):
    """The model endpoint or engine failed, after any safe retries."""


class ContentBlocked(ModelCallError):
    """A gateway's content moderation refused the request or the answer (GenStudio `"blocked": true`)."""


class StructuredOutputError(ModelCallError):
    """An agent's answer did not follow its `output_schema`, and neither did the one repair asked for (on
    an endpoint that cannot decode under a schema). `field` is where the answer went wrong (dotted)."""

    def __init__(self, agent: str, field: str, reason: str) -> None:
        self.agent = agent
        self.field = field
        self.reason = reason
        super().__init__(
            f"agent {agent!r} did not answer under its output_schema, also after one repair: "
            f"{field}: {reason}"
        )

    def __reduce__(self) -> tuple[Any, ...]:
        return type(self), (self.agent, self.field, self.reason)


class EngineError(ModelCallError):
    """The in-process vLLM engine cannot start in this environment (a broken install, not bad input)."""


class ToolCallError(RunError):
    """An MCP server or Python tool could not be started or failed outside the model's reach."""


class McpAuthError(ToolCallError):
    """An HTTP MCP server needs OAuth: no login is stored and nobody can log in now, or the flow failed.

    The message says which `troupe mcp login` to run, or what the authorization server answered; `what`
    is that part alone, completing "MCP server 'NAME' ...".
    """

    def __init__(self, server: str, what: str) -> None:
        self.server = server
        self.what = what
        super().__init__(f"MCP server {server!r} {what}")

    def __reduce__(self) -> tuple[Any, ...]:
        return type(self), (self.server, self.what)


class RetrievalError(ToolCallError):
    """Our retrieval server could not index or search: a bad folder, an endpoint that refused, no model."""


class RemoteAgentError(RunError):
    """A remote A2A agent of the team failed; `agent` is its name in the scenario, `url` where it is,
    `what` the rest of the message."""

    def __init__(self, agent: str, url: str, what: str) -> None:
        self.agent = agent
        self.url = url
        self.what = what
        super().__init__(f"A2A agent {agent!r} at {url} {what}")

    def __reduce__(self) -> tuple[Any, ...]:
        return type(self), (self.agent, self.url, self.what)


class RemoteAgentUnreachable(RemoteAgentError):
    """The remote agent did not answer: nothing listens there, the host is unknown, or it took too long."""


class RemoteAgentRefused(RemoteAgentError):
    """The remote agent answered with an error: it wants a token, refused the request, or its task failed."""


class RemoteAgentBadAnswer(RemoteAgentError):
    """The remote agent answered something that is not an A2A agent card or answer we can read."""


class ReplayMismatch(RunError):
    """A request made during replay matches nothing recorded in the cassette."""

    def __init__(self, cassette: str, index: int, diff: str) -> None:
        self.cassette = cassette
        self.index = index
        self.diff = diff
        super().__init__(f"{cassette}: request {index} matches no recorded request:\n{diff}")

    def __reduce__(self) -> tuple[Any, ...]:
        return type(self), (self.cassette, self.index, self.diff)


class ReplayIncomplete(RunError):
    """A strict replay ended before every recorded call was made: the scenario changed since recording."""

    def __init__(self, cassette: str, unplayed: tuple[str, ...]) -> None:
        self.cassette = cassette
        self.unplayed = tuple(unplayed)
        super().__init__(
            f"the run ended before {len(self.unplayed)} recorded call(s) of {cassette} were made (the "
            "scenario changed; record it again if that is intended):\n"
            + "\n".join("  " + u for u in self.unplayed)
        )

    def __reduce__(self) -> tuple[Any, ...]:
        return type(self), (self.cassette, self.unplayed)


class RecordingNotWritten(RunError):
    """A recorded run would not replay the same way (it failed, or a clock stopped it): no cassette."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(f"no cassette was written: {reason}")

    def __reduce__(self) -> tuple[Any, ...]:
        return type(self), (self.reason,)


def exit_code_for(error: BaseException) -> int:
    """The CLI's exit code for an error, by its class: 2 for bad input, 1 for a failed run."""
    if isinstance(error, ScenarioError | ProfileError | UsageError):
        return 2
    return 1
