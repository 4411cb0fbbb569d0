"""`troupe serve`'s app on a real uvicorn server on 127.0.0.1, in a background thread, for tests.

    with Served(catalog, base_url=srv.base_url, out_dir=tmp_path) as s:
        client = openai.OpenAI(base_url=s.url + "v1", api_key="x")

The models are the fake endpoint's (tests/fake_openai.py) through `--base-url`-style overrides, so every
run is a real scenario run: team, clients, SSE, transcripts.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from autogen_troupe.models._endpoints import Overrides
from autogen_troupe.serve._app import bind, create_app, uvicorn_config
from autogen_troupe.serve._catalog import Catalog
from autogen_troupe.serve._config import ServeConfig

__all__ = ["Served", "sse"]


class Served:
    """The server, started on enter (a free port) and stopped on exit."""

    def __init__(
        self,
        paths: Sequence[str | Path] | Catalog,
        *,
        base_url: str | None = None,
        out_dir: Path,
        host: str = "127.0.0.1",
        **settings: Any,
    ) -> None:
        overrides = Overrides(base_url=base_url, model="fake-model") if base_url else None
        self.config = ServeConfig.checked(host=host, port=0, out_dir=out_dir, overrides=overrides, **settings)
        self.catalog = paths if isinstance(paths, Catalog) else Catalog.find(list(paths))
        self.app = create_app(self.config, self.catalog)
        self._server: Any = None
        self._thread: threading.Thread | None = None
        self.port = 0

    @property
    def runs(self) -> Any:
        """The server's RunManager (read it only: it lives in the server's thread)."""
        return self.app.state.troupe.runs

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    def __enter__(self) -> Served:
        import uvicorn

        sock = bind("127.0.0.1", 0)
        self.port = sock.getsockname()[1]
        self._server = uvicorn.Server(uvicorn_config(self.app))
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [sock]}, daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 20
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the server did not start")
            time.sleep(0.005)
        self._sock = sock
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(20)
        self._sock.close()

    def wait_until(self, check: Any, timeout: float = 30) -> None:
        """Poll `check()` until it is true; the timeout only bounds a hang."""
        deadline = time.monotonic() + timeout
        while not check():
            if time.monotonic() > deadline:
                raise AssertionError("timed out waiting for the server")
            time.sleep(0.01)


def sse(response: Any) -> Any:
    """The events of an SSE response (httpx2, streamed) as (event, data, id), data parsed as JSON."""
    import json

    event, data, seq = "message", [], None
    for line in response.iter_lines():
        if line == "":
            if data:
                yield event, json.loads("\n".join(data)), seq
            event, data, seq = "message", [], None
        elif line.startswith("event:"):
            event = line[6:].strip()
        elif line.startswith("data:"):
            data.append(line[5:].strip())
        elif line.startswith("id:"):
            seq = int(line[3:].strip())
