"""The real Gradio chat page, driven through gradio_client over HTTP."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from agent.knowledge.embeddings import Embedder
from agent.wiring import build_services
from tests.browser import chromium_page, expect, screenshot
from tests.conftest import make_settings
from tests.support import BackgroundServer, message_text
from ui.app import create_app
from ui.security import SECURITY_HEADERS


@pytest.fixture(scope="module")
def chat_url(demo_data_dir: Path, embedder: Embedder) -> Iterator[str]:
    server = BackgroundServer(create_app(build_services(make_settings(demo_data_dir), embedder=embedder)))
    try:
        yield server.start()
    finally:
        server.stop()


def test_page_is_served_with_security_headers_and_no_third_party_assets(chat_url: str) -> None:
    response = httpx.get(chat_url, timeout=30)
    assert response.status_code == 200
    for name, value in SECURITY_HEADERS.items():
        assert response.headers[name] == value
    assert "default-src 'self'" in response.headers["content-security-policy"]
    # every absolute URL the page itself loads must be our own origin
    loaded = re.findall(r'(?:src|href)="(https?://[^"]+)"', response.text)
    assert all(url.startswith(chat_url.rstrip("/")) for url in loaded), loaded
    assert "fonts.googleapis" not in response.text


def _client(url: str):  # noqa: ANN202 - gradio_client.Client, after the "don't store" choice
    from gradio_client import Client

    client = Client(url, verbose=False)
    client.predict(api_name="/consent_none")
    return client


def test_chat_answers_with_linked_citation(chat_url: str) -> None:
    client = _client(chat_url)
    box, chat = client.predict("How long do I have to return an item?", api_name="/chat")
    assert box == ""
    assert [m["role"] for m in chat] == ["user", "assistant"]
    reply = message_text(chat[-1])
    assert "[Returning an item](https://help.nordlicht-shop.example/en/returns)" in reply
    assert "Source:" in reply


def test_out_of_scope_gets_handoff_in_german(chat_url: str) -> None:
    client = _client(chat_url)
    _, chat = client.predict("Wie wird das Wetter morgen in Hamburg?", api_name="/chat")
    assert "support@nordlicht-shop.example" in message_text(chat[-1])
    assert "Quelle" not in message_text(chat[-1])


def test_oversized_message_gets_a_clear_message(chat_url: str) -> None:
    client = _client(chat_url)
    _, chat = client.predict("bitte " * 400, api_name="/chat")
    assert "the limit is 1500" in message_text(chat[-1])


def test_sessions_do_not_share_history(chat_url: str) -> None:
    first, second = _client(chat_url), _client(chat_url)
    first.predict("Can I pay on invoice?", api_name="/chat")
    _, chat = second.predict("Welche Zahlungsarten gibt es?", api_name="/chat")
    assert len(chat) == 2  # the second customer's chat holds only their own turn
    assert "invoice" not in message_text(chat[0]).lower()


def test_chat_logs_carry_no_message_text(chat_url: str, caplog: pytest.LogCaptureFixture) -> None:
    canary = "canary-7d1f3 please tell me about returns"
    with caplog.at_level(logging.DEBUG):
        _client(chat_url).predict(canary, api_name="/chat")
    assert "answered:" in caplog.text
    assert "canary-7d1f3" not in caplog.text


def test_page_in_headless_chromium_answers_and_only_talks_to_its_own_origin(chat_url: str) -> None:
    requests: list[str] = []
    with chromium_page(requests, locale="de-DE") as page:
        page.goto(chat_url)
        expect(page.locator("#consent-none")).to_be_visible(timeout=60_000)
        notice = page.locator("#ai-notice")  # the AI and privacy notice come before any chat
        expect(notice).to_contain_text("KI-Assistent")  # one language: the browser's
        expect(page.locator("#consent-none")).to_have_text("Chatten ohne Speicherung")
        question = page.locator("#question textarea")
        expect(question).to_be_hidden()
        page.locator("#consent-none").click()
        expect(question).to_be_visible(timeout=60_000)
        question.fill("How long do I have to return an item?")
        page.locator("#send").click()
        expect(page.locator("#chat").get_by_text("Source:")).to_be_visible(timeout=240_000)
        link = page.locator("#chat a", has_text="Returning an item").first
        expect(link).to_have_attribute("href", "https://help.nordlicht-shop.example/en/returns")
        screenshot(page, "chat-page.png")
    origin = chat_url.rstrip("/")
    hosts = sorted({urlsplit(url).netloc or urlsplit(url).scheme for url in requests})
    print(f"\npage: {len(requests)} requests, hosts contacted: {hosts}")
    foreign = [url for url in requests if not url.startswith((origin, "data:", "blob:"))]
    assert requests and not foreign, foreign
