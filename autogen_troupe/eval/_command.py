"""The parts of the `troupe eval` command that are not its options: the command group that makes
`troupe eval SCENARIO ...` mean `troupe eval run SCENARIO ...` beside `troupe eval compare A B`, a bare
`--ray`, and the default results folder."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Any

from typer.core import TyperGroup

__all__ = ["EvalGroup", "default_out", "ray_address"]

_ADDRESS = re.compile(r"^(auto|local|ray://\S+|[\w.\-\[\]]+:\d+)$")


class EvalGroup(TyperGroup):
    """`troupe eval SCENARIO --tasks FILE` runs an eval (the `run` command); `troupe eval compare A B`."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        args = _bare_ray(list(args))
        if args and args[0] not in self.commands and args[0] not in ("--help", "-h"):
            args = ["run", *args]
        return super().parse_args(ctx, args)


def _bare_ray(args: list[str]) -> list[str]:
    """`--ray` with no address after it (the last argument, or followed by something that is not an
    address) means a Ray instance of our own: `--ray=local`."""
    out = list(args)
    for i, a in enumerate(out):
        if a == "--":
            break
        if a == "--ray":
            nxt = out[i + 1] if i + 1 < len(out) else None
            if nxt is None or not _ADDRESS.match(nxt):
                out[i] = "--ray=local"
    return out


def ray_address(value: str | None) -> str | None:
    """The `--ray` value as `evaluate` takes it."""
    return None if value is None else value.strip() or "local"


def default_out(scenario: str) -> Path:
    """troupe-evals/NAME-YYYYmmdd-HHMMSS"""
    return Path("troupe-evals") / f"{scenario}-{dt.datetime.now().strftime('%Y%m%d-%H%M%S')}"
