"""Liveness, readiness, and the engine catalogue."""

from __future__ import annotations

from flask_openapi3 import APIBlueprint, Tag
from sqlalchemy import text

from voxfarm.api.services import services
from voxfarm.core.engines.languages import LANGUAGES
from voxfarm.core.engines.registry import ENGINES, describe_engine, served_engines
from voxfarm.core.engines.schemas import EngineList
from voxfarm.core.fleet.workers import LiveWorkers
from voxfarm.core.schemas import ErrorResponse, Health

bp = APIBlueprint("health", __name__, abp_tags=[Tag(name="health")])


@bp.get("/healthz", responses={200: Health})
def healthz():
    """The process is up (no dependencies checked)."""
    return {"status": "ok", "checks": {}}


@bp.get("/readyz", responses={200: Health, 503: Health})
def readyz():
    """Database, broker and object storage are all reachable (200, else 503).  ``workers`` counts
    live workers per served engine and on the control queue; the status is ``degraded`` (still
    200: jobs are accepted and wait, saying why) while any of them has none."""
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
    if not ready:
        return {"status": "unavailable", "checks": checks}, 503
    live = _live(svc)
    served = served_engines(svc.settings)
    workers = {name: live.engines[name] for name in served} | {"control": live.control}
    body = {"status": "ready" if all(workers.values()) else "degraded", "checks": checks, "workers": workers}
    idle = sorted(name for name, n in live.engines.items() if n and name not in served)
    if idle:  # a worker that gets no job: its engine is refused at submit (engine_not_served)
        body["warnings"] = [f"{live.engines[name]} live worker(s) serve engine {name!r}, which this API does not "
                            f"serve (VOXFARM_ENGINES={','.join(served)}): its jobs are refused; add {name} to "
                            "VOXFARM_ENGINES on the API" for name in idle]
    return body, 200


def _live(svc) -> LiveWorkers:
    with svc.db.session() as s:
        return LiveWorkers.load(s, svc.settings)


def _db(svc) -> None:
    with svc.db.engine.connect() as conn:
        conn.execute(text("SELECT 1"))


@bp.get("/v1/engines", responses={200: EngineList, 401: ErrorResponse}, security=[{"bearer": []}])
def list_engines():
    """Engines this farm serves: params with ranges and defaults, pre-made voices, capabilities,
    and how many live workers serve each now."""
    svc = services()
    live = _live(svc)
    return {"data": [{**describe_engine(ENGINES[n], svc.settings), "live_workers": live.engines[n],
                      "languages": sorted(LANGUAGES[n]) if n in LANGUAGES else None}
                     for n in served_engines(svc.settings)]}
