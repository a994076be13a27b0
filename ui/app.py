"""The web server: the chat page mounted in one FastAPI app with security headers and private defaults."""

from __future__ import annotations

import logging
import threading
from typing import Any

from agent.assistant import SupportAgent
from agent.privacy_env import use_temp_dir
from agent.settings import Settings

log = logging.getLogger(__name__)


def create_app(agent: SupportAgent, settings: Settings) -> Any:
    """The ASGI app: the customer chat at '/', every response with the security headers."""
    use_temp_dir(settings.temp_dir)  # before gradio is imported: some of its modules read it at import
    import gradio as gr
    from fastapi import FastAPI

    from ui.chat import build_chat
    from ui.security import SecurityHeaders

    app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)
    page = build_chat(agent, settings).queue(default_concurrency_limit=1)
    app = gr.mount_gradio_app(
        app,
        page,
        path="/",
        server_name=settings.host,
        server_port=settings.port,
        footer_links=[],
        show_error=False,
        ssr_mode=False,  # server-side rendering would start a Node.js server next to ours
        mcp_server=False,
        pwa=False,
    )
    return SecurityHeaders(app)


def serve(settings: Settings) -> None:
    """Load the models, open the index and serve the chat until interrupted."""
    import uvicorn

    from agent.wiring import build_agent

    app = create_app(build_agent(settings), settings)
    log.info("chat page on http://%s:%d", settings.host, settings.port)
    uvicorn.run(app, host=settings.host, port=settings.port, log_level="warning", access_log=False)


class BackgroundServer:
    """Runs the app with uvicorn in a thread (for tests and tools); `url` once started."""

    def __init__(self, app: Any, host: str = "127.0.0.1", port: int = 0) -> None:
        import uvicorn

        self._server = uvicorn.Server(
            uvicorn.Config(app, host=host, port=port, log_level="warning", access_log=False)
        )
        self._thread = threading.Thread(target=self._server.run, daemon=True)
        self.url = ""

    def start(self) -> str:
        """Start and wait until the port is bound."""
        self._thread.start()
        while not self._server.started:
            if not self._thread.is_alive():
                raise RuntimeError("the web server did not start")
            threading.Event().wait(0.05)
        host, port = self._server.servers[0].sockets[0].getsockname()[:2]
        self.url = f"http://{host}:{port}/"
        return self.url

    def stop(self) -> None:
        """Ask the server to finish and wait for it."""
        self._server.should_exit = True
        self._thread.join(timeout=10)
