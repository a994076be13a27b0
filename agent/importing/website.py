"""A website → source articles: from its sitemap (or sitemap index), or from a start page following
links on the same host. robots.txt is honoured, the crawl stays on the given host, stops at `max_pages`
and waits `delay_s` between requests. The host is an egress like any other: `check_site` refuses a
host that is not declared (EU jurisdiction, https, listed in `import_sources`) before any request."""

from __future__ import annotations

import logging
import urllib.robotparser
from collections import deque
from dataclasses import dataclass
from datetime import date
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING
from urllib.parse import urldefrag, urljoin, urlsplit

from agent.importing.convert import web_page
from agent.importing.fetch import SpacedClient
from agent.importing.model import ImportRefused, Skipped, SourceArticle, SourceBatch
from agent.runtime.endpoints import check_endpoint, is_loopback

if TYPE_CHECKING:
    import httpx

log = logging.getLogger(__name__)

ROBOTS_AGENT = "support-agent-import"
MAX_SITEMAPS = 50
MAX_REDIRECTS = 5
MAX_PAGE_BYTES = 5_000_000
_NOT_PAGES = (".png", ".jpg", ".jpeg", ".gif", ".svg", ".webp", ".pdf", ".zip", ".css", ".js", ".ico", ".xml")


@dataclass(frozen=True)
class SitePolicy:
    """What the operator allows: declared jurisdictions, the allowed ones, and the egress allowlist."""

    jurisdictions: dict[str, str]
    allowed: list[str]
    allowlist: set[str]


def check_site(url: str, policy: SitePolicy) -> str:
    """The host of `url` if the importer may fetch from it; ImportRefused saying what to change otherwise.

    Loopback is always allowed. Any other host must be declared in an allowed jurisdiction, use https,
    and be the host of one of `import_sources` (which puts it on the egress allowlist and into the
    Art. 30 record) – checked before a single request is made.
    """
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ImportRefused(f"'{url}' is not a website address (http:// or https://).")
    host = parts.hostname.lower()
    if is_loopback(host):
        return host
    try:
        check_endpoint(url, policy.jurisdictions, policy.allowed)
    except ValueError as exc:
        raise ImportRefused(f"Not importing from {host}: {exc}.") from None
    if host not in policy.allowlist:
        raise ImportRefused(
            f"Not importing from {host}: the egress guard only lets declared endpoints through. Add "
            f'the site to import_sources (e.g. import_sources = [{{source = "{url}"}}]) and restart.'
        )
    return host


