"""The staff console at /admin, a thin UI over `agent.staff.services.StaffServices`.

What belongs here, and only this: Gradio and HTTP. `actions.py` holds `Console`, the server side of
every console action (each starts with `Console.require`: session and role are checked on the server,
hiding a tab is only a convenience); `page.py` the Gradio Blocks layout (`build_console`); `login.py` the
login and logout routes, the session cookie and the `AdminGate` in front of the console. No module here
touches a store or the audit trail: staff actions, staff views and their audit entries live in
`agent/staff/services.py`, privacy requests in `agent/privacy/subjects.py`.
"""

from agent.staff.accounts import ROLE_ACTIONS
from ui.admin.actions import TABS, Console
from ui.admin.login import (
    ADMIN_PATH,
    SESSION_COOKIE,
    AdminGate,
    add_login_routes,
    session_token,
    token_from_cookie_header,
)
from ui.admin.page import build_console

__all__ = [
    "ADMIN_PATH",
    "ROLE_ACTIONS",
    "SESSION_COOKIE",
    "TABS",
    "AdminGate",
    "Console",
    "add_login_routes",
    "build_console",
    "session_token",
    "token_from_cookie_header",
]
