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

__all__ = ["UserFile", "available_profiles", "pin_settings", "read_user_file", "user_profiles_path"]


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


def pin_settings(path: Path, name: str, settings: Mapping[str, Any], *, new: Mapping[str, Any]) -> None:
    """Write `settings` (top-level keys of a profile, e.g. `capabilities`) into profile `name` of the
    profile file at `path`, keeping the rest of the file as written (comments too).

    A profile the file holds as a block mapping gets each key replaced or added at its end; a profile the
    file does not hold is appended, made of `new` (what it builds on) and `settings`. A profile written
    in flow style (`name: {...}`) is refused: rewriting it would lose what the user wrote.
    """
    text = read_text(path, limit=PROFILES_MAX_BYTES, what="profile file") if path.exists() else ""
    try:
        root = compose_yaml(text, path) if text.strip() else None
    except FileProblem as e:
        raise ProfileError(str(e)) from None
    if root is not None and not isinstance(root, yaml.MappingNode):
        raise ProfileError(f"{path}:1:1: a profile file maps profile names to settings (a YAML mapping)")
    entry = next((v for k, v in (root.value if root else []) if k.value == name), None)
    lines = text.splitlines(keepends=True)
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += "\n"
    if entry is None:
        block = yaml.safe_dump({name: {**new, **settings}}, sort_keys=False, default_flow_style=False)
        lines.append(("\n" if lines else "") + block)
    elif isinstance(entry, yaml.MappingNode) and not entry.flow_style and entry.value:
        indent = entry.value[0][0].start_mark.column
        for key in settings:  # drop the lines of keys written anew, last first so line numbers hold
            found = [(k, v) for k, v in entry.value if k.value == key]
            for k, v in reversed(found):
                del lines[k.start_mark.line : _after(v, lines)]
        head, entry = _entry(compose_yaml("".join(lines), path), name)
        block = yaml.safe_dump(dict(settings), sort_keys=False, default_flow_style=False)
        # after its last value; a profile left empty (it held only these keys) right after its name
        at = (
            _after(entry.value[-1][1], lines)
            if isinstance(entry, yaml.MappingNode)
            else head.start_mark.line + 1
        )
        lines[at:at] = [" " * indent + line + "\n" for line in block.splitlines()]
    else:
        where = f"{path}:{entry.start_mark.line + 1}:{entry.start_mark.column + 1}"
        raise ProfileError(
            f"{where}: profile {name!r} is not written as a block mapping; add the settings by hand"
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(lines), encoding="utf-8")


def _entry(root: yaml.Node | None, name: str) -> tuple[yaml.Node, yaml.Node]:
    pairs = root.value if isinstance(root, yaml.MappingNode) else []
    return next((k, v) for k, v in pairs if k.value == name)


def _after(value: yaml.Node, lines: list[str]) -> int:
    """The first line after `value`: a block value ends where the next key starts (its end mark sits
    before that key on its line), a scalar on its own line."""
    line, column = value.end_mark.line, value.end_mark.column
    before = lines[line][:column] if line < len(lines) else ""
    return int(line if not before.strip() else line + 1)
