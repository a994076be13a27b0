"""Serving real customer traffic: health and metrics, rate limits, proxies, one language per visitor,
and the widget on another site — all through the real served app (and Chromium for the page)."""

from __future__ import annotations

import base64
import functools
import hashlib
import http.server
import json
import logging
import os
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from agent.errors import ConfigError
from agent.knowledge.embeddings import Embedder
from agent.privacy.store import StoreError
from agent.runtime.proof_of_work import ProofOfWork
from agent.runtime.rate_limits import RateLimits
from agent.wiring import Services, build_services
from tests.browser import chromium_page, expect, screenshot
from tests.conftest import MODELS_DIR, make_settings
from tests.support import BackgroundServer, files_containing, free_port, message_text, wait_until
from ui.app import create_app, server_options
from ui.texts import catalogue, visitor_language

PROXY = "127.0.0.1"  # the tests' requests come from loopback; with it trusted, X-Forwarded-For counts


@contextmanager
def served(data_dir: Path, embedder: Embedder, **overrides: object) -> Iterator[tuple[str, Services]]:
    """The real app on a free loopback port, with uvicorn options from the same settings."""
    settings = make_settings(data_dir, **overrides)
    services = build_services(settings, embedder=embedder)
    server = BackgroundServer(create_app(services), **server_options(settings) | {"port": 0})
    try:
        yield server.start(), services
    finally:
        server.stop()


def _client(url: str, address: str | None = None):  # noqa: ANN202 - gradio_client.Client
    from gradio_client import Client

    headers = {"X-Forwarded-For": address} if address else None
    return Client(url, verbose=False, headers=headers)


