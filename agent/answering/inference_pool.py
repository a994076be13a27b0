"""Generation on a pool of OpenAI-compatible inference servers (llama.cpp server, vLLM), with failover."""

from __future__ import annotations

import itertools
import json
import logging
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx

from agent.answering.generation import STOP, GenerationOptions, Message
from agent.errors import ModelError

log = logging.getLogger(__name__)


class InferencePool:
    """Sends each chat to the next server in turn; a server that cannot be reached is skipped.

    Failover happens only before the first token: once an answer has started streaming, a broken
    connection is an error (a second server would start the answer again from scratch).
    """

    def __init__(
        self,
        base_urls: list[str],
        *,
        model: str,
        options: GenerationOptions,
        timeout_s: float = 120.0,
        ca_file: Path | None = None,
    ) -> None:
        if not base_urls:
            raise ValueError("an inference pool needs at least one server URL")
        self._urls = [url.rstrip("/") for url in base_urls]
        self._model = model
        self._options = options
        self._client = httpx.Client(
            timeout=httpx.Timeout(timeout_s, connect=10.0),
            verify=str(ca_file) if ca_file else True,
            trust_env=False,  # a proxy from the environment would be an undeclared endpoint
        )
        self._turn = itertools.count()
        self._turn_lock = threading.Lock()

    def forget(self) -> None:
        """Nothing to drop here: the servers run with their prompt cache off (docs/scaling.md)."""

    def stream(self, messages: list[Message]) -> Iterator[str]:
        """Yield the answer piece by piece from the first server that takes the request."""
        with self._turn_lock:
            start = next(self._turn) % len(self._urls)
        order = self._urls[start:] + self._urls[:start]
        failures = []
        for url in order:
            try:
                yield from self._stream_from(url, messages)
                return
            except _NotReached as exc:
                log.warning("inference server %s not reached (%s); trying the next", url, exc)
                failures.append(f"{url}: {exc}")
        raise ModelError("No inference server answered: " + "; ".join(failures))

    def _stream_from(self, url: str, messages: list[Message]) -> Iterator[str]:
        body = {
            "model": self._model,
            "messages": messages,
            "stream": True,
            "max_tokens": self._options.max_tokens,
            "temperature": self._options.temperature,
            "repeat_penalty": self._options.repeat_penalty,  # llama.cpp's name; other servers ignore it
            "stop": STOP[:4],  # the OpenAI API accepts at most four stop sequences
        }
        started = False
        try:
            with self._client.stream("POST", f"{url}/chat/completions", json=body) as response:
                if response.status_code >= 500:
                    raise _NotReached(f"HTTP {response.status_code}")
                if response.status_code != 200:
                    response.read()
                    raise ModelError(
                        f"The inference server {url} refused the request: HTTP {response.status_code} "
                        f"{response.text[:200]}"
                    )
                for line in response.iter_lines():
                    delta = _delta(line)
                    if delta is None:
                        break
                    if delta:
                        started = True
                        yield delta
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.RemoteProtocolError) as exc:
            if started:
                raise ModelError(f"The inference server {url} broke off the answer: {exc}") from exc
            raise _NotReached(str(exc) or type(exc).__name__) from exc
        except httpx.HTTPError as exc:
            raise ModelError(f"The inference server {url} failed: {exc}") from exc


class _NotReached(Exception):
    """The server could not take the request; the next one may."""


def _delta(line: str) -> str | None:
    """The text in one server-sent-events line: '' for none, None at the end of the stream."""
    if not line.startswith("data:"):
        return ""
    data = line[len("data:") :].strip()
    if data == "[DONE]":
        return None
    try:
        choice = json.loads(data)["choices"][0]
    except (ValueError, KeyError, IndexError):
        return ""
    return (choice.get("delta") or {}).get("content") or ""
