"""Counts and timings for the operators' dashboards (Prometheus text format).

Only numbers and fixed labels: never customer text, reference codes, addresses or article ids, so a
metrics scrape can never leak what a customer said or who they are.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily
from prometheus_client.registry import Collector

from agent.runtime.egress import blocked_attempts

disable_created_metrics()  # the *_created series say nothing an operator needs
REGISTRY = CollectorRegistry()
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

ANSWERS = Counter(
    "support_agent_answers",
    "Chat turns answered, by outcome (answered or refused)",
    ["outcome"],
    registry=REGISTRY,
)
REFUSALS = Counter(
    "support_agent_refusals",
    "Questions handed off instead of answered, by cause (retrieval, model, guard, busy, limit)",
    ["cause"],
    registry=REGISTRY,
)
GUARD_REMOVALS = Counter(
    "support_agent_guard_removed_sentences",
    "Sentences the grounding guard removed from answers (not supported by the articles)",
    registry=REGISTRY,
)
CURATED_ANSWERS = Counter(
    "support_agent_curated_answers",
    "Chat turns answered with a support lead's curated answer (verbatim, no model call)",
    registry=REGISTRY,
)
HANDOFFS = Counter("support_agent_handoff_tickets", "Tickets opened for a human", registry=REGISTRY)
ERRORS = Counter("support_agent_errors", "Chat turns that failed with an error", registry=REGISTRY)
RATE_LIMITED = Counter(
    "support_agent_rate_limited",
    "Requests refused by a rate limit, by action (question, consent, ticket, conversation_length)",
    ["action"],
    registry=REGISTRY,
)
PURGE_RUNS = Counter(
    "support_agent_purge_runs",
    "Retention purge runs, by result (ok or failed)",
    ["result"],
    registry=REGISTRY,
)
ANSWER_SECONDS = Histogram(
    "support_agent_answer_seconds",
    "Seconds from question to complete answer",
    buckets=(0.5, 1, 2, 4, 8, 15, 30, 60, 120),
    registry=REGISTRY,
)
QUEUE_WAITING = Gauge(
    "support_agent_queue_waiting", "Customers waiting for the model right now", registry=REGISTRY
)


SECURITY_ALERTS = Counter(
    "support_agent_security_alerts",
    "Security alerts raised, by kind (audit_chain_broken, egress_blocked, failed_logins, exports)",
    ["kind"],
    registry=REGISTRY,
)
AUDIT_CHAIN_INTACT = Gauge(
    "support_agent_audit_chain_intact", "1 when the audit trail verified at the last check", registry=REGISTRY
)


class _EgressBlocks(Collector):
    """Outbound connections the egress guard refused since the process started."""

    def collect(self) -> Iterator[CounterMetricFamily]:
        yield CounterMetricFamily(
            "support_agent_egress_blocked",
            "Outbound connections the egress guard blocked",
            value=len(blocked_attempts()),
        )


REGISTRY.register(_EgressBlocks())


def watch_queue(waiting: Callable[[], int]) -> None:
    """Read the queue depth from this function at every scrape (the served agent's line)."""
    QUEUE_WAITING.set_function(waiting)


def exposition() -> bytes:
    """Every metric in the Prometheus text format."""
    return generate_latest(REGISTRY)
