"""Start-up costs only what a command uses: `troupe --help`, `check`, `list` and `schema` import no AutoGen,
openai, mcp, vLLM or OpenTelemetry code, a run without MCP servers never imports the MCP SDK (0.8 s), and a
run without tracing imports none of OpenTelemetry's SDK or exporters, nor our spans (AutoGen itself
imports the OpenTelemetry API, which costs nothing without a provider).

Each command runs as `troupe` does, in a fresh interpreter, which reports the modules it loaded on exit.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from fake_openai import FakeOpenAI

ROOT = Path(__file__).resolve().parents[1]

# The console script's own two lines, plus a report of sys.modules when the interpreter exits.
PROBE = """
import atexit, json, os, sys
def report():
    with open(os.environ["MODULES_REPORT"], "w", encoding="utf-8") as f:
        json.dump(sorted(sys.modules), f)
atexit.register(report)
sys.argv[0] = "troupe"
from autogen_troupe.cli import main
sys.exit(main())
"""

ENGINE_LIBRARIES = (
    "autogen_core",
    "autogen_agentchat",
    "autogen_ext",
    "openai",
    "mcp",
    "mcp_types",
    "vllm",
    "opentelemetry",
)
# What only tracing loads: OpenTelemetry's SDK and exporters, and the modules of ours that use them.
TRACING_MODULES = ("opentelemetry.sdk", "opentelemetry.exporter", "autogen_troupe.telemetry._spans")


def troupe_modules(
    tmp_path: Path, *args: str, full: bool = False, env: dict[str, str] | None = None
) -> tuple[subprocess.CompletedProcess[str], set[str]]:
    """Run `troupe ARGS` in a fresh interpreter (no OTEL_* settings but `env`); its result and the
    top-level packages it imported (with `full`, every module's dotted name)."""
    report = tmp_path / "modules.json"
    ours = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    proc = subprocess.run(
        [sys.executable, "-c", PROBE, *args],
        cwd=tmp_path,
        env={**ours, **(env or {}), "MODULES_REPORT": str(report)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    names = json.loads(report.read_text(encoding="utf-8"))
    loaded = set(names) if full else {m.partition(".")[0] for m in names}
    return proc, loaded


@pytest.mark.parametrize(
    "args",
    [
        ("--help",),
        ("--version",),
        ("run", "--help"),
        ("check", str(ROOT / "scenarios")),
        ("list",),
        ("schema",),
        ("eval", "--help"),
        ("eval", "compare", "--help"),
    ],
    ids=["help", "version", "run-help", "check", "list", "schema", "eval-help", "eval-compare-help"],
)
def test_commands_that_run_nothing_import_no_engine_library(tmp_path: Path, args: tuple[str, ...]) -> None:
    proc, loaded = troupe_modules(tmp_path, *args)
    assert proc.returncode == 0, proc.stderr
    assert "autogen_troupe" in loaded and "typer" in loaded  # the probe saw the command's imports
    assert sorted(loaded & set(ENGINE_LIBRARIES)) == []


def test_a_run_without_mcp_servers_imports_no_mcp(tmp_path: Path) -> None:
    replies = ["Day 1: Kathmandu.", "Try dal bhat.", "Say Namaste.", "Plan done. TERMINATE"]
    with FakeOpenAI(replies=replies) as srv:
        proc, loaded = troupe_modules(
            tmp_path, "run", "travel_planning", "--base-url", srv.base_url, "--model", "m", "--quiet"
        )
    assert proc.returncode == 0, proc.stderr
    assert "TERMINATE" in proc.stdout
    assert {"autogen_agentchat", "openai"} <= loaded  # it did run the team
    assert sorted(loaded & {"mcp", "mcp_types"}) == []


def test_a_run_with_an_mcp_server_imports_mcp(tmp_path: Path) -> None:
    """The other side of the check above: the probe does see the MCP SDK when a run needs it."""
    (tmp_path / "probe.yaml").write_text(
        "name: probe\n"
        "task: Say done.\n"
        "team:\n"
        "  kind: single\n"
        "  agents:\n"
        "    - name: helper\n"
        "      mcp: [travel]\n"
        "  termination: {text_mention: TERMINATE}\n"
        "mcp_servers:\n"
        "  travel: {command: python, args: [-m, autogen_troupe.mcp_servers.travel]}\n",
        encoding="utf-8",
    )
    with FakeOpenAI(replies=["Done. TERMINATE"]) as srv:
        proc, loaded = troupe_modules(
            tmp_path, "run", "probe.yaml", "--base-url", srv.base_url, "--model", "m", "--quiet"
        )
    assert proc.returncode == 0, proc.stderr
    assert {"mcp", "mcp_types"} <= loaded


def test_a_run_without_tracing_loads_no_tracing_code(tmp_path: Path) -> None:
    replies = ["Day 1: Kathmandu.", "Try dal bhat.", "Say Namaste.", "Plan done. TERMINATE"]
    with FakeOpenAI(replies=replies) as srv:
        proc, loaded = troupe_modules(
            tmp_path,
            "run",
            "travel_planning",
            "--base-url",
            srv.base_url,
            "--model",
            "m",
            "--quiet",
            full=True,
        )
    assert proc.returncode == 0, proc.stderr
    assert "autogen_agentchat" in loaded and "opentelemetry.trace" in loaded  # AutoGen's own import
    assert sorted(m for m in loaded if m.startswith(TRACING_MODULES)) == []
    assert "traceparent" not in srv.chat_requests[0].headers


def test_a_traced_run_does_load_it(tmp_path: Path) -> None:
    """The other side of the check above: with --trace the probe sees the SDK and our spans."""
    with FakeOpenAI(replies=["Plan done. TERMINATE"] * 4) as srv:
        proc, loaded = troupe_modules(
            tmp_path, "run", "travel_planning", "--base-url", srv.base_url, "--model", "m", "--quiet",
            "--trace", full=True, env={"OTEL_TRACES_EXPORTER": "none", "OTEL_METRICS_EXPORTER": "none"},
        )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert {"opentelemetry.sdk.trace", "autogen_troupe.telemetry._spans"} <= loaded


def test_a_run_ends_with_its_objects_frozen_and_still_cleans_up(tmp_path: Path) -> None:
    """`main` freezes what is left for the interpreter's teardown (its GC sweep costs ~150 ms and frees
    nothing a process needs) and collects less often during start-up; atexit handlers still run and the
    transcript is whole."""
    probe = (
        "import atexit, gc, json, os, sys\n"
        "def report():\n"
        "    with open(os.environ['GC_REPORT'], 'w', encoding='utf-8') as f:\n"
        "        json.dump([gc.get_freeze_count(), gc.get_threshold()[0]], f)\n"
        "atexit.register(report)\n"
        "sys.argv[0] = 'troupe'\n"
        "from autogen_troupe.cli import main\n"
        "sys.exit(main())\n"
    )
    report, out = tmp_path / "gc.json", tmp_path / "runs"
    replies = ["Day 1: Kathmandu.", "Try dal bhat.", "Say Namaste.", "Plan done. TERMINATE"]
    with FakeOpenAI(replies=replies) as srv:
        proc = subprocess.run(
            [sys.executable, "-c", probe, "run", "travel_planning", "--base-url", srv.base_url,
             "--model", "m", "--quiet", "--out", str(out)],
            cwd=tmp_path, env={**os.environ, "GC_REPORT": str(report)},
            capture_output=True, text=True, timeout=120,
        )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    frozen, threshold = json.loads(report.read_text(encoding="utf-8"))
    assert frozen > 10_000 and threshold == 10_000
    (transcript,) = out.glob("*.jsonl")
    last = json.loads(transcript.read_text(encoding="utf-8").splitlines()[-1])
    assert last["record"] == "result" and "TERMINATE" in last["stop_reason"], last
