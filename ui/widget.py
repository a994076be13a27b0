"""`/widget.js`: the script a company puts on its own pages to offer the chat (see docs/embedding.md)."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import Response

WIDGET = Path(__file__).resolve().parent / "static" / "widget.js"


def add_widget_route(app: FastAPI) -> None:
    """Serve the widget script. It is the same for every site; which sites may frame the chat is
    decided by the `embed_origins` setting (the frame-ancestors header of the chat page)."""
    script = WIDGET.read_bytes()

    @app.get("/widget.js", include_in_schema=False)
    def widget() -> Response:
        return Response(
            script,
            media_type="text/javascript; charset=utf-8",
            headers={"cache-control": "public, max-age=3600"},
        )
