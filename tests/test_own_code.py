"""Our own servers and local code: the retrieval server stays inside --docs, an MCP command that cannot be
executed says why, and `troupe check` shows which Python code a run would import, without importing it."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest
from test_retrieval import NEPAL, FakeAios, make_index

from autogen_troupe.errors import ToolCallError
from autogen_troupe.mcp_servers.retrieval._index import _read_inside
from autogen_troupe.scenario._schema import StdioServer
from autogen_troupe.tools import McpServerPool
from autogen_troupe.tools import examples as examples_module

MARKER = "zebra-marmalade-outside"  # text that lives only outside the documents folder

# --------------------------------------------------------------------------- retrieval stays inside --docs


@pytest.fixture
def aios():
    srv = FakeAios()
    yield srv
    srv.close()


def test_retrieval_never_reads_through_links_that_leave_the_folder(aios: FakeAios, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "private.md").write_text(f"# Private\n\n{MARKER} and more private words.\n")
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "nepal.md").write_text(NEPAL)
    (docs / "passwd.txt").symlink_to("/etc/passwd")
    (docs / "private.md").symlink_to(outside / "private.md")
    (docs / "relative.md").symlink_to(Path("..") / "outside" / "private.md")
    (docs / "folder").symlink_to(outside, target_is_directory=True)
    (docs / "again.md").symlink_to(docs / "nepal.md")  # a link that stays inside is fine
    os.mkfifo(docs / "pipe.md")  # reading it would wait forever

    index = make_index(docs, aios, tmp_path)
    done: list[object] = []
    worker = threading.Thread(target=lambda: done.append(index.refresh()), daemon=True)
    worker.start()
    worker.join(60)
    assert done, "refresh hung (on the FIFO?)"

    assert sorted({c.source for c in index.chunks}) == ["again.md", "nepal.md"]
    sent = "".join(str(h.body) for h in aios.hits)
    assert MARKER not in sent and "root:" not in sent  # nothing outside reached the embedding endpoint
    assert all(MARKER not in p.text for p in index.search("private words zebra", top_k=10))


def test_a_file_swapped_for_an_outside_link_after_the_scan_is_not_read(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (tmp_path / "private.md").write_text(MARKER)
    (docs / "a.md").write_text("inside")
    assert _read_inside(docs / "a.md", docs.resolve()) == b"inside"
    (docs / "a.md").unlink()
    (docs / "a.md").symlink_to(tmp_path / "private.md")
    with pytest.raises(OSError):
        _read_inside(docs / "a.md", docs.resolve())


# --------------------------------------------------------------------------- MCP commands that cannot run


async def _start(server: StdioServer) -> str:
    with pytest.raises(ToolCallError) as info:
        async with McpServerPool({"local": server}):
            pass
    return str(info.value)


async def test_a_command_that_is_not_executable_says_so(tmp_path: Path) -> None:
    script = tmp_path / "server.sh"
    script.write_text("#!/bin/sh\nexit 0\n")
    script.chmod(0o644)
    message = await _start(StdioServer(command=str(script)))
    assert f"command {str(script)!r} is not executable; make it executable (chmod +x {script})" in message
    assert "was not found" not in message

    relative = await _start(StdioServer(command="./server.sh", cwd=str(tmp_path)))
    assert f"command './server.sh' ({tmp_path / 'server.sh'}) is not executable" in relative


async def test_a_command_on_path_that_is_not_executable_says_so(tmp_path: Path) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "troupe-test-server").write_text("#!/bin/sh\nexit 0\n")
    (bin_dir / "troupe-test-server").chmod(0o600)
    server = StdioServer(command="troupe-test-server", env={"PATH": str(bin_dir)})
    message = await _start(server)
    assert f"({bin_dir / 'troupe-test-server'}) is not executable" in message


async def test_a_folder_as_command_and_a_missing_one(tmp_path: Path) -> None:
    (tmp_path / "srv").mkdir()
    assert "is a folder, not a program" in await _start(StdioServer(command=str(tmp_path / "srv")))
    assert f"command {str(tmp_path / 'nope')!r} was not found" in await _start(
        StdioServer(command=str(tmp_path / "nope"))
    )


# --------------------------------------------------------------------------- `troupe check` lists local code


def test_check_lists_the_python_tools_a_run_would_import_without_importing_them(tmp_path: Path) -> None:
    imported = tmp_path / "imported.txt"
    effect = f"open({str(imported)!r}, 'a').write(__name__ + '\\n')\n"
    (tmp_path / "tools.py").write_text(
        effect + "def add(a: int, b: int) -> int:\n    '''Add.'''\n    return a + b\n"
    )
    pkg = tmp_path / "deskpkg"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text(effect)
    (pkg / "sub" / "__init__.py").write_text(effect)
    (pkg / "sub" / "prices.py").write_text(
        effect + "def price(x: str) -> str:\n    '''Price.'''\n    return x\n"
    )
    path = tmp_path / "desk.yaml"
    path.write_text(
        textwrap.dedent(
            """
            name: desk
            task: go
            team:
              kind: round_robin
              agents:
                - {name: a, tools: ["tools:add", "deskpkg.sub.prices:price"]}
                - name: b
                  tools: ["tools:add", "no_such_module_xyz:f", "autogen_troupe.tools.examples:trip_budget"]
            """
        ).lstrip()
    )
    other = tmp_path / "plain.yaml"
    other.write_text("name: plain\ntask: go\nteam: {kind: single, agents: [{name: a}]}\n")
    done = subprocess.run(
        [sys.executable, "-m", "autogen_troupe.cli", "check", str(path), str(other)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    assert not imported.exists(), imported.read_text()  # nothing was imported, so nothing ran
    lines = [line.strip() for line in done.stdout.splitlines()]
    examples = Path(examples_module.__file__)  # never under tmp_path
    installed = " (installed)" if "site-packages" in examples.parts else ""
    assert lines == [
        f"ok  {path}",
        "python tools (imported, so their code runs, whenever it runs or replays):",
        "tools:add -> tools.py (beside the scenario)",
        f"deskpkg.sub.prices:price -> {Path('deskpkg', 'sub', 'prices.py')} (beside the scenario)",
        "no_such_module_xyz:f -> module 'no_such_module_xyz' not found (the run would fail to import it)",
        f"autogen_troupe.tools.examples:trip_budget -> {examples}{installed}",
        f"ok  {other}",
    ]
