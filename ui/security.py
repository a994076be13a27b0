"""Security headers for every response: the page may load nothing from anywhere but its own origin.

Only the sites in `embed_origins` may show the chat in a frame (the widget); the staff console may never
be framed. Over HTTPS (served directly or by a trusted proxy) browsers are told to stay on HTTPS (HSTS).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
ASGIApp = Callable[
    [Scope, Callable[[], Awaitable[Message]], Callable[[Message], Awaitable[None]]], Awaitable[None]
]

# Gradio's page needs inline styles and scripts of its own; nothing may come from another origin.
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self' 'unsafe-inline' 'unsafe-eval'",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data: blob:",
        "font-src 'self' data:",
        "media-src 'self' blob:",
        "connect-src 'self'",
        "form-action 'self'",
        "base-uri 'self'",
        "object-src 'none'",
    ]
)
SECURITY_HEADERS = {
    "content-security-policy": f"{CONTENT_SECURITY_POLICY}; frame-ancestors 'none'",
    "referrer-policy": "no-referrer",
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "permissions-policy": "camera=(), microphone=(), geolocation=(), interest-cohort=()",
    "cross-origin-opener-policy": "same-origin",
}
HSTS = ("strict-transport-security", "max-age=31536000")
NEVER_FRAMED = "/admin"  # the staff console, whatever embed_origins says


class SecurityHeaders:
    """ASGI middleware that sets the security headers on every HTTP response (streaming ones included)."""

    def __init__(self, app: ASGIApp, embed_origins: list[str] | tuple[str, ...] = ()) -> None:
        self._app = app
        self._strict = _encoded(SECURITY_HEADERS)
        framable = dict(SECURITY_HEADERS)
        if embed_origins:
            # frame-ancestors is the allowlist; X-Frame-Options knows no list, so it must go.
            framable["content-security-policy"] = (
                f"{CONTENT_SECURITY_POLICY}; frame-ancestors 'self' {' '.join(embed_origins)}"
            )
            del framable["x-frame-options"]
        self._framable = _encoded(framable)
        self._hsts = _encoded(dict([HSTS]))
        self._names = {name.encode() for name in [*SECURITY_HEADERS, HSTS[0]]}

    async def __call__(
        self,
        scope: Scope,
        receive: Callable[[], Awaitable[Message]],
        send: Callable[[Message], Awaitable[None]],
    ) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        headers = self._strict if str(scope.get("path", "")).startswith(NEVER_FRAMED) else self._framable
        if scope.get("scheme") == "https":
            headers = headers + self._hsts

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                kept = [(k, v) for k, v in message.get("headers", []) if k.lower() not in self._names]
                message["headers"] = kept + headers
            await send(message)

        await self._app(scope, receive, with_headers)


def _encoded(headers: dict[str, str]) -> list[tuple[bytes, bytes]]:
    return [(name.encode(), value.encode()) for name, value in headers.items()]
