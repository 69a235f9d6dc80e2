"""Liveness, readiness, and the engine catalogue."""

from __future__ import annotations

from flask_openapi3 import APIBlueprint, Tag
from sqlalchemy import text

from api.app import services
from core.engines import ENGINES, describe_engine, served_engines
from core.schemas import EngineList, ErrorResponse, Health

bp = APIBlueprint("health", __name__, abp_tags=[Tag(name="health")])


@bp.get("/healthz", responses={200: Health})
def healthz():
    """The process is up (no dependencies checked)."""
    return {"status": "ok", "checks": {}}


@bp.get("/readyz", responses={200: Health, 503: Health})
def readyz():
    """Database, broker and object storage are all reachable."""
    svc = services()
    checks: dict[str, str] = {}
    for name, probe in (("database", lambda: _db(svc)), ("broker", svc.publisher.ping),
                        ("storage", svc.store.check)):
        try:
            probe()
            checks[name] = "ok"
        except Exception as exc:  # noqa: BLE001 - report, do not raise
            checks[name] = f"error: {type(exc).__name__}"
    ready = all(v == "ok" for v in checks.values())
    return {"status": "ready" if ready else "unavailable", "checks": checks}, 200 if ready else 503


def _db(svc) -> None:
    with svc.db.engine.connect() as conn:
        conn.execute(text("SELECT 1"))


@bp.get("/v1/engines", responses={200: EngineList, 401: ErrorResponse}, security=[{"bearer": []}])
def list_engines():
    """Engines this farm serves: params with ranges and defaults, pre-made voices, capabilities."""
    settings = services().settings
    return {"data": [describe_engine(ENGINES[n], settings) for n in served_engines(settings)]}
