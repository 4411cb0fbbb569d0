"""Engine settings per device (models/vllm/_device.py): the device is given, never detected."""

from __future__ import annotations

import pytest

from autogen_troupe.errors import ProfileError
from autogen_troupe.models.vllm._device import Device, engine_settings

CPU = Device("cpu")
ONE_GPU = Device("cuda", 1, 80.0)
TWO_GPUS = Device("cuda", 2, 24.0)


def _sources(settings) -> dict[str, str]:  # type: ignore[no-untyped-def]
    return {c.name: c.source for c in settings.choices}


def test_the_cpu_keeps_the_measured_settings() -> None:
    s = engine_settings(CPU, {}, environ={})
    assert s.engine_args == {
        "enforce_eager": True,
        "disable_log_stats": True,
        "use_tqdm_on_load": False,
        "structured_outputs_config": {"backend": "xgrammar", "disable_any_whitespace": True},
    }
    assert s.env["VLLM_ENABLE_V1_MULTIPROCESSING"] == "0"
    assert s.env["VLLM_CPU_KVCACHE_SPACE"] == "1"
    assert s.env["VLLM_HOST_IP"] == "127.0.0.1"
    assert "gpu_memory_utilization" not in s.engine_args
    assert all(c.reason for c in s.choices)


def test_cuda_compiles_and_runs_the_engine_core_in_its_own_process() -> None:
    s = engine_settings(ONE_GPU, {}, environ={})
    assert s.engine_args["enforce_eager"] is False
    assert s.env["VLLM_ENABLE_V1_MULTIPROCESSING"] == "1"
    assert "VLLM_CPU_KVCACHE_SPACE" not in s.env
    assert s.engine_args["gpu_memory_utilization"] == 0.9
    assert s.engine_args["tensor_parallel_size"] == 1


def test_the_profile_wins_and_says_so() -> None:
    given = {
        "enforce_eager": True,
        "gpu_memory_utilization": 0.5,
        "tensor_parallel_size": 2,
        "max_model_len": 8192,
    }
    s = engine_settings(TWO_GPUS, given, environ={})
    assert {k: s.engine_args[k] for k in given} == given
    sources = _sources(s)
    assert all(sources[k] == "profile" for k in given)
    assert sources["disable_log_stats"] == "default"


def test_the_users_environment_wins() -> None:
    s = engine_settings(ONE_GPU, {}, environ={"VLLM_ENABLE_V1_MULTIPROCESSING": "0"})
    assert "VLLM_ENABLE_V1_MULTIPROCESSING" not in s.env  # not overwritten
    assert _sources(s)["VLLM_ENABLE_V1_MULTIPROCESSING"] == "environment"
    ours_already = engine_settings(ONE_GPU, {}, environ={"VLLM_ENABLE_V1_MULTIPROCESSING": "1"})
    assert _sources(ours_already)["VLLM_ENABLE_V1_MULTIPROCESSING"] == "default"  # set by prepare_env


def test_two_engines_on_one_gpu_split_its_memory() -> None:
    first = engine_settings(ONE_GPU, {}, environ={}, engines_planned=2)
    second = engine_settings(
        ONE_GPU,
        {},
        environ={},
        engines_planned=2,
        others_utilization=[first.engine_args["gpu_memory_utilization"]],
    )
    assert first.engine_args["gpu_memory_utilization"] == 0.45
    assert second.engine_args["gpu_memory_utilization"] == 0.45
    # an engine that took vLLM's 0.9 before a second was planned leaves only what is left
    late = engine_settings(ONE_GPU, {}, environ={}, engines_planned=2, others_utilization=[0.6])
    assert late.engine_args["gpu_memory_utilization"] == 0.3
    with pytest.raises(ProfileError, match="no GPU memory is left"):
        engine_settings(ONE_GPU, {}, environ={}, engines_planned=2, others_utilization=[0.9])
    with pytest.raises(ProfileError, match="does not fit"):
        engine_settings(ONE_GPU, {"gpu_memory_utilization": 0.5}, environ={}, others_utilization=[0.6])


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ({"tensor_parallel_size": 4}, "shows 2 GPU"),
        ({"tensor_parallel_size": 0}, "whole number"),
        ({"gpu_memory_utilization": 1.5}, r"in \(0, 1\]"),
        ({"gpu_memory_utilization": "half"}, r"in \(0, 1\]"),
    ],
)
def test_impossible_gpu_settings_are_refused(given: dict[str, object], message: str) -> None:
    with pytest.raises(ProfileError, match=message):
        engine_settings(TWO_GPUS, given, environ={})


def test_the_lines_say_the_device_and_every_choice() -> None:
    lines = engine_settings(TWO_GPUS, {}, environ={}).lines()
    assert lines[0].startswith("device: cuda x2, 24 GiB each")
    assert any(line.startswith("enforce_eager=False (default: CUDA graphs") for line in lines)
    assert any(line.startswith("env VLLM_ENABLE_V1_MULTIPROCESSING='1'") for line in lines)


def test_troupe_models_verbose_shows_what_this_machine_gets() -> None:
    """The real command, on this machine (the CPU build here): the device and each choice with its reason."""
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if not k.startswith("VLLM_")}  # other tests set ours
    out = subprocess.run(
        [sys.executable, "-m", "autogen_troupe.cli", "models", "--verbose"],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0] == "smollm2-135m-instruct"
    assert lines[1] == "  family: SmolLM2 (by its name)"
    assert any(x.startswith("  device: cpu") for x in lines)
    assert "  max_model_len=4096 (profile: as the profile says)" in lines  # the model's preset
    assert any("VLLM_ENABLE_V1_MULTIPROCESSING='0' (default: engine core in this process" in x for x in lines)


def test_an_extra_that_does_not_match_a_cuda_torch_is_not_called_a_cpu_build_problem(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A CUDA torch cannot be installed here: the version it reports is given (the one fault not caused)."""
    from autogen_troupe.models.vllm import _engine

    failure = OSError("Could not load this library: _torchaudio.abi3.so")
    monkeypatch.setattr(_engine, "_torch_version", lambda: "2.13.0")
    gpu = _engine._install_message(failure)
    assert "does not match the installed torch 2.13.0" in gpu and "CPU build" not in gpu
    monkeypatch.setattr(_engine, "_torch_version", lambda: "2.13.0+cpu")
    cpu = _engine._install_message(failure)
    assert "CPU build of torch" in cpu and "pip uninstall -y torchvision torchaudio torchcodec" in cpu
