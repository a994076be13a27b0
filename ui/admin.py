"""The staff console at /admin: login, and each role's tools. Every call checks the session and the role
on the server (`Console.require`) – hiding a tab is only a convenience."""

from __future__ import annotations

import html
import json
import logging
from collections.abc import Awaitable, Callable, MutableMapping
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any

import gradio as gr
import pandas as pd
from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse

from agent.answering.assistant import SupportAgent
from agent.staff.console import group_gaps, knowledge_status, list_runs, new_run_dir, remove_old_runs, run_overview
from agent.runtime.endpoints import without_password
from agent.errors import AgentError
from agent.privacy.subjects import DataSubjects, pseudonym
from agent.settings import Settings
from agent.staff.accounts import ROLE_ACTIONS, ROLES, LoginRefused, StaffDirectory, StaffSession

log = logging.getLogger(__name__)

SESSION_COOKIE = "staff_session"
_PROGRESS = gr.Progress(track_tqdm=True)  # Gradio fills it in per call; it follows the indexer's tqdm bar
ADMIN_PATH = "/admin"
TABS = {  # tab → the action that makes it visible
    "Knowledge": "knowledge_status",
    "Knowledge gaps": "gaps",
    "Simulations": "simulate",
    "Handoff inbox": "handoff_inbox",
    "Privacy requests": "privacy_find",
    "Retention & redaction": "retention_view",
    "Audit trail": "audit_view",
    "Users": "users_list",
    "Configuration": "config_view",
}


