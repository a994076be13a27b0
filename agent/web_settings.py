"""How the chat is served: address, TLS and proxies, embedding on other sites, abuse limits, metrics.

Part of the settings (same names in the environment and the TOML file); kept apart so the settings
module stays about how the agent answers.
"""

from __future__ import annotations

import ipaddress
from pathlib import Path
from urllib.parse import urlsplit

from pydantic import BaseModel, Field, SecretStr, field_validator, model_validator

LOOPBACK_HOSTS = {"127.0.0.1", "::1", "localhost"}


class WebSettings(BaseModel):
    """The serving part of the settings."""

    host: str = Field("127.0.0.1", description="Address the chat page listens on.")
    port: int = Field(7860, ge=1, le=65535, description="Port the chat page listens on.")
    tls_certfile: Path | None = Field(
        None, description="TLS certificate (PEM) to serve HTTPS directly, with tls_keyfile."
    )
    tls_keyfile: Path | None = Field(None, description="Private key (PEM) of tls_certfile.")
    trusted_proxies: list[str] = Field(
        default_factory=list,
        description="Addresses or networks of reverse proxies (e.g. 127.0.0.1) whose X-Forwarded-For and "
        "X-Forwarded-Proto headers are believed. Nobody else's are (default: nobody's).",
    )
    embed_origins: list[str] = Field(
        default_factory=list,
        description="Websites (origins such as https://www.example.com) allowed to show the chat in the "
        "widget's frame. Empty: no site may frame it.",
    )
    metrics_token: SecretStr | None = Field(
        None,
        description="Bearer token that lets a monitoring server read /metrics from another machine "
        "(without it, /metrics answers loopback only).",
    )

    # Abuse protection: every answer costs seconds of CPU.
    rate_limits: bool = Field(
        True, description="Limit how often one visitor or address may ask, consent, or open tickets."
    )
    questions_per_minute: int = Field(
        6, ge=1, le=1000, description="Questions one visitor (browser session) may ask per minute."
    )
    questions_per_minute_per_address: int = Field(
        30, ge=1, le=10000, description="Questions all visitors from one IP address may ask per minute."
    )
    consents_per_hour_per_address: int = Field(
        30, ge=1, le=10000, description="Consent choices (each creates a record) per IP address per hour."
    )
    tickets_per_hour_per_address: int = Field(
        5, ge=1, le=1000, description="Handoff tickets per IP address per hour."
    )
    proof_of_work: bool = Field(
        False,
        description="Before the consent choice, the visitor's browser solves a small proof-of-work "
        "puzzle (ALTCHA scheme, served here): about a second for a person, costly for a script.",
    )
    proof_of_work_max_number: int = Field(
        100_000, ge=1_000, le=10_000_000, description="Puzzle size: the browser tries up to this many hashes."
    )
    max_turns_per_conversation: int = Field(
        40, ge=1, le=1000, description="Questions in one conversation; then the visitor is offered a human."
    )

    @field_validator("embed_origins")
    @classmethod
    def _origins(cls, values: list[str]) -> list[str]:
        origins = []
        for value in values:
            parts = urlsplit(value.strip())
            if parts.scheme not in ("http", "https") or not parts.hostname or parts.path not in ("", "/"):
                raise ValueError(f"{value!r} is not a site origin such as https://www.example.com")
            if parts.query or parts.fragment or parts.username:
                raise ValueError(f"{value!r} is not a site origin such as https://www.example.com")
            origins.append(f"{parts.scheme}://{parts.netloc.lower()}")
        return origins

    @field_validator("trusted_proxies")
    @classmethod
    def _addresses(cls, values: list[str]) -> list[str]:
        for value in values:
            try:
                ipaddress.ip_network(value.strip(), strict=False)
            except ValueError:
                raise ValueError(f"{value!r} is not an IP address or network (e.g. 127.0.0.1)") from None
        return [v.strip() for v in values]

    @model_validator(mode="after")
    def _tls_pair(self) -> WebSettings:
        if bool(self.tls_certfile) != bool(self.tls_keyfile):
            raise ValueError("tls_certfile and tls_keyfile go together: set both or neither")
        for path in (self.tls_certfile, self.tls_keyfile):
            if path is not None and not path.is_file():
                raise ValueError(f"the TLS file {path} does not exist")
        return self

    def listening_problem(self) -> str | None:
        """Why serving on this address would expose customers' chats in clear text, if it would."""
        if self.host in LOOPBACK_HOSTS or self.tls_certfile or self.trusted_proxies:
            return None
        return (
            f"host {self.host} is reachable from other machines, but neither TLS (tls_certfile, "
            "tls_keyfile) nor a reverse proxy (trusted_proxies) is configured: customers' messages "
            "would travel unencrypted. Configure one of them, or listen on 127.0.0.1."
        )