def test_health_readiness_and_metrics_without_customer_text(
    demo_data_dir: Path, embedder: Embedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    with served(demo_data_dir, embedder, trusted_proxies=[PROXY], metrics_token="s3cret-token") as (
        url,
        services,
    ):
        assert httpx.get(f"{url}healthz").json() == {"status": "alive"}
        ready = httpx.get(f"{url}readyz")
        assert ready.status_code == 200, ready.text
        assert {name for name, check in ready.json()["checks"].items() if check["ok"]} == {
            "model", "index", "store", "data_dir",
        }  # fmt: skip

        client = _client(url)
        client.predict(api_name="/consent_none")
        canary = "canary-5e2b how long do I have to return an item?"
        client.predict(canary, api_name="/chat")
        client.predict("Wie wird das Wetter morgen in Hamburg?", api_name="/chat")

        scraped = httpx.get(f"{url}metrics")
        assert scraped.status_code == 200
        text = scraped.text
        assert 'support_agent_answers_total{outcome="answered"}' in text
        assert 'support_agent_refusals_total{cause="retrieval"}' in text
        for name in ("answer_seconds_bucket", "queue_waiting", "egress_blocked_total", "rate_limited"):
            assert f"support_agent_{name}" in text
        assert "canary" not in text and "Hamburg" not in text

        # HTTPS at the trusted proxy: browsers are told to stay on HTTPS; plain HTTP gets no HSTS
        https = httpx.get(f"{url}privacy", headers={"X-Forwarded-Proto": "https"})
        assert https.headers["strict-transport-security"] == "max-age=31536000"
        assert "strict-transport-security" not in httpx.get(f"{url}privacy").headers

        # from another machine (through the trusted proxy): only with the token
        remote = {"X-Forwarded-For": "203.0.113.9"}
        assert httpx.get(f"{url}metrics", headers=remote).status_code == 403
        with_token = {**remote, "Authorization": "Bearer s3cret-token"}
        assert httpx.get(f"{url}metrics", headers=with_token).status_code == 200

        def broken() -> None:  # a fault: the store stops taking writes
            raise StoreError("Could not write to the conversation store: disk I/O error")

        monkeypatch.setattr(services.subjects.store, "check", broken)
        not_ready = httpx.get(f"{url}readyz")
        assert not_ready.status_code == 503
        store = not_ready.json()["checks"]["store"]
        assert store["ok"] is False and "disk I/O error" in store["detail"]


def test_a_flooding_visitor_is_limited_while_another_is_answered(
    demo_data_dir: Path, embedder: Embedder
) -> None:
    with served(demo_data_dir, embedder, questions_per_minute=2) as (url, _):
        flooder, other = _client(url), _client(url)
        flooder.predict(api_name="/consent_none")
        other.predict(api_name="/consent_none")
        for _ in range(2):
            _, chat = flooder.predict("Can I pay on invoice?", api_name="/chat")
            assert "wait a minute" not in message_text(chat[-1])
        box, chat = flooder.predict("Can I pay on invoice?", api_name="/chat")
        limited = message_text(chat[-1])
        assert (
            "wait a minute" in limited and "support@nordlicht-shop.example" in limited
        )  # the way to a human
        assert box == "Can I pay on invoice?"  # kept, to send again later
        _, chat = other.predict("How long do I have to return an item?", api_name="/chat")
        assert "wait a minute" not in message_text(chat[-1]) and "Source:" in message_text(chat[-1])
        metrics = httpx.get(f"{url}metrics").text
        assert 'support_agent_rate_limited_total{action="question"}' in metrics


def test_tickets_and_conversation_length_are_limited(demo_data_dir: Path, embedder: Embedder) -> None:
    limits = {"tickets_per_hour_per_address": 1, "max_turns_per_conversation": 1}
    with served(demo_data_dir, embedder, **limits) as (url, _):
        client = _client(url)
        client.predict(api_name="/consent_none")
        _, chat = client.predict("What will the weather be like in Hamburg tomorrow?", api_name="/chat")
        _, chat = client.predict("And in Berlin?", api_name="/chat")
        assert "very long" in message_text(chat[-1]) and "support@nordlicht-shop.example" in message_text(
            chat[-1]
        )
        assert "Ticket" in str(client.predict("jana@example.de", True, api_name="/handoff"))
        status = str(client.predict("jana@example.de", True, api_name="/handoff"))
        assert "Many tickets" in status and "Ticket **#" not in status
        metrics = httpx.get(f"{url}metrics").text
        assert 'support_agent_rate_limited_total{action="ticket"}' in metrics
        assert 'support_agent_rate_limited_total{action="conversation_length"}' in metrics
        assert "support_agent_handoff_tickets_total" in metrics


def test_limits_per_address_count_the_trusted_proxys_client(
    demo_data_dir: Path, embedder: Embedder, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    limited = {"trusted_proxies": [PROXY], "consents_per_hour_per_address": 2}
    with served(demo_data_dir, embedder, **limited) as (url, services):
        for _ in range(2):
            *_, status = _client(url, "198.51.100.7").predict(api_name="/consent_none")
            assert status == ""
        *_, status = _client(url, "198.51.100.7").predict(api_name="/consent_none")
        assert "try again later" in status
        *_, status = _client(url, "198.51.100.8").predict(api_name="/consent_none")
        assert status == ""  # another address is not affected
        # addresses live only in memory, as salted hashes: never in a file or a log line
        assert files_containing(services.settings, b"198.51.100.7") == []
        assert "198.51.100.7" not in caplog.text
    # Without trusted proxies the header is not believed: all of these are the same loopback client.
    with served(demo_data_dir, embedder, consents_per_hour_per_address=2) as (url, _):
        statuses = [_client(url, f"198.51.100.{n}").predict(api_name="/consent_none")[-1] for n in range(3)]
        assert statuses[:2] == ["", ""] and "try again later" in statuses[2]


def test_limits_reset_and_can_be_switched_off() -> None:
    limits = RateLimits(make_settings(Path("unused"), questions_per_minute=1), minute_s=1)
    assert limits.allow("question", visitor="a", address="10.0.0.1")
    assert not limits.allow("question", visitor="a", address="10.0.0.1")
    assert limits.allow("question", visitor="b", address="10.0.0.1")  # another visitor, same address
    wait_until(
        lambda: limits.allow("question", visitor="a", address="10.0.0.1"), timeout_s=10, what="the window"
    )
    limits.allow("question", visitor="c", address="10.0.0.1")
    assert not limits.allow("question", visitor="c", address="10.0.0.1")
    limits.reset()
    assert limits.allow("question", visitor="c", address="10.0.0.1")
    off = RateLimits(make_settings(Path("unused"), rate_limits=False, questions_per_minute=1))
    assert all(off.allow("question", visitor="a", address="x") for _ in range(5))


def test_proxy_headers_are_believed_only_from_trusted_proxies(
    demo_data_dir: Path, embedder: Embedder
) -> None:
    private = server_options(make_settings(Path("unused")))
    assert private["proxy_headers"] is False and "ssl_certfile" not in private
    proxied = server_options(make_settings(Path("unused"), trusted_proxies=["10.0.0.0/8"]))
    assert proxied["proxy_headers"] is True and proxied["forwarded_allow_ips"] == ["10.0.0.0/8"]
    with served(demo_data_dir, embedder) as (url, _):  # nobody trusted: a forged header changes nothing
        forged = {"X-Forwarded-For": "203.0.113.9", "X-Forwarded-Proto": "https"}
        response = httpx.get(f"{url}metrics", headers=forged)
        assert response.status_code == 200  # still loopback
        assert "strict-transport-security" not in response.headers


def test_serving_on_an_open_address_without_tls_or_proxy_is_refused(tmp_path: Path) -> None:
    env = {**os.environ, "SUPPORT_AGENT_DATA_DIR": str(tmp_path), "SUPPORT_AGENT_MODELS_DIR": str(MODELS_DIR)}
    result = subprocess.run(
        [sys.executable, "-m", "agent.cli", "serve", "--host", "0.0.0.0", "--port", str(free_port())],
        env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode != 0
    assert "Not starting" in result.stderr and "unencrypted" in result.stderr


def test_the_page_speaks_the_visitors_language(chat_url_de_en: str) -> None:
    assert visitor_language("de", "en-US,en;q=0.9") == "de"
    assert visitor_language(None, "fr-FR,de;q=0.8,en;q=0.5") == "de"
    assert visitor_language("xx", None) == "en"
    assert set(catalogue()["de"]) == set(catalogue()["en"])
    requests: list[str] = []
    with chromium_page(requests, locale="de-DE") as page:
        page.goto(chat_url_de_en)
        expect(page.locator("#consent-none")).to_have_text("Chatten ohne Speicherung", timeout=60_000)
        expect(page.locator("#ai-notice")).to_contain_text("KI-Assistent")
        expect(page.locator("#ai-notice")).not_to_contain_text("AI assistant")
        page.goto(f"{chat_url_de_en}?lang=en")
        expect(page.locator("#consent-none")).to_have_text("Chat without storing anything", timeout=60_000)
        expect(page.locator("#ai-notice")).to_contain_text("AI assistant")
        page.locator("#consent-none").click()
        expect(page.locator("#send")).to_have_text("Send")
        page.locator("#question textarea").fill("Wie wird das Wetter morgen in Hamburg?")
        page.locator("#send").click()  # the answer follows the question's language, not the page's
        expect(page.locator("#chat")).to_contain_text("Mit einem Menschen sprechen", timeout=120_000)


@pytest.fixture(scope="module")
def chat_url_de_en(demo_data_dir: Path, embedder: Embedder) -> Iterator[str]:
    with served(demo_data_dir, embedder) as (url, _):
        yield url


@contextmanager
def company_site(folder: Path) -> Iterator[tuple[str, Callable[[str], None]]]:
    """A company's web server on another loopback origin (another port); `publish(chat_url)` writes its
    page with the widget snippet of docs/embedding.md."""
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()

    def publish(chat_url: str) -> None:
        (folder / "index.html").write_text(
            "<!doctype html><html lang='de'><head><meta charset='utf-8'><title>Nordlicht Store</title>"
            "</head><body><h1>Nordlicht Store</h1><p>Outdoor-Ausrüstung seit 1998.</p>"
            f'<script src="{chat_url}widget.js" data-lang="de" defer></script></body></html>',
            encoding="utf-8",
        )

    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", publish
    finally:
        server.shutdown()


def test_widget_on_an_allowed_site_chats_and_on_others_is_refused(
    demo_data_dir: Path, embedder: Embedder, tmp_path: Path
) -> None:
    with company_site(tmp_path) as (site, publish):
        with served(demo_data_dir, embedder, embed_origins=[site]) as (chat_url, _):
            publish(chat_url)
            requests: list[str] = []
            with chromium_page(requests, locale="de-DE") as page:
                page.goto(site)
                button = page.locator("#support-chat-button")
                expect(button).to_have_text("Hilfe-Chat")
                from_chat = [url for url in requests if url.startswith(chat_url)]
                assert from_chat == [f"{chat_url}widget.js"]  # nothing else before the click
                button.click()
                frame = page.frame_locator("#support-chat-frame")
                expect(frame.locator("#consent-none")).to_have_text(
                    "Chatten ohne Speicherung", timeout=60_000
                )
                frame.locator("#consent-none").click()
                frame.locator("#question textarea").fill("Wie lange habe ich Zeit für eine Rücksendung?")
                frame.locator("#send").click()
                expect(frame.locator("#chat")).to_contain_text("Quelle", timeout=180_000)
                screenshot(page, "widget-on-a-company-page.png")
                storage = page.evaluate("() => [localStorage.length, sessionStorage.length]")
                assert page.context.cookies() == [] and storage == [0, 0]  # nothing kept in the browser

        with served(demo_data_dir, embedder) as (refusing_url, _):  # default: no site may frame the chat
            publish(refusing_url)
            with chromium_page([]) as page:
                page.goto(site)
                with page.expect_console_message(lambda m: "frame-ancestors" in m.text, timeout=60_000):
                    page.locator("#support-chat-button").click()
                expect(page.frame_locator("#support-chat-frame").locator("#consent-none")).to_have_count(0)


def test_a_third_ui_language_is_one_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import shutil

    import ui.texts

    for code in ("de", "en"):
        shutil.copy(ui.texts.LOCALES / f"{code}.toml", tmp_path)
    english = (ui.texts.LOCALES / "en.toml").read_text(encoding="utf-8")
    (tmp_path / "fr.toml").write_text(
        english.replace(
            'consent_none = "Chat without storing anything"', 'consent_none = "Discuter sans rien garder"'
        ),
        encoding="utf-8",
    )
    monkeypatch.setattr(ui.texts, "LOCALES", tmp_path)
    ui.texts.catalogue.cache_clear()
    try:
        assert visitor_language(None, "fr-CH,fr;q=0.9,en;q=0.5") == "fr"
        assert ui.texts.texts("fr")["consent_none"] == "Discuter sans rien garder"
        (tmp_path / "fr.toml").write_text('language_name = "Français"\n', encoding="utf-8")
        ui.texts.catalogue.cache_clear()
        with pytest.raises(ConfigError, match="fr.toml lacks"):
            ui.texts.catalogue()
    finally:
        ui.texts.catalogue.cache_clear()


def test_proof_of_work_before_the_first_question(demo_data_dir: Path, embedder: Embedder) -> None:
    with served(demo_data_dir, embedder, proof_of_work=True, proof_of_work_max_number=20_000) as (url, _):
        with chromium_page([], locale="en-GB") as page:  # a person's browser solves it unnoticed
            page.goto(url)
            page.locator("#consent-none").click()
            expect(page.locator("#question textarea")).to_be_visible(timeout=60_000)  # accepted: chat opens
        *_, status = _client(url).predict(api_name="/consent_none")  # a script that does not solve it
        assert "could not be checked" in status
        *_, status = _client(url).predict("bm90IGEgc29sdXRpb24=", api_name="/consent_none")
        assert "could not be checked" in status


def test_a_proof_of_work_solution_counts_once() -> None:
    proof = ProofOfWork(2_000)
    challenge = json.loads(proof.challenge())
    number = next(
        n
        for n in range(challenge["maxNumber"] + 1)
        if hashlib.sha256(f"{challenge['salt']}{n}".encode()).hexdigest() == challenge["challenge"]
    )
    fields = ("algorithm", "challenge", "salt", "signature")
    solution = {**{k: challenge[k] for k in fields}, "number": number}
    payload = base64.b64encode(json.dumps(solution).encode()).decode()
    assert proof.verify(payload)
    assert not proof.verify(payload)  # replayed
    forged = base64.b64encode(json.dumps({**solution, "number": number + 1}).encode()).decode()
    assert not ProofOfWork(2_000).verify(forged) and not proof.verify("")
