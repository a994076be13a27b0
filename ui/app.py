"""The web server: the chat page mounted in one FastAPI app with security headers and private defaults."""

from __future__ import annotations

import logging
import threading
from typing import Any

from agent.answering.assistant import SupportAgent
from agent.privacy.config_audit import record_configuration
from agent.privacy.subjects import DataSubjects, open_data_subjects
from agent.runtime.process import harden_process
from agent.privacy.records import privacy_page_html
from agent.settings import Settings

log = logging.getLogger(__name__)


def create_app(agent: SupportAgent, settings: Settings, subjects: DataSubjects | None = None) -> Any:
    """The ASGI app: the customer chat at '/', the privacy page at '/privacy', the staff console at
    '/admin' (login at '/admin/login'), security headers on all."""
    # First: the egress guard and the temp dirs, even for a server started through create_app alone;
    # then Gradio, some of whose modules read GRADIO_TEMP_DIR once, at import.
    harden_process(settings)
    import gradio as gr
    from fastapi import FastAPI
    from fastapi.responses import HTMLResponse

    from agent.staff.accounts import StaffDirectory
    from ui.admin import ADMIN_PATH, AdminGate, Console, add_login_routes, build_console, session_token
    from ui.chat import build_chat
    from ui.security import SecurityHeaders

    subjects = subjects or open_data_subjects(settings, forget_caches=agent.forget)
    app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)
    privacy_page = privacy_page_html(settings)

    @app.get("/privacy", response_class=HTMLResponse)
    def privacy() -> str:
        return privacy_page

    staff = StaffDirectory(
        subjects.store.engine,
        max_failed_logins=settings.max_failed_logins,
        lockout_minutes=settings.lockout_minutes,
        session_minutes=settings.staff_session_minutes,
    )
    console = Console(settings, agent, subjects, staff)
    add_login_routes(app, console)

    def staff_user(request: Any) -> str | None:
        session = staff.session(session_token(request))
        return session.username if session else None

    app = gr.mount_gradio_app(
        app,
        build_console(console).queue(default_concurrency_limit=2),
        path=ADMIN_PATH,
        auth_dependency=staff_user,
        footer_links=[],
        show_error=True,  # staff see why an action was refused
        ssr_mode=False,
        mcp_server=False,
        pwa=False,
    )
    page = build_chat(agent, settings, subjects).queue(default_concurrency_limit=1)
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
    return SecurityHeaders(AdminGate(app, staff))


def serve(settings: Settings) -> None:
    """Load the models, open the index and serve the chat until interrupted."""
    import uvicorn

    from agent.wiring import build_agent

    harden_process(settings)
    agent = build_agent(settings)
    subjects = open_data_subjects(settings, forget_caches=agent.forget)
    record_configuration(settings, subjects.audit)
    purger = PurgeSchedule(subjects, settings.purge_interval_minutes * 60)
    purger.start()
    app = create_app(agent, settings, subjects)
    log.info("chat page on http://%s:%d", settings.host, settings.port)
    try:
        uvicorn.run(
            app,
            host=settings.host,
            port=settings.port,
            log_level="warning",
            access_log=False,
            # An open chat tab keeps a connection alive; without a limit Ctrl-C would wait for it forever.
            timeout_graceful_shutdown=5,
        )
    finally:
        purger.stop()


class PurgeSchedule:
    """Runs the retention purge now and then every `interval_s` seconds in a background thread."""

    def __init__(self, subjects: DataSubjects, interval_s: float) -> None:
        self._subjects = subjects
        self._interval_s = interval_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="retention-purge", daemon=True)

    def start(self) -> None:
        """First purge right away, then on schedule."""
        self._thread.start()

    def stop(self) -> None:
        """Stop after the current run."""
        self._stop.set()
        self._thread.join(timeout=30)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                summary = self._subjects.purge(actor="retention-schedule")
                log.info("retention purge: %s", summary)
            except Exception:  # the schedule must outlive one failed run (e.g. a full disk)
                log.exception("retention purge failed; will retry")
            self._stop.wait(self._interval_s)


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
