"""Getting into the console: the login page and its routes, logout, the session cookie, and the ASGI gate
that sends a browser without a valid session to the login page. Logins and logouts are audited by
`StaffServices`.

Accounts that need a second factor get, after the password, a code page (or, before their first code,
the enrolment page with the QR code as inline SVG and, once confirmed, their recovery codes); the
second-step token travels in a hidden field and works once. Pages are plain server-rendered HTML."""

from __future__ import annotations

import html
from collections.abc import Awaitable, Callable, MutableMapping
from http.cookies import SimpleCookie
from typing import Any, Protocol

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse

from agent.staff.accounts import LoggedIn, LoginRefused, SecondStep, StaffSession
from agent.staff.services import StaffServices

SESSION_COOKIE = "staff_session"
ADMIN_PATH = "/admin"
NO_STORE = {"cache-control": "no-store"}  # pages with a step token, a secret or recovery codes


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
            step = services.login(username, str(form.get("password", "")))
        except LoginRefused as exc:
            return HTMLResponse(_login_page(str(exc)), status_code=401)
        if isinstance(step, SecondStep):
            return HTMLResponse(_enrol_page(step) if step.enrolment else _code_page(step), headers=NO_STORE)
        return _logged_in(step, request, services)

    @app.post(f"{ADMIN_PATH}/login/code")
    async def login_code(request: Request) -> Any:
        form = await request.form()
        try:
            done = services.login_code(str(form.get("step", ""))[:100], str(form.get("code", ""))[:40])
        except LoginRefused as exc:
            return HTMLResponse(_login_page(str(exc)), status_code=401)
        return _logged_in(done, request, services)

    @app.api_route(f"{ADMIN_PATH}/logout", methods=["GET", "POST"])
    def logout(request: Request) -> Any:
        services.logout(request.cookies.get(SESSION_COOKIE))
        response = RedirectResponse(f"{ADMIN_PATH}/login", status_code=303)
        response.delete_cookie(SESSION_COOKIE, path=ADMIN_PATH)
        return response


def _logged_in(done: LoggedIn, request: Request, services: StaffServices) -> Any:
    """The console (or, right after an enrolment, the recovery codes page), with the session cookie."""
    if done.recovery_codes:
        response: Any = HTMLResponse(_recovery_codes_page(done.recovery_codes), headers=NO_STORE)
    else:
        response = RedirectResponse(f"{ADMIN_PATH}/", status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        done.token,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
        path=ADMIN_PATH,
        max_age=services.settings.staff_session_minutes * 60 * 48,  # the server decides expiry
    )
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


def _page(body: str) -> str:
    return (
        '<!doctype html><html><head><meta charset="utf-8"><title>Staff login</title>'
        "<style>body{font-family:system-ui,sans-serif;max-width:22rem;margin:4rem auto}"
        "label,input,button{display:block;width:100%;margin:.4rem 0}input{padding:.4rem}"
        "button{padding:.5rem}code{font-size:1.05rem}svg{display:block;margin:1rem auto}"
        "</style></head><body><h1>Staff console</h1>" + body + "</body></html>"
    )


def _login_page(error: str) -> str:
    message = f'<p role="alert" style="color:#b00020">{html.escape(error)}</p>' if error else ""
    return _page(
        message + f'<form method="post" action="{ADMIN_PATH}/login"><label>User name <input name="username" '
        'id="username" autocomplete="username" required></label><label>Password <input name="password" '
        'id="password" type="password" autocomplete="current-password" required></label>'
        '<button type="submit" id="login">Log in</button></form>'
    )


def _code_form(step: SecondStep, button: str) -> str:
    return (
        f'<form method="post" action="{ADMIN_PATH}/login/code"><input type="hidden" name="step" '
        f'value="{html.escape(step.token)}"><label>Code <input name="code" id="code" '
        'autocomplete="one-time-code" required autofocus></label>'
        f'<button type="submit" id="verify">{button}</button></form>'
    )


def _code_page(step: SecondStep) -> str:
    return _page(
        f"<p>Hello {html.escape(step.username)}: enter the 6-digit code your authenticator app shows now, "
        "or one of your recovery codes (each works once).</p>" + _code_form(step, "Log in")
    )


def _enrol_page(step: SecondStep) -> str:
    assert step.enrolment is not None  # only called for a SecondStep that enrols
    secret = " ".join(step.enrolment.secret[i : i + 4] for i in range(0, len(step.enrolment.secret), 4))
    return _page(
        "<h2>Set up two-factor login</h2><p>Your role needs a code from an authenticator app at every login. "
        "Scan this QR code with the app (or type in the key below), then enter the 6-digit code it shows.</p>"
        + step.enrolment.qr_svg()
        + f'<p>Key: <code id="secret">{html.escape(secret)}</code></p>'
        + _code_form(step, "Confirm")
    )


def _recovery_codes_page(codes: tuple[str, ...]) -> str:
    items = "".join(f"<li><code>{html.escape(code)}</code></li>" for code in codes)
    return _page(
        "<h2>Two-factor login is on</h2><p>Your recovery codes log you in when your phone is not at hand; "
        "each works once. Keep them somewhere safe (a password manager or on paper): <strong>they are shown "
        f'only now</strong>.</p><ol id="recovery-codes">{items}</ol>'
        f'<p><a id="continue" href="{ADMIN_PATH}/">Continue to the console</a></p>'
    )
