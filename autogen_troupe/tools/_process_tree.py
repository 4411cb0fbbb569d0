"""A child process we started and every descendant it has, so that they can be ended together.

Signalling the child's process group is not enough: a descendant that calls `setsid` (a daemon, a
browser, a language server) leaves the group and the session, and once the child is gone its orphans
are re-parented to init and can no longer be found from it. So the descendants are looked up while the
child lives (after each tool call and before every stop) and remembered; psutil checks that a
remembered pid is still the same process before it is signalled.
"""

from __future__ import annotations

import contextlib
import os
import signal

import anyio
import psutil

__all__ = ["ProcessTree"]

_POLL_S = 0.02
_GONE = (psutil.NoSuchProcess, psutil.ZombieProcess)


def _running(p: psutil.Process) -> bool:
    """Alive and not a zombie (an exited orphan whose parent, init included, has not reaped it)."""
    try:
        return p.is_running() and p.status() != psutil.STATUS_ZOMBIE
    except _GONE:
        return False
    except psutil.AccessDenied:  # pragma: no cover - alive, but not ours to inspect
        return True


class ProcessTree:
    """A started child that leads its own process group, and the descendants seen while it lived."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self._known: dict[int, psutil.Process] = {}
        try:
            self._root: psutil.Process | None = psutil.Process(pid)
        except _GONE:
            self._root = None

    def refresh(self) -> None:
        """Remember the child's current descendants; a no-op once the child is gone."""
        if self._root is None:
            return
        try:
            found = self._root.children(recursive=True)
        except (*_GONE, psutil.AccessDenied):
            return
        for p in found:
            self._known.setdefault(p.pid, p)

    def descendants(self) -> list[psutil.Process]:
        """The remembered descendants that are still running."""
        return [p for p in self._known.values() if _running(p)]

    def signal(self, sig: int) -> None:
        """Send `sig` to the child's process group (the child included) and to every known descendant."""
        self.refresh()
        with contextlib.suppress(ProcessLookupError, PermissionError):
            if hasattr(os, "killpg"):
                os.killpg(self.pid, sig)
            else:  # pragma: no cover - Windows
                os.kill(self.pid, sig)
        for p in self.descendants():
            with contextlib.suppress(*_GONE, psutil.AccessDenied):
                p.send_signal(sig)  # psutil refuses a pid that now belongs to another process

    def kill(self) -> None:
        """SIGKILL the whole tree at once, without waiting."""
        self.signal(getattr(signal, "SIGKILL", signal.SIGTERM))

    async def end_descendants(self, grace_s: float) -> list[int]:
        """SIGTERM the descendants still running, SIGKILL those left after `grace_s`; wait a moment for
        them to go. Returns the pids that survived even that (nothing more can be done about them)."""
        left = self.descendants()
        if not left:
            return []
        for p in left:
            with contextlib.suppress(*_GONE, psutil.AccessDenied):
                p.terminate()
        left = await _wait_gone(left, grace_s)
        for p in left:
            with contextlib.suppress(*_GONE, psutil.AccessDenied):
                p.kill()
        return [p.pid for p in await _wait_gone(left, grace_s)]


async def _wait_gone(procs: list[psutil.Process], timeout_s: float) -> list[psutil.Process]:
    """Poll (they are not our children, so they cannot be waited for) until all are gone or time is up."""
    deadline = anyio.current_time() + timeout_s
    left = [p for p in procs if _running(p)]
    while left and anyio.current_time() < deadline:
        await anyio.sleep(_POLL_S)
        left = [p for p in left if _running(p)]
    return left
