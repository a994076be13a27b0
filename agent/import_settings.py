"""Bringing an existing help center in: declared import sources, the scheduled re-sync, crawl limits.

Part of the settings (same names in the environment and the TOML file). A website or helpdesk in
`import_sources` is an egress like any other: declared in an allowed jurisdiction, over https; only
then is its host on the egress allowlist (and in the Art. 30 record).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from agent.runtime.endpoints import check_endpoint, is_loopback, parse_endpoint


class ImportSource(BaseModel):
    """One source to import from (and to re-sync on schedule): where it is, where its drafts go."""

    model_config = ConfigDict(extra="forbid")

    source: str = Field(min_length=1, description="A website (sitemap or start page), a file or a folder.")
    into: Path = Field(Path("drafts"), description="Drafts folder; relative paths count from knowledge_dir.")
    collection: str = Field("general", pattern=r"^[a-z0-9][a-z0-9_-]{0,49}$")
    language: Literal["de", "en", "auto"] = "auto"
    api: Literal["zendesk", "freshdesk"] | None = Field(
        None, description="Read this helpdesk's live API (token in SUPPORT_AGENT_IMPORT_TOKEN)."
    )

    @property
    def is_website(self) -> bool:
        return self.source.strip().lower().startswith(("http://", "https://"))


class ImportSettings(BaseModel):
    """The import part of the settings."""

    import_sources: list[ImportSource] = Field(
        default_factory=list,
        description='Sources to import from, e.g. [{source = "https://help.example.eu/sitemap.xml", '
        'collection = "faq"}]. A website here must have its host declared in endpoint_jurisdictions; '
        "it is then the only kind of site the importer may fetch (besides loopback).",
    )
    import_sync_hours: int = Field(
        0, ge=0, le=8760, description="Re-import every import source this often, in the server. 0 = off."
    )
    import_max_pages: int = Field(200, ge=1, le=100_000, description="Most pages read from one website.")
    import_delay_s: float = Field(
        1.0,
        ge=0,
        le=60,
        description="Seconds between two requests to a website (robots.txt may ask for more).",
    )

    @model_validator(mode="after")
    def _websites_are_declared(self) -> Any:
        jurisdictions: dict[str, str] = getattr(self, "endpoint_jurisdictions", {})
        allowed: list[str] = getattr(self, "allowed_jurisdictions", [])
        for entry in self.import_sources:
            if entry.is_website:
                try:
                    check_endpoint(entry.source, jurisdictions, allowed)
                except ValueError as exc:
                    raise ValueError(f"import_sources: {exc}") from None
        return self

    def import_hosts(self) -> set[str]:
        """Hosts of the websites in import_sources (loopback ones need no allowlist entry)."""
        hosts = {parse_endpoint(entry.source).host for entry in self.import_sources if entry.is_website}
        return {host for host in hosts if not is_loopback(host)}
