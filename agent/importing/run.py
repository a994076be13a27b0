"""One import: recognise the source, read it, write its drafts incrementally, return the report."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from agent.importing.drafts import COLLECTION, Language
from agent.importing.files import read_documents
from agent.importing.helpdesk_api import TOKEN_ENV, Api, fetch_helpdesk
from agent.importing.helpdesks import read_export
from agent.importing.model import ImportRefused, SourceBatch
from agent.importing.sync import ImportReport, sync_batch
from agent.importing.website import SitePolicy, check_site, crawl_site

LANGUAGES = ("auto", "de", "en")


@dataclass(frozen=True)
class ImportOptions:
    """Where the drafts go and how they are labelled, and how politely a website is read."""

    into: Path
    collection: str = "general"
    language: Language = "auto"
    max_pages: int = 200
    delay_s: float = 1.0
    api: Api | None = None  # read a helpdesk's live API at the source address instead of its pages


def is_website(source: str) -> bool:
    """True for an http(s) address (a sitemap or a start page)."""
    return source.strip().lower().startswith(("http://", "https://"))


def read_source(
    source: str,
    options: ImportOptions,
    policy: SitePolicy,
    origin: str | None = None,
    token: str | None = None,
) -> SourceBatch:
    """The source's articles: a website or a helpdesk API (host checked before any request), an
    export, or documents."""
    if options.api:
        if not is_website(source):
            raise ImportRefused(
                f"--api {options.api} needs the helpdesk's address, e.g. https://example.zendesk.com"
            )
        check_site(source, policy)
        if not token:
            raise ImportRefused(
                f"the {options.api} API needs a token: set {TOKEN_ENV} (never on the command line)."
            )
        return fetch_helpdesk(
            options.api, source, token, delay_s=options.delay_s, max_requests=options.max_pages
        )
    if is_website(source):
        check_site(source, policy)
        return crawl_site(source.strip(), max_pages=options.max_pages, delay_s=options.delay_s)
    path = Path(source).expanduser()
    if not path.exists():
        raise ImportRefused(f"{source} does not exist (give a file, a folder or a website address).")
    if path.suffix.lower() == ".json":
        return read_export(path)
    return read_documents(path, origin)


def import_source(
    source: str,
    options: ImportOptions,
    policy: SitePolicy,
    origin: str | None = None,
    token: str | None = None,
) -> ImportReport:
    """Import `source` into `options.into` as drafts; the report says what happened to each article.

    `origin` names an uploaded file or folder by its original name (so a re-upload is recognised).
    """
    check_options(options)
    batch = read_source(source, options, policy, origin, token)
    return sync_batch(batch, options.into, collection=options.collection, language=options.language)


def check_options(options: ImportOptions) -> None:
    """Refuse a collection or language the articles could not carry, before anything is read."""
    if not COLLECTION.match(options.collection):
        raise ImportRefused(
            f"'{options.collection}' cannot be a collection: use lower-case letters, digits, '-' and '_' "
            "(e.g. returns, shipping)."
        )
    if options.language not in LANGUAGES:
        raise ImportRefused(f"language must be one of {', '.join(LANGUAGES)}, not '{options.language}'.")
