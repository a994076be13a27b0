"""Privacy settings: redaction, retention, the master key, and who is named in the privacy notice.

Part of the settings (same names in the environment and the TOML file); see docs/privacy.md.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, Field, SecretStr, field_validator, model_validator

from agent.privacy.redaction import REDACTION_TYPES


class PrivacySettings(BaseModel):
    """Consent, redaction, storage and retention."""

    redaction_types: list[str] = Field(
        default_factory=lambda: list(REDACTION_TYPES),
        description=f"Personal data replaced by placeholders before anything else sees a message. "
        f"Known types: {', '.join(REDACTION_TYPES)}.",
    )
    phone_region: str = Field(
        "DE", description="Country whose phone numbers are recognised without a +country prefix."
    )
    special_category_warning: bool = Field(
        True,
        description="Hold back a message that likely holds special-category data (GDPR Art. 9: health, "
        "religion, union membership, sexual orientation, ethnic origin) and ask the customer to send it "
        "anyway or rephrase it. Off: such messages are processed like any other.",
    )
    retention_days: int = Field(
        30,
        ge=1,
        le=3650,
        description="Stored conversations (messages) are deleted this many days after their last message.",
    )
    ticket_retention_days: int = Field(
        90,
        ge=1,
        le=3650,
        description="Handoff tickets (transcript and the customer's contact) are deleted this many days "
        "after staff marked them done. Open tickets are kept until done.",
    )
    feedback_retention_days: int = Field(
        90,
        ge=1,
        le=3650,
        description="Feedback (thumbs up/down) and questions the bot could not answer are deleted this many "
        "days after they were given.",
    )
    simulation_retention_days: int = Field(
        30,
        ge=1,
        le=3650,
        description="Simulation reports in data_dir/simulations and past-ticket files uploaded for "
        "simulations (CSV, JSONL in the data dir's temp folder) are deleted this many days after they "
        "were written.",
    )
    statistics_retention_days: int = Field(
        400,
        ge=1,
        le=3650,
        description="Anonymous answer statistics (per day: questions, outcome, answer time, cited article, "
        "language, 👍/👎 and handoff counts; nothing about who asked or what) are deleted this many days "
        "after their day.",
    )
    audit_retention_days: int = Field(
        730,
        ge=1,
        le=3650,
        description="Audit entries older than this are removed; a checkpoint keeps the rest of the trail "
        "verifiable. At least as long as every other retention period.",
    )
    purge_interval_minutes: int = Field(
        60, ge=1, le=10080, description="How often the server deletes everything past its retention period."
    )
    master_key_file: Path | None = Field(
        None,
        description="File holding the master key that protects every conversation key (default: "
        "DATA_DIR/keys/master.key, created with 0600 permissions on first run). Keep it out of backups "
        "of the data dir. SUPPORT_AGENT_MASTER_KEY (base64, 32 bytes) takes precedence.",
    )
    master_key: SecretStr | None = Field(
        None, description="The master key itself (base64 of 32 random bytes), e.g. from a secrets manager."
    )
    notice_version: str = Field(
        "2026-11-23",
        description="Version of the privacy notice; recorded with every consent. Change it "
        "whenever you change the notice texts.",
    )
    privacy_contact: str = Field(
        "datenschutz@nordlicht-shop.example", description="Who customers contact about their data."
    )
    controller: str = Field(
        "Nordlicht Store GmbH, Beispielstraße 1, 10115 Berlin",
        description="The controller named in the privacy notice and the record of processing.",
    )

    def retention_periods(self) -> dict[str, int]:
        """Days each category of stored data is kept, by category name (for purge, records and docs)."""
        return {
            "conversations": self.retention_days,
            "handoff tickets": self.ticket_retention_days,
            "feedback": self.feedback_retention_days,
            "simulation uploads and reports": self.simulation_retention_days,
            "answer statistics (anonymous)": self.statistics_retention_days,
            "audit trail": self.audit_retention_days,
        }

    @model_validator(mode="after")
    def _audit_outlives_the_data(self) -> PrivacySettings:
        periods = {
            "retention_days": self.retention_days,
            "ticket_retention_days": self.ticket_retention_days,
            "feedback_retention_days": self.feedback_retention_days,
            "simulation_retention_days": self.simulation_retention_days,
        }
        longest = max(periods, key=lambda name: periods[name])
        if self.audit_retention_days < periods[longest]:
            raise ValueError(
                f"audit_retention_days ({self.audit_retention_days}) is shorter than {longest} "
                f"({periods[longest]}): the audit trail is the proof of what happened to stored data, so "
                "keep it at least as long as the longest retention period"
            )
        return self

    @field_validator("redaction_types")
    @classmethod
    def _known_redaction_types(cls, values: list[str]) -> list[str]:
        types = [v.strip().upper() for v in values if v.strip()]
        unknown = sorted(set(types) - set(REDACTION_TYPES))
        if unknown:
            raise ValueError(f"unknown type(s) {', '.join(unknown)}; known: {', '.join(REDACTION_TYPES)}")
        return types

    @field_validator("phone_region")
    @classmethod
    def _known_region(cls, value: str) -> str:
        import phonenumbers

        region = value.strip().upper()
        if region not in phonenumbers.SUPPORTED_REGIONS:
            raise ValueError(f"{value!r} is not a country code phonenumbers knows (e.g. DE, AT, GB)")
        return region
