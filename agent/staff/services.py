"""The staff side of the application, without any UI: every audited staff action and every staff view.

The console (ui/admin/) and the command line (agent/cli.py) both call these methods, so an action is
done – and written to the audit trail – the same way wherever it starts. Audit event names and actor
strings ("staff:<user>" in the console, "cli:<user>" on the command line) are part of the audit format.

Everything is taken from the `agent.wiring.Services` it belongs to, on first use: a command like
`users list` never loads a model, and the console shares (and refreshes) the chat's live retriever.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agent.errors import AgentError
from agent.knowledge.articles import KnowledgeBase, load_knowledge
from agent.knowledge.index import IndexReport, sync_index
from agent.knowledge.retrieval import Retriever
from agent.knowledge.versions import ON_DISK, VERSIONS_FILE, ArticleVersions
from agent.privacy.audit import AuditReport
from agent.privacy.store import Ticket
from agent.privacy.subjects import DataSubjects, SubjectSummary
from agent.runtime.endpoints import without_password
from agent.staff.accounts import (
    LoggedIn,
    LoginRefused,
    SecondStep,
    StaffDirectory,
    StaffError,
    StaffSession,
    StaffUser,
)
from agent.staff.console import (
    GAP_KINDS,
    Gap,
    group_gaps,
    knowledge_status,
    list_runs,
    new_run_dir,
    remove_old_runs,
    run_overview,
)
from agent.staff.curated import CuratedAnswers
from agent.staff.two_factor import Enrolment

if TYPE_CHECKING:
    from agent.staff.publishing import Publishing
    from agent.wiring import Services

SECRET_URLS = (
    "conversation_store_url",
    "key_store_url",
    "handoff_webhook_url",
    "alert_webhook_url",
    "vector_store_url",
)


class NotLoggedIn(AgentError):
    """No valid staff session (never logged in, logged out, or expired)."""


class NotAllowed(AgentError):
    """The session's role does not include the action."""


def staff_actor(username: str) -> str:
    """The audit trail's actor for a staff member working in the console."""
    return f"staff:{username}"


@dataclass(frozen=True)
class SubjectFindings:
    """What the privacy officer sees for a reference code: what is stored and the audit entries about it."""

    summary: SubjectSummary
    entries: list[dict[str, Any]]