class Console:
    """The console's server side: one method per action, each starting with `require`."""

    def __init__(
        self, settings: Settings, agent: SupportAgent, subjects: DataSubjects, staff: StaffDirectory
    ) -> None:
        self.settings = settings
        self.agent = agent
        self.subjects = subjects
        self.staff = staff

    def require(self, action: str, request: gr.Request | None) -> StaffSession:
        """The caller's session if its role may do `action`; otherwise a refusal (and an audit entry)."""
        session = self.staff.session(session_token(request))
        if session is None:
            self.subjects.audit.record("staff_action", "anonymous", action=action, allowed=False)
            raise gr.Error("Your session has ended. Please log in again at /admin/login.")
        allowed = session.may(action)
        self.subjects.audit.record(
            "staff_action", f"staff:{session.username}", role=session.role, action=action, allowed=allowed
        )
        if not allowed:
            raise gr.Error(f"Your role ({session.role}) may not use “{action}”.")
        return session

    # everyone ----------------------------------------------------------------------------------
    def whoami(self, request: gr.Request) -> tuple[Any, ...]:
        """Greeting and the tabs this role may see."""
        session = self.staff.session(session_token(request))
        if session is None:
            return ("Not logged in.", *[gr.Tab(visible=False) for _ in TABS])
        greeting = f"Logged in as **{session.username}** ({session.role}) · [Log out]({ADMIN_PATH}/logout)"
        return (greeting, *[gr.Tab(visible=session.may(action)) for action in TABS.values()])

    # support lead ------------------------------------------------------------------------------
    def knowledge(self, request: gr.Request) -> dict[str, Any]:
        """Articles by collection / language / status, validation errors, the last index run."""
        self.require("knowledge_status", request)
        return knowledge_status(self.settings)

    def reindex(self, request: gr.Request, progress: gr.Progress = _PROGRESS) -> str:
        """Bring the index up to date with the knowledge folder, then refresh the live retriever."""
        session = self.require("reindex", request)
        from agent.knowledge.index import sync_index
        from agent.knowledge.articles import load_knowledge
        from agent.wiring import open_store

        progress(0, desc="Reading articles")
        kb = load_knowledge(self.settings.knowledge_dir)
        report = sync_index(
            kb,
            self.agent.retriever.embedder,
            self.settings.index_dir,
            chunk_size=self.settings.chunk_size,
            client=open_store(self.settings),
            progress=True,
        )
        self.agent.retriever.refresh()
        self.subjects.audit.record("reindex", f"staff:{session.username}", summary=report.summary())
        return f"Index: {report.summary()}" + (
            f" – {len(kb.problems)} invalid file(s) skipped" if kb.problems else ""
        )

    def gaps(self, request: gr.Request) -> pd.DataFrame:
        """Refused and thumbs-down questions, grouped, most frequent first, with the closest article."""
        self.require("gaps", request)
        signals = self.subjects.store.signals(("refused", "thumbs_down"))
        groups = group_gaps(signals, self.agent.retriever.embedder, self.agent.retriever)
        return pd.DataFrame(
            [
                {
                    "asked": g.size,
                    "refused": g.kinds.get("refused", 0),
                    "thumbs down": g.kinds.get("thumbs_down", 0),
                    "questions (redacted)": " | ".join(dict.fromkeys(g.questions))[:500],
                    "closest article": g.closest_article,
                    "relevance": round(g.closest_score, 3),
                }
                for g in groups
            ],
            columns=[
                "asked",
                "refused",
                "thumbs down",
                "questions (redacted)",
                "closest article",
                "relevance",
            ],
        )

    def simulate(
        self, upload: str | None, knowledge: str, retrieval_only: bool, request: gr.Request
    ) -> tuple[str, pd.DataFrame, Any, Any]:
        """Replay uploaded tickets (CSV or JSONL) against the live or a draft knowledge folder."""
        session = self.require("simulate", request)
        from agent.evaluation.simulate import load_questions, run_simulation
        from agent.wiring import build_simulation

        if not upload:
            raise gr.Error("Upload a CSV or JSONL file of questions first.")
        folder = self._knowledge_choice(knowledge)
        questions = load_questions(Path(upload))
        out = new_run_dir(self.settings, f"{folder.name}-{'retrieval' if retrieval_only else 'answers'}")
        (out / "run.json").write_text(json.dumps({"knowledge": str(folder), "by": session.username}))
        pipeline, kb = build_simulation(self.settings, out, knowledge=folder)
        run_simulation(pipeline, questions, out, kb=kb, retrieval_only=retrieval_only, progress=False)
        remove_old_runs(self.settings)
        self.subjects.audit.record(
            "simulation", f"staff:{session.username}", run=out.name, questions=len(questions)
        )
        overview = run_overview(self.settings, out.name)
        runs = list_runs(self.settings)
        return (
            _overview_markdown(overview),
            _chart_frame([overview]),
            gr.Dropdown(choices=runs, value=out.name),
            gr.Dropdown(choices=runs),
        )

    def compare(self, first: str, second: str, request: gr.Request) -> tuple[pd.DataFrame, pd.DataFrame]:
        """Two runs side by side: a table and a chart."""
        self.require("simulation_compare", request)
        if not first or not second:
            raise gr.Error("Choose two runs.")
        runs = [run_overview(self.settings, run) for run in (first, second)]
        table = pd.DataFrame(
            [{"figure": key, "A: " + first: runs[0][key], "B: " + second: runs[1][key]} for key in runs[0]]
        )
        return table.astype(str), _chart_frame(runs)

    def runs(self, request: gr.Request) -> tuple[Any, Any]:
        """Refresh the lists of finished runs."""
        self.require("simulation_compare", request)
        runs = list_runs(self.settings)
        return gr.Dropdown(choices=runs), gr.Dropdown(choices=runs)

    def inbox(self, request: gr.Request) -> pd.DataFrame:
        """Open handoff tickets, oldest first."""
        self.require("handoff_inbox", request)
        return pd.DataFrame(
            [
                {
                    "ticket": t.id,
                    "created": t.created_at,
                    "contact": t.contact,
                    "transcript (redacted)": t.transcript,
                }
                for t in self.subjects.store.tickets(status="open")
            ],
            columns=["ticket", "created", "contact", "transcript (redacted)"],
        )

    def close_ticket(self, ticket: float | None, request: gr.Request) -> tuple[str, pd.DataFrame]:
        """Mark a ticket done."""
        session = self.require("handoff_done", request)
        if not ticket:
            raise gr.Error("Enter a ticket number.")
        try:
            self.subjects.store.close_ticket(int(ticket), by=session.username)
        except AgentError as exc:
            raise gr.Error(str(exc)) from None
        self.subjects.audit.record("handoff_done", f"staff:{session.username}", ticket=int(ticket))
        return f"Ticket #{int(ticket)} is done.", self.inbox(request)

    # privacy officer ---------------------------------------------------------------------------
    def find_subject(self, reference: str, request: gr.Request) -> str:
        """What is stored for a reference code, and the audit entries about it."""
        self.require("privacy_find", request)
        code = self._known(reference)
        consent_at, notice = self.subjects.store.consent(code)
        subject = self.subjects.store.subject_id(code)
        alias = pseudonym(subject)
        messages = len(self.subjects.store.messages(code))
        tickets = len(self.subjects.store.tickets(subject=subject))
        feedback = len(self.subjects.store.signals(("refused", "thumbs_up", "thumbs_down"), subject))
        entries = [e for e in self.subjects.audit.entries() if e["details"].get("subject") == alias]
        lines = [
            f"**Subject {alias}** – consent {consent_at} (notice {notice}); {messages} messages, "
            f"{tickets} handoff tickets, {feedback} feedback rows.",
            "",
            "| # | time | event | actor |",
            "|---|---|---|---|",
            *[f"| {e['seq']} | {e['at']} | {e['event']} | {e['actor']} |" for e in entries],
        ]
        return "\n".join(lines)

    def export_subject(self, reference: str, request: gr.Request) -> str:
        """The subject's data as a JSON file (Art. 15/20)."""
        session = self.require("privacy_export", request)
        return str(self.subjects.export_file(self._known(reference), actor=f"staff:{session.username}"))

    def erase_subject(self, reference: str, confirmed: bool, request: gr.Request) -> str:
        """Erase the subject (Art. 17); returns the receipt."""
        session = self.require("privacy_erase", request)
        if not confirmed:
            raise gr.Error("Tick “I confirm” first: erasure cannot be undone.")
        receipt = self.subjects.erase(self._known(reference), actor=f"staff:{session.username}")
        return "```json\n" + json.dumps(receipt, indent=2) + "\n```"

    def retention(self, request: gr.Request) -> str:
        """Retention setting, what is stored now, the last purges."""
        self.require("retention_view", request)
        subjects, messages = self.subjects.store.counts()
        purges = [e for e in self.subjects.audit.entries() if e["event"] == "purge"][-5:]
        rows = [
            f"| {e['at']} | {e['actor']} | {e['details'].get('expired_conversations_erased')} |"
            for e in purges
        ]
        return "\n".join(
            [
                f"Retention: **{self.settings.retention_days} days** after the last message; purge every "
                f"{self.settings.purge_interval_minutes} minutes. Stored now: {subjects} conversations, "
                f"{messages} messages.",
                "",
                "| purge | by | erased |",
                "|---|---|---|",
                *rows,
            ]
        )

    def redaction_stats(self, request: gr.Request) -> pd.DataFrame:
        """How much personal data the redactor removed, per day and type (stored conversations)."""
        self.require("redaction_stats", request)
        return pd.DataFrame(self.subjects.store.redaction_counts(), columns=["day", "type", "removed"])

    def audit_log(self, request: gr.Request) -> pd.DataFrame:
        """The newest 200 audit entries."""
        self.require("audit_view", request)
        rows = [
            {
                "#": e["seq"],
                "time": e["at"],
                "event": e["event"],
                "actor": e["actor"],
                "details": json.dumps({k: v for k, v in e["details"].items() if k != "digests"}),
            }
            for e in self.subjects.audit.entries()[-200:]
        ]
        return pd.DataFrame(rows[::-1], columns=["#", "time", "event", "actor", "details"])

    def audit_verify(self, request: gr.Request) -> str:
        """Check the hash chain."""
        self.require("audit_verify", request)
        report = self.subjects.audit.verify()
        if report.ok:
            return f"✅ Intact: {report.entries} entries, head `{report.head}`."
        return "❌ **Tampered:**\n\n" + "\n".join(f"- {p}" for p in report.problems)

    # admin -------------------------------------------------------------------------------------
    def users(self, request: gr.Request) -> pd.DataFrame:
        """Every staff account."""
        self.require("users_list", request)
        return _users_frame(self.staff)

    def add_user(
        self, username: str, role: str, password: str, request: gr.Request
    ) -> tuple[str, pd.DataFrame]:
        """Create an account."""
        session = self.require("users_add", request)
        try:
            self.staff.add(username, role, password)
        except AgentError as exc:
            raise gr.Error(str(exc)) from None
        self.subjects.audit.record("staff_user_added", f"staff:{session.username}", user=username, role=role)
        return f"Added {username} ({role}).", _users_frame(self.staff)

    def remove_user(self, username: str, request: gr.Request) -> tuple[str, pd.DataFrame]:
        """Delete an account."""
        session = self.require("users_remove", request)
        if username == session.username:
            raise gr.Error("You cannot remove your own account.")
        try:
            self.staff.remove(username)
        except AgentError as exc:
            raise gr.Error(str(exc)) from None
        self.subjects.audit.record("staff_user_removed", f"staff:{session.username}", user=username)
        return f"Removed {username}.", _users_frame(self.staff)

    def reset_password(self, username: str, password: str, request: gr.Request) -> str:
        """Set a new password (unlocks the account)."""
        session = self.require("users_reset", request)
        try:
            self.staff.reset_password(username, password)
        except AgentError as exc:
            raise gr.Error(str(exc)) from None
        self.subjects.audit.record("staff_password_reset", f"staff:{session.username}", user=username)
        return f"New password set for {username}; the account is unlocked."

    def configuration(self, request: gr.Request) -> dict[str, Any]:
        """The live settings, without secrets."""
        self.require("config_view", request)
        values = self.settings.model_dump(mode="json", exclude={"master_key"})
        for name in ("conversation_store_url", "key_store_url", "handoff_webhook_url", "vector_store_url"):
            if values.get(name):
                values[name] = without_password(values[name])
        values["master_key"] = "(set)" if self.settings.master_key else "(key file)"
        return values

    # helpers -----------------------------------------------------------------------------------
    def _known(self, reference: str) -> str:
        try:
            return self.subjects.known(reference)
        except AgentError as exc:
            raise gr.Error(str(exc)) from None

    def _knowledge_choice(self, choice: str) -> Path:
        allowed = {str(p): p for p in [self.settings.knowledge_dir, *self.settings.draft_knowledge_dirs]}
        if choice not in allowed:
            raise gr.Error("Choose the live knowledge folder or one of the configured draft folders.")
        return allowed[choice]


