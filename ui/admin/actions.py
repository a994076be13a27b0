"""The console's server side: one method per action, each starting with `Console.require`, which checks
the session and the role on the server (hiding a tab is only a convenience). The work itself and its
audit entries are `agent.staff.services.StaffServices`'; this module turns them into Gradio values."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import gradio as gr
import pandas as pd

from agent.errors import AgentError
from agent.privacy.backup import create_backup
from agent.privacy.dpia import dpia_draft
from agent.privacy.incidents import incident_report, parse_since
from agent.privacy.records import processing_record, subprocessor_list
from agent.staff.accounts import StaffSession, StaffUser
from agent.staff.services import NotAllowed, NotLoggedIn, StaffServices, staff_actor
from ui.admin.login import ADMIN_PATH, session_token

_PROGRESS = gr.Progress(track_tqdm=True)  # Gradio fills it in per call; it follows the indexer's tqdm bar
TABS = {  # tab → the action that makes it visible
    "Overview": "overview",
    "Knowledge": "knowledge_status",
    "Knowledge gaps": "gaps",
    "Simulations": "simulate",
    "Import": "import_run",
    "Drafts & publishing": "drafts_list",
    "Handoff inbox": "handoff_inbox",
    "Privacy requests": "privacy_find",
    "Records & incidents": "privacy_records",
    "Retention & redaction": "retention_view",
    "Audit trail": "audit_view",
    "Users": "users_list",
    "Configuration": "config_view",
}


class Console:
    """The console's server side: one method per action, each starting with `require`."""

    def __init__(self, services: StaffServices) -> None:
        self.services = services
        self.settings = services.settings

    def require(self, action: str, request: gr.Request | None) -> StaffSession:
        """The caller's session if its role may do `action`; otherwise a refusal (and an audit entry)."""
        try:
            return self.services.authorize(session_token(request), action)
        except NotLoggedIn:
            raise gr.Error(f"Your session has ended. Please log in again at {ADMIN_PATH}/login.") from None
        except NotAllowed as exc:
            raise gr.Error(str(exc)) from None

    # everyone ----------------------------------------------------------------------------------
    def whoami(self, request: gr.Request) -> tuple[Any, ...]:
        """Greeting and the tabs this role may see."""
        session = self.services.session(session_token(request))
        if session is None:
            return ("Not logged in.", *[gr.Tab(visible=False) for _ in TABS])
        greeting = f"Logged in as **{session.username}** ({session.role}) · [Log out]({ADMIN_PATH}/logout)"
        return (greeting, *[gr.Tab(visible=session.may(action)) for action in TABS.values()])

    # support lead ------------------------------------------------------------------------------
    def reindex(self, request: gr.Request, progress: gr.Progress = _PROGRESS) -> str:
        """Bring the index up to date with the knowledge folder, then refresh the live retriever."""
        session = self.require("reindex", request)
        progress(0, desc="Reading articles")
        kb = self.services.knowledge()
        report = self.services.reindex(staff_actor(session.username), kb, progress=True)
        return f"Index: {report.summary()}" + (
            f" – {len(kb.problems)} invalid file(s) skipped" if kb.problems else ""
        )

    def gaps(self, request: gr.Request) -> pd.DataFrame:
        """Refused and thumbs-down questions, grouped, most frequent first, with the closest article."""
        self.require("gaps", request)
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
                for g in self.services.gaps()
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
        if not upload:
            raise gr.Error("Upload a CSV or JSONL file of questions first.")
        folder = self._knowledge_choice(knowledge)
        try:
            run = self.services.simulate(
                Path(upload), folder, retrieval_only=retrieval_only, username=session.username
            )
        except AgentError as exc:  # e.g. a draft folder without one valid article
            raise gr.Error(str(exc)) from None
        overview = self.services.run_overview(run)
        runs = self.services.runs()
        return (
            _overview_markdown(overview),
            _chart_frame([overview]),
            gr.Dropdown(choices=runs, value=run),
            gr.Dropdown(choices=runs),
        )

    def compare(self, first: str, second: str, request: gr.Request) -> tuple[pd.DataFrame, pd.DataFrame]:
        """Two runs side by side: a table and a chart."""
        self.require("simulation_compare", request)
        if not first or not second:
            raise gr.Error("Choose two runs.")
        runs = [self.services.run_overview(run) for run in (first, second)]
        table = pd.DataFrame(
            [{"figure": key, "A: " + first: runs[0][key], "B: " + second: runs[1][key]} for key in runs[0]]
        )
        return table.astype(str), _chart_frame(runs)

    def runs(self, request: gr.Request) -> tuple[Any, Any]:
        """Refresh the lists of finished runs."""
        self.require("simulation_compare", request)
        runs = self.services.runs()
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
                for t in self.services.open_tickets()
            ],
            columns=["ticket", "created", "contact", "transcript (redacted)"],
        )

    def close_ticket(self, ticket: float | None, request: gr.Request) -> tuple[str, pd.DataFrame]:
        """Mark a ticket done."""
        session = self.require("handoff_done", request)
        if not ticket:
            raise gr.Error("Enter a ticket number.")
        try:
            self.services.close_ticket(int(ticket), session.username)
        except AgentError as exc:
            raise gr.Error(str(exc)) from None
        return f"Ticket #{int(ticket)} is done.", self.inbox(request)

    # privacy officer ---------------------------------------------------------------------------
    def find_subject(self, reference: str, request: gr.Request) -> str:
        """What is stored for a reference code, and the audit entries about it."""
        self.require("privacy_find", request)
        try:
            found = self.services.find_subject(reference)
        except AgentError as exc:
            raise gr.Error(str(exc)) from None
        s = found.summary
        lines = [
            f"**Subject {s.pseudonym}** – consent {s.consent_at} (notice {s.notice_version}); "
            f"{s.messages} messages, {s.tickets} handoff tickets, {s.feedback} feedback rows. "
            f"Restricted since: {s.restricted_at or '–'}; "
            f"objected to improvement since: {s.objected_at or '–'}.",
            "",
            "| # | time | event | actor |",
            "|---|---|---|---|",
            *[f"| {e['seq']} | {e['at']} | {e['event']} | {e['actor']} |" for e in found.entries],
        ]
        return "\n".join(lines)

    def export_subject(self, reference: str, request: gr.Request) -> str:
        """The subject's data as a JSON file (Art. 15/20)."""
        session = self.require("privacy_export", request)
        code = self._known(reference)
        return str(self.services.subjects.export_file(code, actor=staff_actor(session.username)))

    def erase_subject(self, reference: str, confirmed: bool, request: gr.Request) -> str:
        """Erase the subject (Art. 17); returns the receipt."""
        session = self.require("privacy_erase", request)
        if not confirmed:
            raise gr.Error("Tick “I confirm” first: erasure cannot be undone.")
        code = self._known(reference)
        receipt = self.services.subjects.erase(code, actor=staff_actor(session.username))
        return "```json\n" + json.dumps(receipt, indent=2) + "\n```"

    def limit_processing(self, reference: str, limit: str, request: gr.Request) -> str:
        """Restrict processing or lift it (Art. 18), object or withdraw the objection (Art. 21)."""
        session = self.require("privacy_limit", request)
        code = self._known(reference)
        try:
            limits = self.services.subjects.limit_processing(code, limit, actor=staff_actor(session.username))
        except AgentError as exc:
            raise gr.Error(str(exc)) from None
        return (
            f"Restricted since: {limits.restricted_at or '–'} · "
            f"objected to improving the help center since: {limits.objected_at or '–'}"
        )

    def rectify(
        self, reference: str, target: str, number: float | None, text: str, request: gr.Request
    ) -> str:
        """Correct a stored message or a ticket's contact (Art. 16), by its number in the export."""
        session = self.require("privacy_rectify", request)
        code, actor = self._known(reference), staff_actor(session.username)
        if number is None:
            raise gr.Error("Give the number of the message or ticket (from the export).")
        try:
            if target == "contact":
                self.services.subjects.rectify_contact(code, int(number), text, actor=actor)
            else:
                self.services.subjects.rectify_message(code, int(number), text, actor=actor)
        except AgentError as exc:
            raise gr.Error(str(exc)) from None
        return f"{target.capitalize()} {int(number)} corrected."

    def records(self, request: gr.Request) -> str:
        """The Art. 30 record, the DPIA inputs and the subprocessor list, from the live configuration."""
        self.require("privacy_records", request)
        return "\n\n".join(
            (processing_record(self.settings), dpia_draft(self.settings), subprocessor_list(self.settings))
        )

    def incident(self, since: str, request: gr.Request) -> str:
        """The Art. 33 facts since a time and a draft notification (audited)."""
        session = self.require("privacy_incident", request)
        try:
            start = parse_since(since)
            facts, draft = incident_report(
                self.settings, self.services.subjects, start, actor=staff_actor(session.username)
            )
        except AgentError as exc:
            raise gr.Error(str(exc)) from None
        return "```json\n" + json.dumps(facts.as_dict(), indent=2) + "\n```\n\n```text\n" + draft + "```"

    def retention(self, request: gr.Request) -> str:
        """Retention periods per category, what is stored now, the last purges."""
        self.require("retention_view", request)
        subjects, messages = self.services.store_counts()
        purges = self.services.audit_entries("purge")[-5:]
        counted = (
            "expired_conversations_erased",
            "handoff_tickets_deleted",
            "feedback_deleted",
            "simulation_uploads_deleted",
            "simulation_runs_deleted",
            "audit_entries_pruned",
        )
        rows = [
            f"| {e['at']} | {e['actor']} | "
            + " | ".join(str(e["details"].get(k, "")) for k in counted)
            + " |"
            for e in purges
        ]
        s = self.settings
        return "\n".join(
            [
                f"Retention: **{s.retention_days} days** after the last message; handoff tickets "
                f"{s.ticket_retention_days} days after done; feedback {s.feedback_retention_days} days; "
                f"anonymous answer statistics {s.statistics_retention_days} days; "
                f"simulation uploads and reports {s.simulation_retention_days} days; audit trail "
                f"{s.audit_retention_days} days. Purge every {s.purge_interval_minutes} minutes. Stored now: "
                f"{subjects} conversations, {messages} messages.",
                "",
                "| purge | by | conversations erased | tickets | feedback | sim. files | sim. runs | audit |",
                "|---|---|---|---|---|---|---|---|",
                *rows,
            ]
        )

    def redaction_stats(self, request: gr.Request) -> pd.DataFrame:
        """How much personal data the redactor removed, per day and type (stored conversations)."""
        self.require("redaction_stats", request)
        return pd.DataFrame(self.services.redaction_counts(), columns=["day", "type", "removed"])

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
            for e in self.services.audit_entries()[-200:]
        ]
        return pd.DataFrame(rows[::-1], columns=["#", "time", "event", "actor", "details"])

    def audit_verify(self, request: gr.Request) -> str:
        """Check the hash chain."""
        self.require("audit_verify", request)
        report = self.services.audit_verify()
        if report.ok:
            return f"✅ Intact: {report.entries} entries, head `{report.head}`."
        return "❌ **Tampered:**\n\n" + "\n".join(f"- {p}" for p in report.problems)

    # admin -------------------------------------------------------------------------------------
    def users(self, request: gr.Request) -> pd.DataFrame:
        """Every staff account."""
        self.require("users_list", request)
        return _users_frame(self.services.users())

    def add_user(
        self, username: str, role: str, password: str, request: gr.Request
    ) -> tuple[str, pd.DataFrame]:
        """Create an account."""
        session = self.require("users_add", request)
        try:
            self.services.add_user(username, role, password, actor=staff_actor(session.username))
        except AgentError as exc:
            raise gr.Error(str(exc)) from None
        return f"Added {username} ({role}).", _users_frame(self.services.users())

    def remove_user(self, username: str, request: gr.Request) -> tuple[str, pd.DataFrame]:
        """Delete an account."""
        session = self.require("users_remove", request)
        if username == session.username:
            raise gr.Error("You cannot remove your own account.")
        try:
            self.services.remove_user(username, actor=staff_actor(session.username))
        except AgentError as exc:
            raise gr.Error(str(exc)) from None
        return f"Removed {username}.", _users_frame(self.services.users())

    def reset_password(self, username: str, password: str, request: gr.Request) -> str:
        """Set a new password (unlocks the account)."""
        session = self.require("users_reset", request)
        try:
            self.services.reset_password(username, password, actor=staff_actor(session.username))
        except AgentError as exc:
            raise gr.Error(str(exc)) from None
        return f"New password set for {username}; the account is unlocked."

    def configuration(self, request: gr.Request) -> dict[str, Any]:
        """The live settings, without secrets."""
        self.require("config_view", request)
        return self.services.configuration()

    def backup(self, folder: str, passphrase: str, request: gr.Request) -> str:
        """Back up the conversations, keys (under the passphrase) and audit trail into a new folder on
        the server. Restoring needs the server stopped: `support-agent backup restore`."""
        session = self.require("backup_create", request)
        target = Path(folder.strip())
        if not target.is_absolute():
            raise gr.Error("Give the backup folder as an absolute path on the server, e.g. /backups/today")
        try:
            info = create_backup(self.settings, target, passphrase, staff_actor(session.username))
        except AgentError as exc:
            raise gr.Error(str(exc)) from None
        return (
            f"Backup written to `{info.folder}`: {len(info.files)} files, taken at audit entry "
            f"{info.audit_seq}. The master key is not in it: keep a copy of the key somewhere else."
        )

    # helpers -----------------------------------------------------------------------------------
    def _known(self, reference: str) -> str:
        try:
            return self.services.subjects.known(reference)
        except AgentError as exc:
            raise gr.Error(str(exc)) from None

    def _knowledge_choice(self, choice: str) -> Path:
        allowed = {str(p): p for p in self.services.knowledge_folders()}
        if choice not in allowed:
            raise gr.Error("Choose the live knowledge folder or one of the configured draft folders.")
        return allowed[choice]


def _users_frame(users: list[StaffUser]) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "user": u.username,
                "role": u.role,
                "locked": u.locked,
                "2fa": u.two_factor,
                "created": u.created_at,
            }
            for u in users
        ],
        columns=["user", "role", "locked", "2fa", "created"],
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
