"""Routes for the operators' tools: /healthz (alive), /readyz (ready to answer), /metrics (Prometheus)."""

from __future__ import annotations

import hmac
import ipaddress
import os
import tempfile
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

from agent.errors import AgentError
from agent.runtime import metrics
from agent.wiring import Services


def add_operations_routes(app: FastAPI, services: Services) -> None:
    """Health, readiness and metrics on `app`. None of them says anything about a customer."""
    settings = services.settings
    token = settings.metrics_token.get_secret_value() if settings.metrics_token else ""

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> dict[str, str]:
        return {"status": "alive"}

    @app.get("/readyz", include_in_schema=False)
    def readyz() -> JSONResponse:
        checks = readiness(services)
        ready = all(ok for ok, _ in checks.values())
        body = {"ready": ready, "checks": {name: {"ok": ok, "detail": d} for name, (ok, d) in checks.items()}}
        return JSONResponse(body, status_code=200 if ready else 503)

    @app.get("/metrics", include_in_schema=False)
    def prometheus(request: Request) -> Response:
        if not (_from_loopback(request) or _has_token(request, token)):
            return Response("metrics are served to loopback or with the metrics token\n", status_code=403)
        return Response(metrics.exposition(), media_type=metrics.CONTENT_TYPE)


def readiness(services: Services) -> dict[str, tuple[bool, str]]:
    """Each check a load balancer needs before sending customers here: (passed, what was found)."""
    checks: dict[str, tuple[bool, str]] = {}
    loaded = "agent" in services.__dict__  # never loads a model: that is the server's start-up work
    checks["model"] = (loaded, "loaded" if loaded else "not loaded yet")
    if loaded:
        try:
            passages = services.agent.retriever.passage_count()
            checks["index"] = (passages > 0, f"{passages} passages")
        except Exception as exc:  # any failure of the index is "not ready", with its kind
            checks["index"] = (False, type(exc).__name__)
    else:
        checks["index"] = (False, "opened with the model")
    try:
        services.subjects.store.check()
        checks["store"] = (True, "writable, master key opens the keys")
    except AgentError as exc:
        checks["store"] = (False, str(exc))
    checks["data_dir"] = _writable(services.settings.temp_dir)
    return checks


def _writable(folder: Any) -> tuple[bool, str]:
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, prefix="readyz-") as probe:
            probe.write(b"ok")
            probe.flush()
            os.fsync(probe.fileno())
        return True, "writable"
    except OSError as exc:
        return False, exc.strerror or type(exc).__name__


def _from_loopback(request: Request) -> bool:
    host = request.client.host if request.client else ""
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _has_token(request: Request, token: str) -> bool:
    offered = request.headers.get("authorization", "").removeprefix("Bearer ").strip()
    return bool(token) and hmac.compare_digest(offered.encode(), token.encode())
