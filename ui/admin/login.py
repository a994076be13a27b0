"""Getting into the console: the login page and its routes, logout, the session cookie, and the ASGI gate
that sends a browser without a valid session to the login page. Logins and logouts are audited by
`StaffServices`."""

from __future__ import annotations

import html
from collections.abc import Awaitable, Callable, MutableMapping
from http.cookies import SimpleCookie
from typing import Any, Protocol

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse

from agent.staff.accounts import LoginRefused, StaffSession
from agent.staff.services import StaffServices

SESSION_COOKIE = "staff_session"
ADMIN_PATH = "/admin"


class SessionLookup(Protocol):
    """Anything that finds the staff session of a token (StaffServices, StaffDirectory)."""

    def session(self, token: str | None) -> StaffSession | None: ...


def session_token(request: Any | None) -> str | None:
    """The staff session cookie of a request (a Gradio or Starlette request)."""
    if request is None:
        return None
    cookies = getattr(request, "cookies", None)
    if cookies:
        return cookies.get(SESSION_COOKIE)
    return token_from_cookie_header((getattr(request, "headers", None) or {}).get("cookie", ""))


def token_from_cookie_header(header: str) -> str | None:
    """The staff session token in a raw Cookie header."""
    jar = SimpleCookie()
    jar.load(header)
    return jar[SESSION_COOKIE].value if SESSION_COOKIE in jar else None


def add_login_routes(app: Any, services: StaffServices) -> None:
    """GET/POST /admin/login and /admin/logout on the FastAPI app (before the console is mounted)."""

    @app.get(f"{ADMIN_PATH}/login", response_class=HTMLResponse)
    def login_form() -> str:
        return _login_page("")

    @app.post(f"{ADMIN_PATH}/login")
    async def login(request: Request) -> Any:
        form = await request.form()
        username = str(form.get("username", "")).strip().lower()[:40]
        try:
            token, _ = services.login(username, str(form.get("password", "")))
        except LoginRefused as exc:
            return HTMLResponse(_login_page(str(exc)), status_code=401)
        response = RedirectResponse(f"{ADMIN_PATH}/", status_code=303)
        response.set_cookie(
            SESSION_COOKIE,
            token,
            httponly=True,
            samesite="strict",
            secure=request.url.scheme == "https",
            path=ADMIN_PATH,
            max_age=services.settings.staff_session_minutes * 60 * 48,  # the server decides expiry
        )
        return response

    @app.api_route(f"{ADMIN_PATH}/logout", methods=["GET", "POST"])
    def logout(request: Request) -> Any:
        services.logout(request.cookies.get(SESSION_COOKIE))
        response = RedirectResponse(f"{ADMIN_PATH}/login", status_code=303)
        response.delete_cookie(SESSION_COOKIE, path=ADMIN_PATH)
        return response


class AdminGate:
    """Sends a browser that opens the console without a valid session to the login page."""

    def __init__(self, app: Any, sessions: SessionLookup) -> None:
        self.app = app
        self.sessions = sessions

    async def __call__(
        self,
        scope: MutableMapping[str, Any],
        receive: Callable[[], Awaitable[Any]],
        send: Callable[[Any], Awaitable[None]],
    ) -> None:
        if (
            scope["type"] == "http"
            and scope["path"] in (ADMIN_PATH, ADMIN_PATH + "/")
            and scope["method"] == "GET"
        ):
            headers = {k.decode().lower(): v.decode() for k, v in scope.get("headers", [])}
            if self.sessions.session(token_from_cookie_header(headers.get("cookie", ""))) is None:
                await send(
                    {
                        "type": "http.response.start",
                        "status": 303,
                        "headers": [(b"location", f"{ADMIN_PATH}/login".encode())],
                    }
                )
                await send({"type": "http.response.body", "body": b""})
                return
        await self.app(scope, receive, send)


def _login_page(error: str) -> str:
    message = f'<p role="alert" style="color:#b00020">{html.escape(error)}</p>' if error else ""
    return (
        '<!doctype html><html><head><meta charset="utf-8"><title>Staff login</title>'
        "<style>body{font-family:system-ui,sans-serif;max-width:22rem;margin:4rem auto}"
        "label,input,button{display:block;width:100%;margin:.4rem 0}input{padding:.4rem}"
        "button{padding:.5rem}</style></head><body><h1>Staff console</h1>" + message + f'<form method="post" '
        f'action="{ADMIN_PATH}/login"><label>User name <input name="username" id="username" autocomplete='
        '"username" required></label><label>Password <input name="password" id="password" type="password" '
        'autocomplete="current-password" required></label><button type="submit" id="login">Log in</button>'
        "</form></body></html>"
    )
