"""Kept llama.cpp states of customer-free prompt prefixes (rules + articles), in memory and on disk.

A prompt starts with what does not depend on the customer, so the model's state after that start can
be reused by the next customer whose question needs the same articles: the model then reads only the
question. Keys are hashes of the prefix tokens, so an edited article is simply a new key (the old state
is never used again and ages out). Only prefixes are ever stored, never a customer's words: erasure
does not need to touch this cache.
"""

from __future__ import annotations

import hashlib
import logging
import os
import struct
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

_MAGIC = b"SAKV1\n"


@dataclass(frozen=True)
class PrefixState:
    """The tokens of a prefix and llama.cpp's state after reading them."""

    tokens: tuple[int, ...]
    data: bytes

    @property
    def size(self) -> int:
        """Bytes held."""
        return len(self.data) + 4 * len(self.tokens)


class PrefixCache:
    """A bounded LRU of prefix states in memory, with an optional bounded folder on disk behind it."""

    def __init__(
        self, *, model_id: str, max_bytes: int, disk_dir: Path | None = None, max_disk_bytes: int = 0
    ) -> None:
        self._model_id = model_id
        self._max_bytes = max_bytes
        self._disk_dir = disk_dir if disk_dir and max_disk_bytes > 0 else None
        self._max_disk_bytes = max_disk_bytes
        self._states: OrderedDict[str, PrefixState] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()
        self.hits = {"memory": 0, "disk": 0}
        self.misses = 0

    def key(self, tokens: Sequence[int]) -> str:
        """The cache key of a prefix: its tokens and the model they were read by."""
        digest = hashlib.sha256(self._model_id.encode())
        digest.update(np.asarray(tokens, dtype=np.int32).tobytes())
        return digest.hexdigest()[:40]

    def get(self, tokens: Sequence[int]) -> tuple[PrefixState | None, str]:
        """(state, "memory" | "disk") for this exact prefix, or (None, "")."""
        key = self.key(tokens)
        with self._lock:
            state = self._states.get(key)
            if state is not None:
                self._states.move_to_end(key)
                self.hits["memory"] += 1
                return state, "memory"
        state = self._read(key, tokens)
        if state is None:
            self.misses += 1
            return None, ""
        self._remember(key, state)
        self.hits["disk"] += 1
        return state, "disk"

    def put(self, tokens: Sequence[int], state: PrefixState) -> None:
        """Keep the state of this prefix (and write it to disk when a disk folder is set)."""
        key = self.key(tokens)
        self._remember(key, state)
        self._write(key, state)

    def __len__(self) -> int:
        return len(self._states)

    def states(self) -> list[PrefixState]:
        """Every state held in memory (for inspection in tests and benchmarks)."""
        with self._lock:
            return list(self._states.values())

    def _remember(self, key: str, state: PrefixState) -> None:
        with self._lock:
            if key in self._states:
                self._states.move_to_end(key)
                return
            if state.size > self._max_bytes:
                return
            self._states[key] = state
            self._bytes += state.size
            while self._bytes > self._max_bytes:
                _, old = self._states.popitem(last=False)
                self._bytes -= old.size

    # disk ----------------------------------------------------------------------------------------
    def _path(self, key: str) -> Path:
        assert self._disk_dir is not None
        return self._disk_dir / f"{key}.kv"

    def _read(self, key: str, tokens: Sequence[int]) -> PrefixState | None:
        if self._disk_dir is None:
            return None
        path = self._path(key)
        try:
            blob = path.read_bytes()
        except OSError:
            return None
        try:
            if not blob.startswith(_MAGIC):
                raise ValueError("not a prefix state file")
            (count,) = struct.unpack_from("<I", blob, len(_MAGIC))
            start = len(_MAGIC) + 4
            stored = tuple(np.frombuffer(blob, dtype="<i4", count=count, offset=start).tolist())
            if stored != tuple(tokens):
                raise ValueError("tokens differ from the key")
            os.utime(path)  # recently used: evicted last
            return PrefixState(stored, blob[start + 4 * count :])
        except (ValueError, struct.error) as exc:
            log.warning("prefix cache: ignoring unreadable file %s (%s)", path.name, exc)
            path.unlink(missing_ok=True)
            return None

    def _write(self, key: str, state: PrefixState) -> None:
        if self._disk_dir is None or state.size > self._max_disk_bytes:
            return
        try:
            self._disk_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
            path = self._path(key)
            if path.exists():
                return
            tmp = path.with_suffix(".tmp")
            header = _MAGIC + struct.pack("<I", len(state.tokens))
            tmp.write_bytes(header + np.asarray(state.tokens, dtype="<i4").tobytes() + state.data)
            tmp.replace(path)
            self._trim_disk()
        except OSError as exc:  # a full disk costs speed, never an answer
            log.warning("prefix cache: could not write to disk (%s)", type(exc).__name__)

    def _trim_disk(self) -> None:
        assert self._disk_dir is not None
        files = sorted(self._disk_dir.glob("*.kv"), key=lambda p: p.stat().st_mtime)
        total = sum(p.stat().st_size for p in files)
        while files and total > self._max_disk_bytes:
            oldest = files.pop(0)
            total -= oldest.stat().st_size
            oldest.unlink(missing_ok=True)
