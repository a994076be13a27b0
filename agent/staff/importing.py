"""Importing an existing help center, as a staff action: run an import, list and resolve conflicts, and
the scheduled re-sync of `import_sources`. Shared by the console and the CLI; every run is audited with
counts and the source's kind and host, never content."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from agent.import_settings import ImportSource
from agent.importing.drafts import Language
from agent.importing.helpdesk_api import TOKEN_ENV, Api
from agent.importing.model import ImportRefused
from agent.importing.run import ImportOptions, import_source, is_website
from agent.importing.sync import Conflict, ImportReport, conflicts, resolve_conflict
from agent.importing.website import SitePolicy, check_site
from agent.knowledge.articles import load_knowledge
from agent.knowledge.versions import VERSIONS_FILE, ArticleVersions
from agent.runtime.periodic import Periodic

if TYPE_CHECKING:
    from agent.privacy.audit import AuditLog
    from agent.settings import Settings

log = logging.getLogger(__name__)
SCHEDULE_ACTOR = "import-schedule"


class KnowledgeImports:
    """Imports into drafts folders under the knowledge folder, audited."""

    def __init__(self, settings: Settings, audit: AuditLog) -> None:
        self.settings = settings
        self.audit = audit
        self.versions = ArticleVersions(settings.data_dir / VERSIONS_FILE)

    @property
    def default_into(self) -> Path:
        """Where imported drafts go unless told otherwise: knowledge_dir/drafts."""
        return self.settings.knowledge_dir / "drafts"

    def folder(self, into: Path | None) -> Path:
        """A drafts folder: relative paths count from the knowledge folder."""
        if into is None:
            return self.default_into
        return into if into.is_absolute() else self.settings.knowledge_dir / into

    def run(
        self,
        source: str,
        actor: str,
        *,
        into: Path | None = None,
        collection: str = "general",
        language: Language = "auto",
        origin: str | None = None,
        api: Api | None = None,
        token: str | None = None,
        listed_sites_only: bool = False,
    ) -> ImportReport:
        """Import `source` as drafts and audit the run (kind, host of a website, counts). `api` reads a
        helpdesk's live API with `token` (from the environment or a prompt, never stored).
        `listed_sites_only`: a website must be one of `import_sources`, loopback included (the console:
        a support lead must not turn the server into a reader of other services on its machine)."""
        if listed_sites_only and is_website(source):
            self._check_listed(source)
        options = ImportOptions(
            into=self.folder(into),
            collection=collection,
            language=language,
            max_pages=self.settings.import_max_pages,
            delay_s=self.settings.import_delay_s,
            api=api,
        )
        report = import_source(source, options, self.policy(), origin, token)
        details: dict[str, object] = {"kind": report.kind, **report.counts()}
        if is_website(source):
            details["host"] = urlsplit(source.strip()).hostname
        self.audit.record("knowledge_import", actor, **details)
        self._record_versions(options.into, [*report.created, *report.updated], actor)
        return report

    def _record_versions(self, into: Path, files: list[str], actor: str) -> None:
        """A new version ("imported", by `actor`) of each draft this import wrote."""
        if not files:
            return
        written = {(into / name).resolve() for name in files}
        kb = load_knowledge(self.settings.knowledge_dir)
        ids = [a.id for a in kb.articles if a.path.resolve() in written]
        self.versions.snapshot(kb, actor, "imported", only=ids)

    def _check_listed(self, source: str) -> None:
        check_site(source, self.policy())  # the egress rules first: their message says what to declare
        host = urlsplit(source.strip()).hostname
        listed = {urlsplit(e.source.strip()).hostname for e in self.settings.import_sources if e.is_website}
        if host not in listed:
            raise ImportRefused(
                f"{host} is not one of the websites in import_sources: only those can be imported from the "
                "console. Ask an admin to add it (or run `support-agent import` on the server)."
            )

    def policy(self) -> SitePolicy:
        """The egress rules websites are checked against."""
        return SitePolicy(
            jurisdictions=self.settings.endpoint_jurisdictions,
            allowed=self.settings.allowed_jurisdictions,
            allowlist=self.settings.egress_allowlist(),
        )

    def conflicts(self, into: Path | None = None) -> list[Conflict]:
        """Drafts edited here whose source changed too."""
        return conflicts(self.folder(into))

    def resolve(self, file: str, *, take_source: bool, actor: str, into: Path | None = None) -> None:
        """Take the source's version of a conflicting draft, or keep the local one; audited."""
        resolve_conflict(self.folder(into), file, take_source=take_source)
        if take_source:
            self._record_versions(self.folder(into), [file], actor)
        choice = "take_source" if take_source else "keep_mine"
        self.audit.record("knowledge_import_resolved", actor, file=file, choice=choice)

    def sync_all(self, actor: str = SCHEDULE_ACTOR) -> list[ImportReport]:
        """Re-import every configured source (the scheduled job); one failing source does not stop
        the others (it is logged, without content)."""
        reports = []
        for entry in self.settings.import_sources:
            try:
                reports.append(self._sync_one(entry, actor))
            except Exception as exc:
                log.warning("scheduled import of a %s source failed: %s", _kind(entry), type(exc).__name__)
                self.audit.record(
                    "knowledge_import", actor, kind=_kind(entry), ok=False, error=type(exc).__name__
                )
        return reports

    def _sync_one(self, entry: ImportSource, actor: str) -> ImportReport:
        return self.run(
            entry.source,
            actor,
            into=entry.into,
            collection=entry.collection,
            language=entry.language,
            api=entry.api,
            token=os.environ.get(TOKEN_ENV) if entry.api else None,
        )


def _kind(entry: ImportSource) -> str:
    return entry.api or ("website" if entry.is_website else "files")


def import_schedule(settings: Settings, audit: AuditLog) -> Periodic | None:
    """The server's re-sync of `import_sources` every `import_sync_hours` (None when it is off)."""
    if not settings.import_sync_hours or not settings.import_sources:
        return None
    imports = KnowledgeImports(settings, audit)
    return Periodic("import-sync", settings.import_sync_hours * 3600, imports.sync_all)
