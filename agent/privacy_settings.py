"""Privacy settings: redaction, retention, the master key, and who is named in the privacy notice.

Part of the settings (same names in the environment and the TOML file); see docs/privacy.md.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, Field, SecretStr, field_validator

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
    retention_days: int = Field(
        30,
        ge=1,
        le=3650,
        description="Stored conversations are deleted this many days after their last message.",
    )
    purge_interval_minutes: int = Field(
        60, ge=1, le=10080, description="How often the server deletes expired conversations."
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