def build_console(console: Console) -> gr.Blocks:
    """The console page; tabs appear per role after login."""
    settings = console.settings
    knowledge_choices = [str(p) for p in [settings.knowledge_dir, *settings.draft_knowledge_dirs]]
    with gr.Blocks(title=f"{settings.company_name} – Staff console", analytics_enabled=False) as page:
        who = gr.Markdown("", elem_id="who")
        tabs = {}
        with gr.Tabs():
            with gr.Tab("Knowledge", visible=False) as tabs["Knowledge"]:
                refresh = gr.Button("Refresh")
                status = gr.JSON(label="Knowledge status")
                reindex = gr.Button("Reindex now", variant="primary")
                reindex_out = gr.Markdown()
                refresh.click(console.knowledge, None, status, api_name="knowledge_status")
                reindex.click(console.reindex, None, reindex_out, api_name="reindex")
            with gr.Tab("Knowledge gaps", visible=False) as tabs["Knowledge gaps"]:
                load_gaps = gr.Button("Load")
                gaps = gr.Dataframe(label="Questions the help center does not serve yet", wrap=True)
                load_gaps.click(console.gaps, None, gaps, api_name="gaps")
            with gr.Tab("Simulations", visible=False) as tabs["Simulations"]:
                with gr.Row():
                    upload = gr.File(
                        label="Past tickets (CSV or JSONL)", file_types=[".csv", ".jsonl"], type="filepath"
                    )
                    with gr.Column():
                        folder = gr.Dropdown(
                            knowledge_choices, value=knowledge_choices[0], label="Knowledge folder"
                        )
                        retrieval_only = gr.Checkbox(label="Retrieval only (fast: no answers generated)")
                        run = gr.Button("Run simulation", variant="primary")
                overview = gr.Markdown()
                chart = gr.BarPlot(x="figure", y="value", color="run", title="Run figures")
                with gr.Row():
                    first = gr.Dropdown([], label="Run A", allow_custom_value=True)
                    second = gr.Dropdown([], label="Run B", allow_custom_value=True)
                    refresh_runs = gr.Button("Refresh runs")
                    compare = gr.Button("Compare")
                comparison = gr.Dataframe(label="Side by side")
                compare_chart = gr.BarPlot(x="figure", y="value", color="run", title="A vs B")
                run.click(
                    console.simulate,
                    [upload, folder, retrieval_only],
                    [overview, chart, first, second],
                    api_name="simulate",
                )
                refresh_runs.click(console.runs, None, [first, second], api_name="simulation_runs")
                compare.click(
                    console.compare,
                    [first, second],
                    [comparison, compare_chart],
                    api_name="simulation_compare",
                )
            with gr.Tab("Handoff inbox", visible=False) as tabs["Handoff inbox"]:
                load_inbox = gr.Button("Load open tickets")
                inbox = gr.Dataframe(label="Open tickets", wrap=True)
                with gr.Row():
                    ticket = gr.Number(label="Ticket number", precision=0)
                    done = gr.Button("Mark done")
                done_out = gr.Markdown()
                load_inbox.click(console.inbox, None, inbox, api_name="handoff_inbox")
                done.click(console.close_ticket, [ticket], [done_out, inbox], api_name="handoff_done")
            with gr.Tab("Privacy requests", visible=False) as tabs["Privacy requests"]:
                reference = gr.Textbox(label="Reference code")
                with gr.Row():
                    find = gr.Button("Find")
                    export = gr.Button("Export (JSON)")
                    confirm = gr.Checkbox(label="I confirm the erasure")
                    erase = gr.Button("Erase", variant="stop")
                found = gr.Markdown()
                exported = gr.File(label="Export", interactive=False)
                find.click(console.find_subject, [reference], found, api_name="privacy_find")
                export.click(console.export_subject, [reference], exported, api_name="privacy_export")
                erase.click(console.erase_subject, [reference, confirm], found, api_name="privacy_erase")
            with gr.Tab("Retention & redaction", visible=False) as tabs["Retention & redaction"]:
                load_retention = gr.Button("Retention")
                retention = gr.Markdown()
                load_redaction = gr.Button("Redaction statistics")
                redaction = gr.Dataframe(label="Personal data removed")
                load_retention.click(console.retention, None, retention, api_name="retention_view")
                load_redaction.click(console.redaction_stats, None, redaction, api_name="redaction_stats")
            with gr.Tab("Audit trail", visible=False) as tabs["Audit trail"]:
                with gr.Row():
                    load_audit = gr.Button("Load")
                    verify = gr.Button("Verify the chain")
                verified = gr.Markdown()
                audit = gr.Dataframe(label="Newest entries", wrap=True)
                load_audit.click(console.audit_log, None, audit, api_name="audit_view")
                verify.click(console.audit_verify, None, verified, api_name="audit_verify")
            with gr.Tab("Users", visible=False) as tabs["Users"]:
                load_users = gr.Button("Load")
                users = gr.Dataframe(label="Staff accounts")
                with gr.Row():
                    username = gr.Textbox(label="User name")
                    role = gr.Dropdown(list(ROLES), value=ROLES[0], label="Role")
                    password = gr.Textbox(label="Password (12+ characters)", type="password")
                with gr.Row():
                    add = gr.Button("Add")
                    remove = gr.Button("Remove")
                    reset = gr.Button("Set password")
                users_out = gr.Markdown()
                load_users.click(console.users, None, users, api_name="users_list")
                add.click(
                    console.add_user, [username, role, password], [users_out, users], api_name="users_add"
                )
                remove.click(console.remove_user, [username], [users_out, users], api_name="users_remove")
                reset.click(console.reset_password, [username, password], users_out, api_name="users_reset")
            with gr.Tab("Configuration", visible=False) as tabs["Configuration"]:
                load_config = gr.Button("Show")
                config = gr.JSON(label="Live configuration (secrets hidden)")
                load_config.click(console.configuration, None, config, api_name="config_view")
        page.load(console.whoami, None, [who, *tabs.values()], api_visibility="private")
    return page


