"""Customers take turns at the model: first come, first served, a visible place in the queue, a cap.

Retrieval runs for every customer at once (it takes milliseconds); only the model is one-at-a-time
per slot. A customer beyond the cap is told at once that it is busy instead of waiting for a timeout.
"""

from __future__ import annotations

import itertools
import threading
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager

from agent.errors import AgentError


class Busy(AgentError):
    """More customers are waiting than the queue takes."""


class Turnstile:
    """`slots` customers use the model at a time; at most `max_waiting` more wait in line."""

    def __init__(self, slots: int = 1, max_waiting: int = 8) -> None:
        self._slots = slots
        self._max_waiting = max_waiting
        self._line: deque[int] = deque()
        self._active = 0
        self._numbers = itertools.count()
        self._changed = threading.Condition()

    @property
    def waiting(self) -> int:
        """How many customers wait for a slot now."""
        with self._changed:
            return len(self._line)

    @contextmanager
    def turn(self) -> Iterator[Iterator[int]]:
        """A place in line. Iterate the yielded iterator: it gives the number of customers ahead
        whenever it changes and ends when it is this customer's turn. Raises Busy when the line is full.
        The slot is freed when the `with` block ends (also on errors or a closed page)."""
        with self._changed:
            if len(self._line) >= self._max_waiting and self._active >= self._slots:
                raise Busy("Too many customers are waiting right now.")
            number = next(self._numbers)
            self._line.append(number)
        admitted = False

        def wait() -> Iterator[int]:
            nonlocal admitted
            shown = -1
            while True:
                with self._changed:
                    ahead = self._line.index(number) + (self._active >= self._slots)
                    if ahead == 0:
                        self._line.popleft()
                        self._active += 1
                        admitted = True
                        self._changed.notify_all()
                        return
                    if ahead == shown:
                        self._changed.wait(timeout=1.0)
                        continue
                shown = ahead
                yield ahead

        try:
            yield wait()
        finally:
            with self._changed:
                if admitted:
                    self._active -= 1
                elif number in self._line:
                    self._line.remove(number)
                self._changed.notify_all()
