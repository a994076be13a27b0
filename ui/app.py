"""The web server: the chat page mounted in one FastAPI app with security headers and private defaults."""

from __future__ import annotations

import logging
from typing import Any

from agent.errors import ConfigError
from agent.privacy.config_audit import record_configuration
from agent.privacy.records import privacy_page_html
from agent.privacy.subjects import DataSubjects
from agent.runtime.alerts import SecurityWatch
from agent.runtime.metrics import PURGE_RUNS, watch_queue
from agent.runtime.periodic import Periodic
from agent.runtime.process import harden_process
from agent.runtime.rate_limits import RateLimits
from agent.settings import Settings
from agent.staff.importing import import_schedule
from agent.wiring import Services, build_services

log = logging.getLogger(__name__)

BUSY_HEADROOM = 20  # turns beyond the agent's line that still get their "busy" answer at once


def create_app(services: Services) -> Any:
    """The ASGI app: the customer chat at '/', the privacy page at '/privacy', the staff console at
    '/admin' (login at '/admin/login'), security headers on all.

    Hardens the process first (a server started through create_app alone is guarded too), and imports
    Gradio and the pages only then: some Gradio modules read GRADIO_TEMP_DIR once, at import.
    """
    settings = services.settings
    harden_process(settings)
    import gradio as gr
    from fastapi import FastAPI
    from fastapi.responses import HTMLResponse

    from ui.admin import ADMIN_PATH, AdminGate, Console, add_login_routes, build_console, session_token
    from ui.chat import build_chat
    from ui.operations import add_operations_routes
    from ui.security import SecurityHeaders
    from ui.widget import add_widget_route

    agent, subjects = services.agent, services.subjects
    app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)
    privacy_page = privacy_page_html(settings)

    @app.get("/privacy", response_class=HTMLResponse)
    def privacy() -> str:
        return privacy_page

    add_widget_route(app)
    add_operations_routes(app, services)
    watch_queue(lambda: agent.waiting)

    # The staff console, from the services (built in agent.wiring, never here).
    staff_services = services.staff_services
    console = Console(staff_services)
    add_login_routes(app, staff_services)

    def staff_user(request: Any) -> str | None:
        session = staff_services.session(session_token(request))
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
    # Every turn retrieves at once and then waits for the model in the agent's own line (it shows
    # the place in line, and answers "busy" beyond max_waiting_customers): Gradio must let
    # more turns run than that line holds, or the overflow would wait silently in Gradio's queue.
    page = build_chat(agent, settings, subjects, RateLimits(settings)).queue(
        default_concurrency_limit=settings.max_waiting_customers + 1 + BUSY_HEADROOM, max_size=200
    )
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
    return SecurityHeaders(AdminGate(app, staff_services), settings.embed_origins)


def serve(settings: Settings) -> None:
    """Load the models, open the index and serve the chat until interrupted."""
    import uvicorn

    harden_process(settings)
    problem = settings.listening_problem()
    if problem:
        raise ConfigError(f"Not starting: {problem}")
    services = build_services(settings)
    services.agent  # noqa: B018 - load the models and open the index before anything is recorded
    record_configuration(settings, services.audit)
    purger = purge_schedule(services.subjects, settings.purge_interval_minutes * 60)
    watch = SecurityWatch(settings, services.audit)
    watcher = Periodic("security-watch", settings.alert_check_minutes * 60, watch.check)
    jobs = [purger, watcher]
    jobs += [job for job in [import_schedule(settings, services.audit)] if job]  # off by default
    if settings.conversation_store_url:  # replicas: forget model caches after another one's erasure
        jobs.append(Periodic("erasure-follower", ERASURE_FOLLOW_S, services.subjects.forget_erased_elsewhere))
    for job in jobs:
        job.start()
    app = create_app(services)
    log.info("chat page on http://%s:%d", settings.host, settings.port)
    try:
        uvicorn.run(app, **server_options(settings))
    finally:
        for job in jobs:
            job.stop()


def server_options(settings: Settings) -> dict[str, Any]:
    """uvicorn's options: address, TLS, and X-Forwarded-* believed only from the trusted proxies."""
    options: dict[str, Any] = {
        "host": settings.host,
        "port": settings.port,
        "log_level": "warning",
        "access_log": False,
        # An open chat tab keeps a connection alive; without a limit Ctrl-C would wait for it forever.
        "timeout_graceful_shutdown": 5,
        # uvicorn would believe loopback's forwarded headers by default: only named proxies are.
        "proxy_headers": bool(settings.trusted_proxies),
        "forwarded_allow_ips": settings.trusted_proxies or [],
    }
    if settings.tls_certfile and settings.tls_keyfile:
        options |= {"ssl_certfile": str(settings.tls_certfile), "ssl_keyfile": str(settings.tls_keyfile)}
    return options


# How soon a replica forgets a prompt of a customer erased on another replica (one small query each time).
ERASURE_FOLLOW_S = 5.0


def purge_schedule(subjects: DataSubjects, interval_s: float) -> Periodic:
    """The retention purge, now and then every `interval_s` seconds (counted in the metrics)."""

    def purge() -> None:
        try:
            summary = subjects.purge(actor="retention-schedule")
        except Exception:
            PURGE_RUNS.labels("failed").inc()
            raise
        PURGE_RUNS.labels("ok").inc()
        log.info("retention purge: %s", summary)

    return Periodic("retention-purge", interval_s, purge)
