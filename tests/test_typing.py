"""The package type-checks clean under mypy as configured in pyproject.toml (`[tool.mypy]`), and what it
exports is seen with real types, not `Any`, through the lazy re-exports.

mypy runs as a child process from the project root, so its cache (`.mypy_cache`) makes a second run take
seconds; the first, with an empty cache, takes a minute or two. Deselect with `-m "not typecheck"`.
"""

from __future__ import annotations

import importlib
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.typecheck

ROOT = Path(__file__).resolve().parents[1]
ROOMS = ("", ".scenario", ".models", ".tools", ".agents", ".runtime", ".testing")


def mypy(*args: str) -> subprocess.CompletedProcess[str]:
    """`mypy ARGS` with the project's configuration; the timeout only bounds a hang."""
    return subprocess.run(
        [sys.executable, "-m", "mypy", *args], cwd=ROOT, capture_output=True, text=True, timeout=900
    )


def test_the_package_type_checks_clean() -> None:
    proc = mypy()  # the files, plugins and strictness come from [tool.mypy]
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Success: no issues found" in proc.stdout


def test_every_exported_name_has_a_real_type(tmp_path: Path) -> None:
    """Each room's `__getattr__` would make a name mypy cannot find `Any`; the TYPE_CHECKING imports beside
    the lazy exports must name every one."""
    names = [
        f"autogen_troupe{room}.{name}"
        for room in ROOMS
        for name in importlib.import_module(f"autogen_troupe{room}").__all__
    ]
    probe = tmp_path / "probe.py"
    imports = "".join(f"import autogen_troupe{room}\n" for room in ROOMS)
    probe.write_text(imports + "".join(f"reveal_type({n})\n" for n in names), encoding="utf-8")
    proc = mypy(str(probe))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    revealed = re.findall(r'^.*probe\.py:(\d+): note: Revealed type is "(.*)"$', proc.stdout, re.M)
    assert len(revealed) == len(names), proc.stdout
    lines = imports.count("\n")
    untyped = [names[int(line) - lines - 1] for line, t in revealed if t == "Any"]
    assert not untyped, f"seen as Any by type checkers: {untyped}"


def test_bounded_numbers_are_their_number_type_to_mypy(tmp_path: Path) -> None:
    """`Count`, `Seconds`... are `Annotated` aliases: mypy sees an int or a float, and the pydantic plugin
    checks constructor arguments against it."""
    probe = tmp_path / "probe.py"
    probe.write_text(
        "from autogen_troupe.scenario import Limits\n"
        "reveal_type(Limits().max_messages)\n"
        "reveal_type(Limits().timeout_s)\n"
        'Limits(max_messages="many")\n',
        encoding="utf-8",
    )
    proc = mypy(str(probe))
    assert re.search(r'probe\.py:2: note: Revealed type is "(builtins\.)?int"', proc.stdout), proc.stdout
    assert re.search(r'probe\.py:3: note: Revealed type is "(builtins\.)?float"', proc.stdout), proc.stdout
    wrong = r'probe\.py:4: error: Argument "max_messages" to "Limits" has incompatible type "str"'
    assert re.search(wrong, proc.stdout), proc.stdout
    assert proc.returncode == 1
