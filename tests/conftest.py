"""Shared test setup: tests never see the developer's own profiles or TROUPE_* settings."""

from __future__ import annotations

import atexit
import os
import shutil
import sys
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))  # tests/fake_openai.py and friends

# vLLM's model-info cache starts empty in every session, as on a new user's machine: with it warm, vLLM
# skips the child interpreter that inspects a model, and a broken install passes unseen.
_VLLM_CACHE = tempfile.mkdtemp(prefix="troupe-test-vllm-cache-")
os.environ["VLLM_CACHE_ROOT"] = _VLLM_CACHE
atexit.register(shutil.rmtree, _VLLM_CACHE, True)


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> None:
    for name in list(os.environ):
        if name.startswith("TROUPE_") and name != "TROUPE_CACHE_DIR":
            monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("TROUPE_PROFILES", str(tmp_path_factory.getbasetemp() / "no-profiles.yaml"))


@pytest.fixture
def scenarios_dir() -> Path:
    return ROOT / "scenarios"
