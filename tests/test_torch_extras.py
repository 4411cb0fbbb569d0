"""The start-up guard that hides the CUDA torch extras beside torch+cpu, in every interpreter of the venv."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from autogen_troupe.models.vllm import _torch_extras as te


def _site(tmp_path: Path, *dists: str) -> str:
    for dist in dists:
        (tmp_path / f"{dist}.dist-info").mkdir()
    return str(tmp_path)


def test_cuda_extras_beside_a_cpu_torch_are_broken(tmp_path: Path) -> None:
    site = _site(tmp_path, "torch-2.13.0+cpu", "torchvision-0.28.0", "torchaudio-2.11.1", "torch_x-2.0")
    assert te.broken_torch_extras([site]) == ["torchvision", "torchaudio"]


def test_matching_builds_are_left_alone(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    cpu = _site(tmp_path / "a", "torch-2.13.0+cpu", "torchvision-0.28.0+cpu")
    cuda = _site(tmp_path / "b", "torch-2.14.1", "torchvision-0.29.1")
    assert te.broken_torch_extras([cpu]) == []
    assert te.broken_torch_extras([cuda]) == []
    assert te.broken_torch_extras([str(tmp_path / "missing")]) == []


def test_the_first_folder_on_the_path_wins(tmp_path: Path) -> None:
    (tmp_path / "user").mkdir()
    (tmp_path / "venv").mkdir()
    user = _site(tmp_path / "user", "torchvision-0.28.0+cpu")
    venv = _site(tmp_path / "venv", "torch-2.13.0+cpu", "torchvision-0.28.0")
    assert te.broken_torch_extras([user, venv]) == []
    assert te.broken_torch_extras([venv, user]) == ["torchvision"]


def test_hiding_marks_the_module_absent(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    site = _site(tmp_path, "torch-2.13.0+cpu", "torchcodec-0.17.0")
    monkeypatch.delitem(sys.modules, "torchcodec", raising=False)
    assert te.hide_broken_torch_extras([site]) == ["torchcodec"]
    assert sys.modules["torchcodec"] is None
    with pytest.raises(ImportError):
        import torchcodec  # noqa: F401
    monkeypatch.delitem(sys.modules, "torchcodec")


def test_a_new_interpreter_of_this_environment_is_guarded() -> None:
    """What vLLM's registry child sees: the .pth the wheel installs ran before any import."""
    broken = te.broken_torch_extras()
    if not broken:
        pytest.skip("no mismatched torch extras are installed here")
    code = (
        "import importlib.util, sys; "
        f"print([importlib.util.find_spec(n) is None for n in {broken!r}], "
        f"{te.STARTUP_MARK!r} in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == f"{[True] * len(broken)} True"
    assert te.startup_guard_active()  # and this very process (pytest) was guarded too


def test_without_the_startup_guard_the_engine_error_names_the_fix(monkeypatch: pytest.MonkeyPatch) -> None:
    """An install that skipped the .pth (a fault no test can install for real): one paragraph, a run error
    (exit 1), and the command that fixes it."""
    from autogen_troupe.errors import EngineError, RunError
    from autogen_troupe.models.vllm import _engine as _vllm_engine

    monkeypatch.setattr(_vllm_engine, "_vllm_module", None)
    monkeypatch.setattr(te, "startup_guard_active", lambda: False)
    monkeypatch.setattr(te, "broken_torch_extras", lambda dirs=None: ["torchvision", "torchaudio"])
    with pytest.raises(EngineError, match=r"pip uninstall -y torchvision torchaudio$") as caught:
        _vllm_engine.import_vllm()
    assert isinstance(caught.value, RunError)
    assert "helper processes" in str(caught.value)
