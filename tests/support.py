"""Test-only helpers: a free port, bounded waits, the web app served in a background thread, and a scan
of the data and temp folders for a string."""

from __future__ import annotations

import os
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from agent.settings import Settings


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

    def __init__(self, app: Any, host: str = "127.0.0.1", port: int = 0, **options: Any) -> None:
        """`options` are uvicorn's (e.g. `ui.app.server_options(settings)`); by default it believes no
        proxy headers, as the product does without trusted_proxies."""
        import uvicorn

        config = {"log_level": "warning", "access_log": False, "proxy_headers": False, **options}
        config |= {"host": host, "port": port}
        self._server = uvicorn.Server(uvicorn.Config(app, **config))
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


def files_containing(settings: Settings, needle: bytes) -> list[Path]:
    """Every file under the data dir and the temp dirs that contains `needle`."""
    roots = {settings.data_dir, settings.temp_dir, Path(tempfile.gettempdir()), Path("/var/tmp")}
    roots.add(Path(os.environ.get("GRADIO_TEMP_DIR", settings.temp_dir)))
    hits = []
    for root in roots:
        for path in root.rglob("*") if root.exists() else []:
            try:
                if path.is_file() and needle in path.read_bytes():
                    hits.append(path)
            except OSError:
                continue
    return sorted(set(hits))


def message_text(message: dict[str, Any]) -> str:
    """The text of a chat message as gradio_client returns it (Gradio may wrap text in typed parts)."""
    content = message.get("content")
    if isinstance(content, list):
        return " ".join(str(p.get("text", "")) if isinstance(p, dict) else str(p) for p in content)
    return str(content or "")


def console_client(url: str, token: str):  # noqa: ANN201 - gradio_client.Client
    """A gradio_client for the staff console at `url` with a staff session `token`."""
    from gradio_client import Client

    return Client(url + "admin/", headers={"Cookie": f"staff_session={token}"}, verbose=False)


def password_login(url: str, username: str, password: str) -> str:
    """The staff session token of an account that logs in with a password alone (no second step)."""
    login = httpx.post(
        url + "admin/login", data={"username": username, "password": password}, follow_redirects=False
    )
    return login.cookies["staff_session"]
