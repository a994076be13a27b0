"""Test-only helpers: a free port, bounded waits, and the web app served in a background thread."""

from __future__ import annotations

import socket
import subprocess
import threading
import time
from collections.abc import Callable
from typing import Any

import httpx


def free_port() -> int:
    """A TCP port on loopback that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until(condition: Callable[[], object], *, timeout_s: float, what: str, every_s: float = 0.1) -> None:
    """Poll `condition` until it is true; AssertionError naming `what` after `timeout_s` seconds."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout_s:g} s")
        time.sleep(every_s)


def wait_for_http(url: str, *, timeout_s: float, process: subprocess.Popen[Any] | None = None) -> None:
    """Wait until `url` answers 200; fail early when `process` (the server) exits first."""

    def answers() -> bool:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"the server behind {url} exited ({process.returncode}) before it answered")
        try:
            return httpx.get(url, timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    wait_until(answers, timeout_s=timeout_s, what=f"{url} answering 200", every_s=0.5)


class BackgroundServer:
    """Runs an ASGI app with uvicorn in a thread; `start()` returns its URL once the port is bound."""

    def __init__(self, app: Any, host: str = "127.0.0.1", port: int = 0) -> None:
        import uvicorn

        self._server = uvicorn.Server(
            uvicorn.Config(app, host=host, port=port, log_level="warning", access_log=False)
        )
        self._thread = threading.Thread(target=self._server.run, daemon=True)
        self.url = ""

    def start(self, timeout_s: float = 60) -> str:
        """Start and wait (at most `timeout_s`) until the port is bound."""
        self._thread.start()

        def started() -> bool:
            if not self._thread.is_alive():
                raise RuntimeError("the web server did not start")
            return bool(self._server.started)

        wait_until(started, timeout_s=timeout_s, what="the web server starting", every_s=0.05)
        host, port = self._server.servers[0].sockets[0].getsockname()[:2]
        self.url = f"http://{host}:{port}/"
        return self.url

    def stop(self) -> None:
        """Ask the server to finish and wait for it."""
        self._server.should_exit = True
        self._thread.join(timeout=10)