class StaffServices:
    """Staff accounts and sessions, the audited staff actions, and the figures the console shows.

    Built by `agent.wiring.Services.staff_services` over the Services it belongs to: the stores and the
    agent are taken from there on first use, so a command that needs no model never loads one.
    """

    def __init__(self, services: Services) -> None:
        self._services = services
        self.settings = services.settings

    @property
    def subjects(self) -> DataSubjects:
        """The customers' data: privacy requests (export, erasure, purge) are DataSubjects' own."""
        return self._services.subjects

    @property
    def staff(self) -> StaffDirectory:
        """The staff accounts and sessions."""
        return self._services.staff

    # sessions -----------------------------------------------------------------------------------
    def login(self, username: str, password: str) -> LoggedIn | SecondStep:
        """A new session for a correct password, or the code step when the account needs one;
        LoginRefused otherwise. Each outcome is audited (never the password)."""
        try:
            step = self.staff.login(username, password)
        except LoginRefused as exc:
            self._audit(
                "staff_login", staff_actor(username or "-"), ok=False, reason=str(exc), step="password"
            )
            raise
        if isinstance(step, SecondStep):
            self._audit(
                "staff_login_code_asked", staff_actor(step.username), enrol=step.enrolment is not None
            )
        else:
            self._audited_login(step)
        return step

    def login_code(self, step_token: str, code: str) -> LoggedIn:
        """The session for the right TOTP or recovery code after a correct password; LoginRefused
        otherwise (counted towards the lockout). Audited like passwords, never with the code."""
        try:
            done = self.staff.second_step(step_token, code)
        except LoginRefused as exc:
            self._audit(
                "staff_login", staff_actor(exc.username or "-"), ok=False, reason=str(exc), step="code"
            )
            raise
        if done.recovery_codes:
            actor = staff_actor(done.session.username)
            self._audit("staff_totp_enabled", actor, user=done.session.username)
        self._audited_login(done)
        return done

    def logout(self, token: str | None) -> None:
        """End the session of `token` (audited when there was one)."""
        session = self.staff.session(token)
        self.staff.logout(token)
        if session:
            self._audit("staff_logout", staff_actor(session.username))

    def session(self, token: str | None) -> StaffSession | None:
        """The valid session of a token, else None."""
        return self.staff.session(token)

    def authorize(self, token: str | None, action: str) -> StaffSession:
        """The session of `token` if its role may do `action`; NotLoggedIn / NotAllowed otherwise.
        Every check is audited, allowed or not."""
        session = self.staff.session(token)
        if session is None:
            self._audit("staff_action", "anonymous", action=action, allowed=False)
            raise NotLoggedIn("Your session has ended. Please log in again.")
        allowed = session.may(action)
        self._audit(
            "staff_action", staff_actor(session.username), role=session.role, action=action, allowed=allowed
        )
        if not allowed:
            raise NotAllowed(f"Your role ({session.role}) may not use “{action}”.")
        return session

    # accounts -----------------------------------------------------------------------------------
    def users(self) -> list[StaffUser]:
        """Every staff account, sorted by name."""
        return self.staff.users()

    def add_user(self, username: str, role: str, password: str, actor: str) -> None:
        """Create an account."""
        self.staff.add(username, role, password)
        self._audit("staff_user_added", actor, user=username, role=role)

    def remove_user(self, username: str, actor: str) -> None:
        """Delete an account and end its sessions."""
        self.staff.remove(username)
        self._audit("staff_user_removed", actor, user=username)

    def reset_password(self, username: str, password: str, actor: str) -> None:
        """Set a new password (unlocks the account, ends its sessions)."""
        self.staff.reset_password(username, password)
        self._audit("staff_password_reset", actor, user=username)

    # two-factor login ---------------------------------------------------------------------------
    def enable_totp(self, username: str, actor: str) -> Enrolment:
        """A new authenticator secret and recovery codes for an account that has none yet."""
        self.staff.role(username)  # StaffError for an unknown user
        if self.staff.two_factor.enabled(username):
            raise StaffError(f"{username} has two-factor login already; `users totp reset` replaces it.")
        enrolment = self.staff.two_factor.enable(username)
        self._audit("staff_totp_enabled", actor, user=username)
        return enrolment

    def reset_totp(self, username: str, actor: str) -> Enrolment:
        """Replace an account's secret and recovery codes (a lost phone); ends its sessions."""
        self.staff.role(username)
        enrolment = self.staff.two_factor.enable(username)
        self.staff.end_sessions(username)
        self._audit("staff_totp_reset", actor, user=username)
        return enrolment

    def disable_totp(self, username: str, actor: str) -> None:
        """Remove an account's authenticator; refused while its role requires one."""
        role = self.staff.role(username)
        if self.staff.requires_two_factor(role):
            raise StaffError(
                f"The role {role} must log in with a code (staff_two_factor_roles); use `users totp reset "
                f"{username}` to replace a lost authenticator."
            )
        if not self.staff.two_factor.disable(username):
            raise StaffError(f"{username} has no two-factor login.")
        self._audit("staff_totp_disabled", actor, user=username)

    # knowledge ----------------------------------------------------------------------------------
    def knowledge(self) -> KnowledgeBase:
        """The live knowledge folder, read now (with its invalid files in `problems`)."""
        return load_knowledge(self.settings.knowledge_dir)

    def knowledge_status(self) -> dict[str, Any]:
        """Articles by collection / language / status, validation errors, the last index run."""
        return knowledge_status(self.settings)

    def reindex(
        self, actor: str, kb: KnowledgeBase | None = None, *, progress: bool | None = None
    ) -> IndexReport:
        """Bring the live index up to date with the knowledge folder (`kb`: read already), refresh the
        live retriever if the agent is loaded, and audit the run."""
        from agent.wiring import build_embedder, open_store, question_source

        kb = kb or self.knowledge()
        new_versions = self.article_versions.snapshot(kb, ON_DISK)  # edits made directly in the files
        live = self._loaded_retriever()
        agent = vars(self._services).get("agent")  # a running app's chat model writes missing questions
        model = (lambda: agent.generator) if agent is not None else None
        report = sync_index(
            kb,
            live.embedder if live else self._services.embedder or build_embedder(self.settings),
            self.settings.index_dir,
            chunk_size=self.settings.chunk_size,
            client=open_store(self.settings),
            progress=progress,
            questions=question_source(self.settings, model),
        )
        if live:
            live.refresh()
        self._audit("reindex", actor, summary=report.summary(), new_versions=len(new_versions))
        return report

    @cached_property
    def article_versions(self) -> ArticleVersions:
        """Every article's recorded versions (data dir)."""
        return ArticleVersions(self.settings.data_dir / VERSIONS_FILE)

    @cached_property
    def publishing(self) -> Publishing:
        """Drafts, drafts-vs-live simulation, publish and unpublish, versions, diff and rollback."""
        from agent.staff.publishing import Publishing

        return Publishing(self, self.article_versions)

    def gaps(self, since: str | None = None) -> list[Gap]:
        """Refused and thumbs-down questions (given since `since`, an ISO time, if set), grouped, most
        frequent first, with the closest article."""
        retriever = self._services.agent.retriever
        signals = [s for s in self.subjects.store.signals(GAP_KINDS) if since is None or s.at >= since]
        return group_gaps(signals, retriever.embedder, retriever)

    @cached_property
    def curated(self) -> CuratedAnswers:
        """The support leads' curated answers (list, save, remove; audited)."""
        return CuratedAnswers(self, lambda: self._services.curated_store, self._retriever, self._audit)

    # simulations --------------------------------------------------------------------------------
    def knowledge_folders(self) -> list[Path]:
        """The folders a simulation may replay against: the live one, then the configured drafts."""
        return [self.settings.knowledge_dir, *self.settings.draft_knowledge_dirs]

    def simulate(
        self,
        questions_file: Path,
        knowledge: Path,
        *,
        retrieval_only: bool,
        username: str,
        shown_as: str | None = None,
        seed_index: Path | None = None,
    ) -> str:
        """Replay a file of past tickets against `knowledge` (named `shown_as` in the run's overview) in a
        new run folder; returns the run id. `seed_index`: an index to start from (only the articles that
        differ are embedded again)."""
        from agent.evaluation.simulate import load_questions, run_simulation
        from agent.wiring import build_simulation

        questions = load_questions(questions_file)
        out = new_run_dir(self.settings, f"{knowledge.name}-{'retrieval' if retrieval_only else 'answers'}")
        (out / "run.json").write_text(json.dumps({"knowledge": shown_as or str(knowledge), "by": username}))
        if seed_index is not None:
            shutil.copytree(seed_index, out / "data" / "index")
        pipeline, kb = build_simulation(
            self.settings, out, knowledge=knowledge, curated=lambda: self._services.curated_store
        )
        run_simulation(pipeline, questions, out, kb=kb, retrieval_only=retrieval_only, progress=False)
        remove_old_runs(self.settings)
        self._audit("simulation", staff_actor(username), run=out.name, questions=len(questions))
        return out.name

    def runs(self) -> list[str]:
        """Finished simulation runs, newest first."""
        return list_runs(self.settings)

    def run_overview(self, run_id: str) -> dict[str, Any]:
        """The figures of one run (answered, refused, citation accuracy, latency)."""
        return run_overview(self.settings, run_id)

    # handoff ------------------------------------------------------------------------------------
    def open_tickets(self) -> list[Ticket]:
        """Open handoff tickets, oldest first."""
        return self.subjects.store.tickets(status="open")

    def close_ticket(self, ticket: int, username: str) -> None:
        """Mark a ticket done by this staff member."""
        self.subjects.store.close_ticket(ticket, by=username)
        self._audit("handoff_done", staff_actor(username), ticket=ticket)

    # privacy officer ----------------------------------------------------------------------------
    def find_subject(self, reference: str) -> SubjectFindings:
        """What is stored for a reference code, and the audit entries about its subject."""
        summary = self.subjects.summary(reference)
        entries = [e for e in self.audit_entries() if e["details"].get("subject") == summary.pseudonym]
        return SubjectFindings(summary, entries)

    def store_counts(self) -> tuple[int, int]:
        """(stored conversations, stored messages)."""
        return self.subjects.store.counts()

    def redaction_counts(self) -> list[tuple[str, str, int]]:
        """How much personal data the redactor removed: (day, type, count), newest day first."""
        return self.subjects.store.redaction_counts()

    def audit_entries(self, event: str | None = None) -> list[dict[str, Any]]:
        """The audit trail, oldest first (only `event` entries if given)."""
        entries = self.subjects.audit.entries()
        return entries if event is None else [e for e in entries if e["event"] == event]

    def audit_verify(self) -> AuditReport:
        """Check the audit trail's hash chain."""
        return self.subjects.audit.verify()

    # admin --------------------------------------------------------------------------------------
    def configuration(self) -> dict[str, Any]:
        """The live settings, without secrets."""
        values = self.settings.model_dump(mode="json", exclude={"master_key"})
        for name in SECRET_URLS:
            if values.get(name):
                values[name] = without_password(values[name])
        values["master_key"] = "(set)" if self.settings.master_key else "(key file)"
        return values

    # internals ----------------------------------------------------------------------------------
    def _retriever(self) -> Retriever:
        """The live agent's retriever if it is loaded, else one over the index (no chat model loaded)."""
        live = self._loaded_retriever()
        if live is not None:
            return live
        if "_index_retriever" not in vars(self):
            from agent.wiring import build_retriever

            self._index_retriever = build_retriever(self.settings, self._services.embedder)
        return self._index_retriever

    def _loaded_retriever(self) -> Retriever | None:
        """The live agent's retriever if the agent is loaded already (Services caches it once built)."""
        agent = vars(self._services).get("agent")
        return agent.retriever if agent is not None else None

    def _audited_login(self, done: LoggedIn) -> None:
        details: dict[str, Any] = {"ok": True, "role": done.session.role, "factor": done.factor}
        if done.factor == "recovery_code":
            details["recovery_codes_left"] = self.staff.two_factor.recovery_codes_left(done.session.username)
        self._audit("staff_login", staff_actor(done.session.username), **details)

    def _audit(self, event: str, actor: str, **details: Any) -> None:
        self.subjects.audit.record(event, actor, **details)