def session_token(request: gr.Request | Any | None) -> str | None:
    """The staff session cookie of a request."""
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


def add_login_routes(app: Any, console: Console) -> None:
    """GET/POST /admin/login and /admin/logout on the FastAPI app (before the console is mounted)."""

    @app.get(f"{ADMIN_PATH}/login", response_class=HTMLResponse)
    def login_form() -> str:
        return _login_page("")

    @app.post(f"{ADMIN_PATH}/login")
    async def login(request: Request) -> Any:
        form = await request.form()
        username = str(form.get("username", "")).strip().lower()[:40]
        try:
            token, session = console.staff.login(username, str(form.get("password", "")))
        except LoginRefused as exc:
            console.subjects.audit.record(
                "staff_login", f"staff:{username or '-'}", ok=False, reason=str(exc)
            )
            return HTMLResponse(_login_page(str(exc)), status_code=401)
        console.subjects.audit.record("staff_login", f"staff:{session.username}", ok=True, role=session.role)
        response = RedirectResponse(f"{ADMIN_PATH}/", status_code=303)
        response.set_cookie(
            SESSION_COOKIE,
            token,
            httponly=True,
            samesite="strict",
            secure=request.url.scheme == "https",
            path=ADMIN_PATH,
            max_age=console.settings.staff_session_minutes * 60 * 48,  # the server decides expiry
        )
        return response

    @app.api_route(f"{ADMIN_PATH}/logout", methods=["GET", "POST"])
    def logout(request: Request) -> Any:
        token = request.cookies.get(SESSION_COOKIE)
        session = console.staff.session(token)
        console.staff.logout(token)
        if session:
            console.subjects.audit.record("staff_logout", f"staff:{session.username}")
        response = RedirectResponse(f"{ADMIN_PATH}/login", status_code=303)
        response.delete_cookie(SESSION_COOKIE, path=ADMIN_PATH)
        return response


