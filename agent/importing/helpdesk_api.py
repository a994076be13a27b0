"""The live Zendesk Guide and Freshdesk Solutions APIs (optional; an export file needs no token).

The token comes from the environment or a prompt, never the command line. The host is checked like any
website (`website.check_site`) before the first request; pagination links are followed only on the same
host, and at most `max_requests` requests are made.
"""

from __future__ import annotations

import base64
from typing import Any, Literal
from urllib.parse import urlsplit

from agent.importing.fetch import SpacedClient
from agent.importing.helpdesks import freshdesk_articles, zendesk_articles
from agent.importing.model import ImportRefused, SourceBatch

Api = Literal["zendesk", "freshdesk"]
TOKEN_ENV = "SUPPORT_AGENT_IMPORT_TOKEN"
PER_PAGE = 100


class HelpdeskApi:
    """Read-only GETs against one helpdesk, politely spaced, same host only."""

    def __init__(self, base_url: str, headers: dict[str, str], *, delay_s: float, max_requests: int) -> None:
        self.base = base_url.strip().rstrip("/")
        self.netloc = urlsplit(self.base).netloc.lower()
        self.left = max_requests
        self._client = SpacedClient({"Accept": "application/json", **headers}, delay_s=delay_s, timeout_s=30)

    def get(self, path_or_url: str) -> Any:
        """The JSON of one GET; ImportRefused with the status for anything but 200."""
        url = path_or_url if path_or_url.startswith("http") else self.base + path_or_url
        if urlsplit(url).netloc.lower() != self.netloc:
            raise ImportRefused(f"the API pointed to another host ({urlsplit(url).netloc}): not followed")
        if self.left <= 0:
            raise ImportRefused("more API pages than import_max_pages allows: raise it (--max-pages)")
        self.left -= 1
        response = self._client.get(url, name=self.netloc)
        if response.status_code in (401, 403):
            raise ImportRefused(
                f"{self.netloc} refused the token (HTTP {response.status_code}): check {TOKEN_ENV}."
            )
        if response.status_code != 200:
            raise ImportRefused(f"{url} answered HTTP {response.status_code}.")
        return response.json()

    def close(self) -> None:
        self._client.close()


def auth_headers(api: Api, token: str) -> dict[str, str]:
    """Zendesk: `email/token:API_TOKEN` (basic) or an OAuth token (bearer); Freshdesk: the API key."""
    if api == "freshdesk":
        return {"Authorization": "Basic " + base64.b64encode(f"{token}:X".encode()).decode()}
    if "/token:" in token:
        return {"Authorization": "Basic " + base64.b64encode(token.encode()).decode()}
    return {"Authorization": f"Bearer {token}"}


def fetch_helpdesk(api: Api, base_url: str, token: str, *, delay_s: float, max_requests: int) -> SourceBatch:
    """Every article the token may read, through the helpdesk's API, as a batch like an export's."""
    client = HelpdeskApi(base_url, auth_headers(api, token), delay_s=delay_s, max_requests=max_requests)
    try:
        return _zendesk(client) if api == "zendesk" else _freshdesk(client)
    finally:
        client.close()


def _zendesk(client: HelpdeskApi) -> SourceBatch:
    pages = []
    url: str | None = f"/api/v2/help_center/articles.json?per_page={PER_PAGE}"
    while url:
        page = client.get(url)
        pages.append({"articles": page.get("articles") or []})
        url = page.get("next_page")
    return zendesk_articles(pages)


def _freshdesk(client: HelpdeskApi) -> SourceBatch:
    folders = []
    for category in client.get("/api/v2/solutions/categories"):
        for folder in client.get(f"/api/v2/solutions/categories/{category['id']}/folders"):
            articles: list[Any] = []
            page_number = 1
            while True:
                page = client.get(
                    f"/api/v2/solutions/folders/{folder['id']}/articles?per_page={PER_PAGE}&page={page_number}"
                )
                articles += page
                if len(page) < PER_PAGE:
                    break
                page_number += 1
            folders.append({"id": folder["id"], "visibility": folder.get("visibility"), "articles": articles})
    return freshdesk_articles({"folders": folders})
