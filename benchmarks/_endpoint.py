"""The scripted OpenAI-compatible endpoint (tests/fake_openai.py) as a process of its own, for benchmarks."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


def start_scripted_endpoint(folder: Path, script: dict[str, Any]) -> tuple[subprocess.Popen[str], str]:
    """Writes `script` to FOLDER/script.json, starts the endpoint on a free port; returns it and its URL."""
    path = folder / "script.json"
    path.write_text(json.dumps(script), encoding="utf-8")
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "tests" / "fake_openai.py"), "--port", "0", "--script", str(path)],
        stdout=subprocess.PIPE,
        text=True,
    )
    line = proc.stdout.readline() if proc.stdout else ""
    if not line.startswith("READY "):
        proc.kill()
        raise SystemExit(f"the scripted endpoint did not start: {line!r}")
    return proc, line.split()[1]
