"""`troupe serve` as a command: it prints its URL, serves, stops on Ctrl-C, refuses what is unsafe or
broken with exit 2, and starts without loading AutoGen (the team's libraries come with the first run)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx2
import pytest
from helpers import cli, write
from test_startup_imports import ENGINE_LIBRARIES, PROBE


class Command:
    """`troupe serve ...` as a process of its own, with the PROBE reporting its modules at exit."""

    def __init__(self, tmp_path: Path, *args: str, env: dict[str, str] | None = None) -> None:
        self.report = tmp_path / "modules.json"
        self.proc = subprocess.Popen(
            [sys.executable, "-c", PROBE, "serve", "--port", "0", "--out", str(tmp_path / "runs"), *args],
            cwd=tmp_path,
            env={**os.environ, "MODULES_REPORT": str(self.report), **(env or {})},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout is not None
        self.first = self.proc.stdout.readline()  # blocks until it listens (or dies)
        self.url = self.first.split()[2] if self.first.startswith("troupe serve: ") else ""

    def stop(self) -> tuple[int, str, set[str]]:
        """Ctrl-C; its exit code, stderr and the top-level packages it had loaded."""
        self.proc.send_signal(signal.SIGINT)
        _, err = self.proc.communicate(timeout=60)
        loaded = {m.partition(".")[0] for m in json.loads(self.report.read_text(encoding="utf-8"))}
        return self.proc.returncode, err, loaded


@pytest.fixture
def command(tmp_path: Path) -> Iterator[list[Command]]:
    started: list[Command] = []
    yield started
    for c in started:
        if c.proc.poll() is None:
            c.proc.kill()
            c.proc.communicate(timeout=30)


def test_serve_prints_its_url_serves_and_stops_on_ctrl_c(tmp_path: Path, command: list[Command]) -> None:
    echo = write(tmp_path, "name: echo\ntask: hi\nteam: {kind: single, agents: [{name: echoer}]}\n")
    c = Command(tmp_path, str(echo), "travel_planning")
    command.append(c)
    assert c.url.startswith("http://127.0.0.1:"), c.first + c.proc.stderr.read()  # type: ignore[union-attr]
    assert "2 scenarios: echo, travel_planning" in c.first
    models = httpx2.get(c.url + "v1/models", timeout=30).json()
    assert [m["id"] for m in models["data"]] == ["echo", "travel_planning"]
    code, err, loaded = c.stop()
    assert code == 130, err
    assert sorted(loaded & set(ENGINE_LIBRARIES)) == []  # started without AutoGen, openai or vLLM
    assert {"starlette", "uvicorn"} <= loaded


def test_a_broken_scenario_named_on_the_command_line_is_exit_2_located(tmp_path: Path) -> None:
    bad = write(tmp_path, "name: bad\nteam: {kind: single, agents: [{name: a, sytem_message: x}]}\n")
    r = cli("serve", str(bad), "--port", "0")
    assert r.returncode == 2
    assert f"{bad}:2:" in r.stderr and "did you mean 'system_message'" in r.stderr


def test_a_broken_file_in_a_folder_is_skipped_with_a_warning(tmp_path: Path, command: list[Command]) -> None:
    folder = tmp_path / "mine"
    folder.mkdir()
    write(folder, "name: ok\ntask: hi\nteam: {kind: single, agents: [{name: a}]}\n", "ok.yaml")
    write(folder, "name: bad\nteam: {kind: nope, agents: [{name: a}]}\n", "bad.yaml")
    c = Command(tmp_path, str(folder))
    command.append(c)
    assert "1 scenarios: ok" in c.first
    _, err, _ = c.stop()
    assert "skipped: " in err and "bad.yaml:2:" in err


def test_a_port_in_use_is_exit_2(tmp_path: Path) -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        r = cli("serve", "travel_planning", "--port", str(port))
    assert r.returncode == 2 and f"cannot listen on 127.0.0.1:{port}" in r.stderr


def test_the_wheel_ships_the_page(tmp_path: Path) -> None:
    """The page is package data: a wheel built from the project's files holds it (no Node build step)."""
    import zipfile

    root = Path(__file__).resolve().parents[1]
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            str(root),
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(tmp_path),
        ],
        check=True,
        timeout=300,
        capture_output=True,
    )
    (wheel,) = tmp_path.glob("autogen_troupe-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for f in ("index.html", "app.js", "style.css"):
        assert f"autogen_troupe/serve/static/{f}" in names
