"""Configuration changes into the audit trail: which settings changed since the last start, not values."""

from __future__ import annotations

import hashlib
import json

from agent.privacy.audit import AuditLog
from agent.settings import Settings

_SECRET_FIELDS = {"master_key"}


def configuration_digests(settings: Settings) -> dict[str, str]:
    """A short digest of every setting's value (secrets and texts never appear in the trail)."""
    values = settings.model_dump(mode="json", exclude=_SECRET_FIELDS)
    return {
        name: hashlib.sha256(json.dumps(value, sort_keys=True).encode()).hexdigest()[:12]
        for name, value in sorted(values.items())
    }


def record_configuration(settings: Settings, audit: AuditLog, actor: str = "server-start") -> list[str]:
    """Record a `configuration_change` when settings differ from the last recorded ones; the names."""
    current = configuration_digests(settings)
    previous: dict[str, str] = {}
    for entry in audit.entries():
        if entry.get("event") == "configuration_change":
            previous = json.loads(entry["details"].get("digests", "{}"))
    changed = sorted(name for name in current if previous.get(name) != current[name])
    if changed:
        audit.record("configuration_change", actor, changed=changed, digests=json.dumps(current))
    return changed
