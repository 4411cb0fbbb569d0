"""The user's profile file (`$TROUPE_PROFILES`, else `~/.config/troupe/profiles.yaml`): read bounded and
located, its variables left for resolving to expand."""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ..errors import ProfileError
from ..scenario._files import PROFILES_MAX_BYTES, FileProblem, compose_yaml, read_text
from ..scenario._located import read_located
from ._presets import PRESETS

__all__ = ["UserFile", "available_profiles", "read_user_file", "user_profiles_path"]


def user_profiles_path(env: Mapping[str, str] | None = None) -> Path | None:
    """Where the user's profile file is: $TROUPE_PROFILES, else the platform's config folder.

    With a custom `env` mapping that names no home folder there is no default file, which keeps tests
    away from the developer's own profiles. A missing file simply means no user profiles.
    """
    env = os.environ if env is None else env
    if env.get("TROUPE_PROFILES"):
        return Path(env["TROUPE_PROFILES"]).expanduser()
    if sys.platform == "win32" and env.get("APPDATA"):
        return Path(env["APPDATA"]) / "troupe" / "profiles.yaml"
    xdg = env.get("XDG_CONFIG_HOME")
    if xdg and Path(xdg).is_absolute():
        return Path(xdg) / "troupe" / "profiles.yaml"
    home = env.get("HOME") or env.get("USERPROFILE")
    return Path(home) / ".config" / "troupe" / "profiles.yaml" if home else None


Loc = tuple[str | int, ...]


@dataclass
class UserFile:
    """The profile file as raw data (no variables expanded yet) plus where each key and value sits."""

    path: Path | None
    data: dict[str, Any] = field(default_factory=dict)
    marks: dict[Loc, tuple[int, int]] = field(default_factory=dict)

    def where(self, *loc: str | int) -> str:
        """`file:line:col` of the deepest known key along `loc`."""
        for n in range(len(loc), 0, -1):
            if (pos := self.marks.get(tuple(loc[:n]))) is not None:
                return f"{self.path}:{pos[0]}:{pos[1]}"
        return str(self.path)


def read_user_file(path: Path | None) -> UserFile:
    if path is None or not os.path.lexists(path):
        return UserFile(path)  # no file: no user profiles
    try:
        root = compose_yaml(read_text(path, limit=PROFILES_MAX_BYTES, what="profile file"), path)
    except FileProblem as e:
        raise ProfileError(str(e)) from None
    out = UserFile(path)
    if root is None:
        return out
    if not isinstance(root, yaml.MappingNode):
        raise ProfileError(f"{path}:1:1: a profile file maps profile names to settings (a YAML mapping)")
    data, located = read_located(root, path)  # variables are expanded when a profile is used
    if located.issues:
        first = located.issues[0]
        raise ProfileError(f"{first.path}:{first.line}:{first.column}: {first.message}")
    out.data = data
    out.marks = {loc: (m.line + 1, m.column + 1) for loc, m in located.key_marks.items()}
    return out


def available_profiles(
    *, env: Mapping[str, str] | None = None, profiles_path: Path | None = None
) -> dict[str, str]:
    """Every profile name with where it comes from ("built-in: ..." or the file's path), for the CLI."""
    out = {name: f"built-in: {p.about}" for name, p in PRESETS.items()}
    user = read_user_file(profiles_path or user_profiles_path(env))
    for name in user.data:
        out[str(name)] = str(user.path)
    return out
