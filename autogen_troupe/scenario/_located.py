"""Located YAML: plain data from a node tree of `compose_yaml`, with where each key and value sits, and
`${VAR}` expansion. Scenario files and the user's profile file are both read through it.

A problem met on the way (a key that is not a plain string, a key given twice, a scalar that is not what
it looks like, an unset variable) is collected as a located `Issue`, so that a file gets every problem
at once; the caller decides how to report them.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import yaml

from .._text import first_lone_surrogate
from ..errors import Issue
from ._files import FileProblem, yaml_scalar

__all__ = ["ENV_VAR", "LONE_SURROGATE", "Loc", "Located", "dotted", "expand_env", "read_located"]

LONE_SURROGATE = (
    "this is not text: it holds a lone surrogate (a \\ud800 to \\udfff escape, half of a character), "
    "which cannot be written as UTF-8; write the character itself"
)
"""Why a string is refused at the door (see `_text`): the wording every reader of a user's file uses."""

ENV_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-(.*?))?\}")
"""`${VAR}` or `${VAR:-default}`: group 1 is the name, group 2 the default (None when there is none)."""

Loc = tuple[str | int, ...]


@dataclass
class Located:
    """Where each key and value of the data sits, by path, and the problems met while reading."""

    value_marks: dict[Loc, yaml.Mark] = field(default_factory=dict)
    key_marks: dict[Loc, yaml.Mark] = field(default_factory=dict)
    issues: list[Issue] = field(default_factory=list)


def expand_env(text: str, env: Mapping[str, str] | None = None) -> str:
    """Expand `${VAR}` and `${VAR:-default}`; an unset variable without default raises KeyError."""
    env = os.environ if env is None else env

    def sub(m: re.Match[str]) -> str:
        name, default = m.group(1), m.group(2)
        value = env.get(name)
        if value is None or (value == "" and default is not None):
            if default is None:
                raise KeyError(name)
            return default
        return value

    return ENV_VAR.sub(sub, text)


def dotted(loc: Loc) -> str:
    """A path as a reader writes it: `team.agents[0].name`."""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def read_located(
    root: yaml.Node, path: Path | str, *, env: Mapping[str, str] | None = None
) -> tuple[Any, Located]:
    """The data under `root`, and where it sits. With `env`, `${VAR}` in string values is expanded from
    it; without, values stay as written (the profile file expands them when a profile is used)."""
    located = Located()
    return _Walk(path, env, located).node(root, ()), located


class _Walk:
    def __init__(self, path: Path | str, env: Mapping[str, str] | None, located: Located) -> None:
        self.path, self.env, self.located = path, env, located

    def node(self, node: yaml.Node, loc: Loc) -> Any:
        self.located.value_marks[loc] = node.start_mark
        if isinstance(node, yaml.MappingNode):
            out: dict[Any, Any] = {}
            for key_node, value_node in node.value:
                key = self.scalar(key_node, loc) if isinstance(key_node, yaml.ScalarNode) else None
                if isinstance(key, str) and first_lone_surrogate(key) is not None:
                    self.issue(key_node.start_mark, f"a key: {LONE_SURROGATE}", loc)
                    continue
                if not isinstance(key, str | int) or isinstance(key, bool):
                    self.issue(key_node.start_mark, "keys must be plain strings", loc)
                    continue
                if key in out:
                    self.issue(key_node.start_mark, f"key {key!r} appears twice", (*loc, key))
                key_loc = (*loc, key)  # named: mypy takes `[(*loc, key)]` for 3.11's `[*loc, key]`
                self.located.key_marks[key_loc] = key_node.start_mark
                out[key] = self.node(value_node, key_loc)
            return out
        if isinstance(node, yaml.SequenceNode):
            return [self.node(n, (*loc, i)) for i, n in enumerate(node.value)]
        value = self.scalar(cast(yaml.ScalarNode, node), loc)  # the composer makes no other kind
        if self.env is not None and isinstance(value, str) and "${" in value:
            try:
                value = expand_env(value, self.env)
            except KeyError as e:
                message = f"environment variable {e.args[0]} is not set (use ${{VAR:-default}})"
                self.issue(node.start_mark, message, loc)
        if isinstance(value, str) and first_lone_surrogate(value) is not None:  # an escape, or ${VAR}'s value
            self.issue(node.start_mark, LONE_SURROGATE, loc)
            return None
        return value

    def scalar(self, node: yaml.ScalarNode, loc: Loc) -> Any:
        try:
            return yaml_scalar(node, self.path)
        except FileProblem as e:
            self.located.issues.append(Issue(self.path, e.line, e.column, e.message, dotted(loc)))
            return None

    def issue(self, mark: yaml.Mark, message: str, loc: Loc) -> None:
        self.located.issues.append(Issue(self.path, mark.line + 1, mark.column + 1, message, dotted(loc)))
