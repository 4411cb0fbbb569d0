"""The engine time a run used: the seconds its requests spent in the in-process engine, summed (requests
that overlap each count their own time; on a GPU these are the run's "GPU seconds").

The runner opens a meter per run (`metering()`); the in-process client charges each request's time to the
meter current where the request was made (a context variable, so concurrent runs in one process keep
their own). A run on an endpoint charges nothing: its meter stays at zero.
"""

from __future__ import annotations

import contextlib
import contextvars
import time
from collections.abc import Callable, Iterator

__all__ = ["EngineMeter", "charge_engine", "current_meter", "engine_clock", "metering"]


class EngineMeter:
    """Seconds of engine time one run used so far."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self.requests = 0

    def charge(self, seconds: float) -> None:
        self.seconds += max(0.0, seconds)
        self.requests += 1


_METER: contextvars.ContextVar[EngineMeter | None] = contextvars.ContextVar(
    "troupe_engine_meter", default=None
)


def current_meter() -> EngineMeter | None:
    """The running run's meter (None outside a run)."""
    return _METER.get()


@contextlib.contextmanager
def metering(meter: EngineMeter | None = None) -> Iterator[EngineMeter]:
    """Charge engine time of requests made inside the block to `meter` (a new one by default)."""
    meter = meter if meter is not None else EngineMeter()
    token = _METER.set(meter)
    try:
        yield meter
    finally:
        _METER.reset(token)


def charge_engine(seconds: float) -> None:
    """Add one request's engine time to the running run's meter (nothing outside a run)."""
    meter = _METER.get()
    if meter is not None:
        meter.charge(seconds)


@contextlib.contextmanager
def engine_clock(clock: Callable[[], float] = time.perf_counter) -> Iterator[None]:
    """Around one request in the engine: its time is charged when it ends, also when it fails."""
    started = clock()
    try:
        yield
    finally:
        charge_engine(clock() - started)