class AdminGate:
    """Sends a browser that opens the console without a valid session to the login page."""

    def __init__(self, app: Any, staff: StaffDirectory) -> None:
        self.app = app
        self.staff = staff

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
            if self.staff.session(token_from_cookie_header(headers.get("cookie", ""))) is None:
                await send(
                    {
                        "type": "http.response.start",
                        "status": 303,
                        "headers": [(b"location", b"/admin/login")],
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


def _users_frame(staff: StaffDirectory) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {"user": u.username, "role": u.role, "locked": u.locked, "created": u.created_at}
            for u in staff.users()
        ],
        columns=["user", "role", "locked", "created"],
    )


def _overview_markdown(overview: dict[str, Any]) -> str:
    return (
        f"**{overview['run']}** on `{overview['knowledge']}`: {overview['questions']} questions – "
        f"{overview['answered']} answered, {overview['refused']} refused; citation accuracy "
        f"{overview['citation_accuracy']}, recall@3 {overview['recall@3']}; latency p50 "
        f"{overview['latency_p50_s']} s, p95 {overview['latency_p95_s']} s."
    )


def _chart_frame(runs: list[dict[str, Any]]) -> pd.DataFrame:
    rows = []
    for run in runs:
        for figure in ("answered", "refused", "citation_accuracy", "latency_p50_s"):
            value = run.get(figure)
            rows.append(
                {"run": run["run"], "figure": figure, "value": float(value) if value is not None else 0.0}
            )
    return pd.DataFrame(rows, columns=["run", "figure", "value"])


__all__ = ["ROLE_ACTIONS", "Console", "build_console", "add_login_routes", "AdminGate"]
