"""The documentation site builds strictly (a broken link or anchor fails), its reference pages are generated
from the code and leave nothing out, and the README's links lead to files that exist."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import typer

from autogen_troupe.cli import app
from autogen_troupe.scenario import Scenario

ROOT = Path(__file__).resolve().parents[1]


def _build(project: Path, out: Path) -> subprocess.CompletedProcess[str]:
    """`mkdocs build --strict` of the project folder `project` into `out`, as CI runs it."""
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1", "PYTHONPATH": str(ROOT)}
    config = str(project / "mkdocs.yml")
    return subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-f", config, "--site-dir", str(out)],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    try:
        import material  # noqa: F401
        import mkdocs  # noqa: F401
    except ImportError:
        if os.environ.get("CI"):
            pytest.fail("mkdocs or mkdocs-material is missing in CI: the [dev] extra installs them")
        pytest.skip("the site needs `pip install -e '.[docs]'`")
    out = tmp_path_factory.mktemp("site")
    done = _build(ROOT, out)
    assert done.returncode == 0, done.stdout + done.stderr
    yield out


def _page(site: Path, name: str) -> str:
    return (site / name / "index.html").read_text(encoding="utf-8")


def test_every_key_of_the_schema_is_in_the_scenario_reference(site: Path) -> None:
    html = _page(site, "reference/scenario")
    schema = Scenario.model_json_schema()
    objects = {"Scenario": schema, **schema["$defs"]}
    for name, node in objects.items():
        assert f'id="{name.lower()}"' in html, f"no section for {name}"
        branches = [node, *node.get("anyOf", []), *node.get("oneOf", [])]
        for key in (k for b in branches for k in b.get("properties", {})):
            assert f"<code>{key}</code>" in html, f"{name}.{key} is missing"


def _commands(command: Any, path: list[str]) -> Iterator[tuple[list[str], Any]]:
    yield path, command
    for name, sub in getattr(command, "commands", {}).items():
        yield from _commands(sub, [*path, name])


def test_every_command_and_option_is_in_the_cli_reference(site: Path) -> None:
    html = _page(site, "reference/cli")
    count = 0
    for path, command in _commands(typer.main.get_command(app), ["troupe"]):
        assert f'id="{"-".join(path)}"' in html, f"no section for {' '.join(path)}"
        section = html.split(f'id="{"-".join(path)}"', 1)[1].split("<h2", 1)[0]
        for param in command.params:
            for opt in param.opts if param.param_type_name == "option" else []:
                assert opt in section, f"{' '.join(path)} {opt} is missing"
                count += 1
    assert count > 50  # the walk reached the options of every command


def test_the_benchmarks_page_is_the_readme_beside_the_scripts(site: Path) -> None:
    html = _page(site, "benchmarks")
    for script in sorted((ROOT / "benchmarks").glob("[!_]*.py")):
        assert f"python benchmarks/{script.name}" in html, f"{script.name} has no section"


def test_a_broken_anchor_fails_the_build(tmp_path: Path) -> None:
    pytest.importorskip("mkdocs")
    project = tmp_path / "project"
    project.mkdir()
    shutil.copy(ROOT / "mkdocs.yml", project)
    shutil.copytree(ROOT / "docs", project / "docs")
    shutil.copytree(ROOT / "benchmarks", project / "benchmarks")
    index = project / "docs" / "index.md"
    index.write_text(index.read_text() + "\n[gone](reference/cli.md#troupe-no-such-command)\n")
    done = _build(project, tmp_path / "out")
    assert done.returncode != 0
    assert "troupe-no-such-command" in done.stdout + done.stderr


def test_the_readme_links_lead_to_files(tmp_path: Path) -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    links = re.findall(r"\]\(([^)#\s]+)[^)]*\)", readme)
    local = [link for link in links if "://" not in link]
    assert len(local) > 10
    missing = [link for link in local if not (ROOT / link).exists()]
    assert not missing, f"README.md links to files that do not exist: {missing}"