class SiteCrawler:
    """One polite crawl of one host."""

    def __init__(self, start_url: str, *, max_pages: int, delay_s: float, timeout_s: float = 20.0) -> None:
        self.start_url = urldefrag(start_url.strip())[0]
        parts = urlsplit(self.start_url)
        self.host = (parts.hostname or "").lower()
        self.netloc = parts.netloc.lower()
        self.root = f"{parts.scheme}://{parts.netloc}"
        self.max_pages = max_pages
        self._client = SpacedClient({}, delay_s=delay_s, timeout_s=timeout_s)
        self._robots = urllib.robotparser.RobotFileParser()
        self._fetched: set[str] = set()
        self.batch = SourceBatch("website", self.host)

    def crawl(self) -> SourceBatch:
        """Read robots.txt, then the sitemap or the pages linked from the start page."""
        try:
            self._read_robots()
            if not self._allowed(self.start_url):
                raise ImportRefused(f"{self.start_url}: robots.txt does not allow this importer to read it.")
            first = self._get(self.start_url)
            if _is_sitemap(self.start_url, first):
                self._crawl_sitemap(first)
            else:
                self._crawl_links(first)
        finally:
            self._client.close()
        return self.batch

    # robots.txt ------------------------------------------------------------------------------------
    def _read_robots(self) -> None:
        response = self._get(self.root + "/robots.txt")
        if response.status_code >= 500:
            raise ImportRefused(
                f"{self.host}/robots.txt answered HTTP {response.status_code}: not crawling a site whose "
                "rules cannot be read. Try again later."
            )
        # 4xx: no rules, everything allowed (as robots.txt's standard says)
        self._robots.parse(response.text.splitlines() if response.status_code == 200 else [])
        delay = self._robots.crawl_delay(ROBOTS_AGENT)
        if delay:
            self._client.delay_s = max(self._client.delay_s, float(delay))

    def _allowed(self, url: str) -> bool:
        return self._robots.can_fetch(ROBOTS_AGENT, url)

    # sitemap ---------------------------------------------------------------------------------------
    def _crawl_sitemap(self, first: httpx.Response) -> None:
        pages: list[tuple[str, date | None]] = []
        pending = deque([first])
        read = 0
        while pending and read < MAX_SITEMAPS:
            response = pending.popleft()
            read += 1
            kind, entries = _sitemap_entries(response)
            for loc, lastmod in entries:
                if not self._same_host(loc):
                    self.batch.skipped.append(Skipped(loc, "", f"not on {self.host}: not fetched"))
                elif kind == "sitemapindex":
                    pending.append(self._get(loc))
                else:
                    pages.append((loc, lastmod))
        if pending:  # more sitemaps than MAX_SITEMAPS
            self.batch.complete = False
            self.batch.skipped.append(
                Skipped(self.start_url, "", f"more than {MAX_SITEMAPS} sitemaps: rest not read")
            )
        for url, lastmod in pages:
            self._import_page(url, lastmod)

    # start page and its links ----------------------------------------------------------------------
    def _crawl_links(self, first: httpx.Response) -> None:
        seen = {self.start_url}
        queue: deque[tuple[str, httpx.Response | None]] = deque([(self.start_url, first)])
        while queue:
            url, response = queue.popleft()
            html = self._import_page(url, None, response)
            for link in _links(html or "", url):
                if link in seen:
                    continue
                seen.add(link)
                if not self._same_host(link):
                    self.batch.skipped.append(Skipped(link, "", f"not on {self.host}: not followed"))
                elif not link.lower().endswith(_NOT_PAGES):
                    queue.append((link, None))

    # one page --------------------------------------------------------------------------------------
    def _import_page(
        self, url: str, lastmod: date | None, response: httpx.Response | None = None
    ) -> str | None:
        """Fetch (unless given) and convert one page; its HTML, for the links. Skips are recorded."""
        if not self._allowed(url):
            self.batch.skipped.append(Skipped(url, "", "robots.txt disallows it: not fetched"))
            return None
        if len(self._fetched) >= self.max_pages:
            self.batch.complete = False
            if not any(s.reason.startswith("beyond max pages") for s in self.batch.skipped):
                self.batch.skipped.append(
                    Skipped(url, "", f"beyond max pages ({self.max_pages}): this and later pages not fetched")
                )
            return None
        try:
            response = response or self._get(url)
        except ImportRefused as exc:
            self.batch.skipped.append(Skipped(url, "", str(exc)))
            return None
        self._fetched.add(url)
        if response.status_code != 200:
            self.batch.skipped.append(Skipped(url, "", f"HTTP {response.status_code}"))
            return None
        if "html" not in response.headers.get("content-type", "text/html"):
            self.batch.skipped.append(Skipped(url, "", "not an HTML page"))
            return None
        html = response.text
        page = web_page(html, url)
        if not page.converted.markdown:
            self.batch.skipped.append(Skipped(url, "body", "no article text found on the page"))
            return html
        path = urlsplit(url).path.strip("/") or "home"
        query = urlsplit(url).query
        self.batch.articles.append(
            SourceArticle(
                key=f"website:{url}",
                source_id=path + (f"?{query}" if query else ""),
                title=page.title or page.converted.first_heading or path,
                markdown=page.converted.markdown,
                url=url,
                language=page.language,
                updated=page.updated or lastmod or _last_modified(response),
                images_dropped=page.converted.images_dropped,
            )
        )
        return html

    # HTTP ------------------------------------------------------------------------------------------
    def _same_host(self, url: str) -> bool:
        parts = urlsplit(url)
        return parts.scheme in ("http", "https") and parts.netloc.lower() == self.netloc

    def _get(self, url: str) -> httpx.Response:
        """GET with the delay between requests; redirects followed only on the same host."""
        for _ in range(MAX_REDIRECTS + 1):
            response = self._client.get(url, name=url)
            if response.status_code not in (301, 302, 303, 307, 308):
                if len(response.content) > MAX_PAGE_BYTES:
                    raise ImportRefused(f"{url} is larger than {MAX_PAGE_BYTES // 1_000_000} MB")
                return response
            target = urljoin(url, response.headers.get("location", ""))
            if not self._same_host(target):
                raise ImportRefused(
                    f"{url} redirects to another host ({urlsplit(target).netloc}): not followed"
                )
            url = target
        raise ImportRefused(f"{url}: too many redirects")


def crawl_site(start_url: str, *, max_pages: int, delay_s: float) -> SourceBatch:
    """Crawl one site (its host already checked with `check_site`)."""
    return SiteCrawler(start_url, max_pages=max_pages, delay_s=delay_s).crawl()


def _is_sitemap(url: str, response: httpx.Response) -> bool:
    if response.status_code != 200:
        raise ImportRefused(f"{url} answered HTTP {response.status_code}.")
    if urlsplit(url).path.lower().endswith(".xml") or "xml" in response.headers.get("content-type", ""):
        return _sitemap_entries(response)[0] in ("urlset", "sitemapindex")
    return False


def _sitemap_entries(response: httpx.Response) -> tuple[str, list[tuple[str, date | None]]]:
    """('urlset' or 'sitemapindex', [(loc, lastmod)]) of a sitemap; ('', []) for anything else."""
    from defusedxml import ElementTree
    from defusedxml.common import DefusedXmlException

    try:
        root = ElementTree.fromstring(response.content)
    except (ElementTree.ParseError, DefusedXmlException):
        return "", []
    kind = root.tag.rsplit("}", 1)[-1]
    entries = []
    for entry in root:
        values = {child.tag.rsplit("}", 1)[-1]: (child.text or "").strip() for child in entry}
        if values.get("loc"):
            entries.append((urldefrag(values["loc"])[0], _iso_date(values.get("lastmod", ""))))
    return kind, entries


def _links(html: str, base: str) -> list[str]:
    """The absolute targets of the page's <a href> links, without fragments."""
    if not html.strip():
        return []
    import lxml.html

    try:
        doc = lxml.html.document_fromstring(html)
    except (ValueError, lxml.etree.ParserError):
        return []
    links = []
    for element, _attribute, link, _pos in doc.iterlinks():
        if element.tag == "a":
            links.append(urldefrag(urljoin(base, link.strip()))[0])
    return list(dict.fromkeys(links))


def _iso_date(value: str) -> date | None:
    try:
        return date.fromisoformat(value[:10]) if value else None
    except ValueError:
        return None


def _last_modified(response: httpx.Response) -> date | None:
    header = response.headers.get("last-modified")
    if not header:
        return None
    try:
        return parsedate_to_datetime(header).date()
    except (TypeError, ValueError):
        return None
