"""The real Gradio chat page, driven through gradio_client over HTTP."""

from __future__ import annotations

import logging
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from agent.privacy_env import use_temp_dir
from agent.wiring import build_agent
from tests.conftest import make_settings


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def chat_url(demo_data_dir: Path) -> Iterator[str]:
    settings = make_settings(demo_data_dir)
    use_temp_dir(settings.temp_dir)
    from ui.chat import build_chat

    page = build_chat(build_agent(settings), settings)
    page.queue(default_concurrency_limit=1).launch(
        server_name="127.0.0.1", server_port=_free_port(), prevent_thread_lock=True, quiet=True
    )
    try:
        yield page.local_url
    finally:
        page.close()


def test_chat_answers_with_linked_citation(chat_url: str) -> None:
    from gradio_client import Client

    client = Client(chat_url, verbose=False)
    box, chat = client.predict("How long do I have to return a jacket?", api_name="/chat")
    assert box == ""
    assert [m["role"] for m in chat] == ["user", "assistant"]
    reply = _text(chat[-1])
    assert "[Returning an item](https://help.nordlicht-shop.example/en/returns)" in reply
    assert "Source:" in reply


def test_out_of_scope_gets_handoff_in_german(chat_url: str) -> None:
    from gradio_client import Client

    client = Client(chat_url, verbose=False)
    _, chat = client.predict("Wie wird das Wetter morgen in Hamburg?", api_name="/chat")
    assert "support@nordlicht-shop.example" in _text(chat[-1])
    assert "Quelle" not in _text(chat[-1])


def test_oversized_message_gets_a_clear_message(chat_url: str) -> None:
    from gradio_client import Client

    client = Client(chat_url, verbose=False)
    _, chat = client.predict("bitte " * 400, api_name="/chat")
    assert "the limit is 1500" in _text(chat[-1])


def test_sessions_do_not_share_history(chat_url: str) -> None:
    from gradio_client import Client

    first, second = Client(chat_url, verbose=False), Client(chat_url, verbose=False)
    first.predict("Can I pay on invoice?", api_name="/chat")
    _, chat = second.predict("Welche Zahlungsarten gibt es?", api_name="/chat")
    assert len(chat) == 2  # the second customer's chat holds only their own turn
    assert "invoice" not in _text(chat[0]).lower()


def test_chat_logs_carry_no_message_text(chat_url: str, caplog: pytest.LogCaptureFixture) -> None:
    from gradio_client import Client

    canary = "canary-7d1f3 please tell me about returns"
    with caplog.at_level(logging.DEBUG):
        Client(chat_url, verbose=False).predict(canary, api_name="/chat")
    assert "answered:" in caplog.text
    assert "canary-7d1f3" not in caplog.text


def _text(message: dict) -> str:
    content = message["content"]
    if isinstance(content, list):  # Gradio may wrap text in typed parts
        return " ".join(str(p.get("text", "")) if isinstance(p, dict) else str(p) for p in content)
    return str(content)
