"""Background jobs of the server (retention purge, security checks): run now, then every N seconds."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

log = logging.getLogger(__name__)


class Periodic:
    """Runs `job` right away and then every `interval_s` seconds in a daemon thread until stopped."""

    def __init__(self, name: str, interval_s: float, job: Callable[[], object]) -> None:
        self._name = name
        self._interval_s = interval_s
        self._job = job
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def start(self) -> None:
        """First run right away, then on schedule."""
        self._thread.start()

    def run_once(self) -> None:
        """Run the job once, now, in the caller's thread (what each scheduled run does)."""
        self._job()

    def stop(self) -> None:
        """Stop after the current run."""
        self._stop.set()
        self._thread.join(timeout=30)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self._job()
            except Exception:  # the schedule must outlive one failed run (e.g. a full disk)
                log.exception("%s failed; will retry", self._name)
            self._stop.wait(self._interval_s)
