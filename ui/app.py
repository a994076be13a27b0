"""The web server: builds the agent and serves the chat page with private defaults."""

from __future__ import annotations

import logging

from agent.privacy_env import use_temp_dir
from agent.settings import Settings

log = logging.getLogger(__name__)


def serve(settings: Settings) -> None:
    """Load the models, open the index and serve the chat until interrupted."""
    use_temp_dir(settings.temp_dir)  # before gradio is imported: it reads GRADIO_TEMP_DIR early

    from agent.wiring import build_agent
    from ui.chat import build_chat

    agent = build_agent(settings)
    page = build_chat(agent, settings)
    log.info("chat page on http://%s:%d", settings.host, settings.port)
    page.queue(default_concurrency_limit=1).launch(
        server_name=settings.host,
        server_port=settings.port,
        share=False,
        show_error=False,
        inbrowser=False,
        footer_links=[],
    )
