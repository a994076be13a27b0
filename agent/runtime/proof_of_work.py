"""An optional proof of work before the first question (the ALTCHA scheme, served by us, no third party).

The page receives a signed challenge: a salt and the SHA-256 of salt + a secret number below
`max_number`. The visitor's browser finds the number (about a second of its CPU) before the consent
choice is sent; a script that wants thousands of sessions pays that second for each. Challenges are
signed with a key made at start, expire after ten minutes and are accepted once.
"""

from __future__ import annotations

import base64
import datetime
import json
import secrets
import threading
import time

from altcha import ChallengeOptionsV1, create_challenge_v1, verify_solution_v1

EXPIRES_S = 600


class ProofOfWork:
    """Issues challenges and checks solutions (each solution is accepted once)."""

    def __init__(self, max_number: int) -> None:
        self._key = secrets.token_hex(32)
        self._max_number = max_number
        self._used: dict[str, float] = {}  # signature -> when it expires
        self._lock = threading.Lock()

    def challenge(self) -> str:
        """A new challenge, as the JSON the page's solver reads."""
        expires = datetime.datetime.now(datetime.UTC) + datetime.timedelta(seconds=EXPIRES_S)
        issued = create_challenge_v1(
            ChallengeOptionsV1(hmac_key=self._key, max_number=self._max_number, expires=expires)
        )
        return json.dumps(issued.to_dict())

    def verify(self, payload: str) -> bool:
        """True once for a correct, unexpired solution (base64 JSON of the ALTCHA payload)."""
        if not payload:
            return False
        valid, _ = verify_solution_v1(payload, self._key, check_expires=True)
        if not valid:
            return False
        signature = _signature(payload)
        now = time.time()
        with self._lock:
            self._used = {s: until for s, until in self._used.items() if until > now}
            if signature in self._used:
                return False  # a solution is good for one session only
            self._used[signature] = now + EXPIRES_S
        return True


def _signature(payload: str) -> str:
    return str(json.loads(base64.b64decode(payload))["signature"])


# The browser's side: find the number, hand the payload to the consent event instead of the challenge.
SOLVER_JS = """
async (...values) => {
  const text = values[values.length - 1];
  if (!text) { return values; }
  const c = JSON.parse(text);
  const encoder = new TextEncoder();
  for (let n = 0; n <= c.maxNumber; n++) {
    const digest = await crypto.subtle.digest("SHA-256", encoder.encode(c.salt + n));
    const hex = Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
    if (hex === c.challenge) {
      const payload = {algorithm: c.algorithm, challenge: c.challenge, number: n, salt: c.salt,
                       signature: c.signature};
      return [...values.slice(0, -1), btoa(JSON.stringify(payload))];
    }
  }
  return [...values.slice(0, -1), ""];
}
"""
