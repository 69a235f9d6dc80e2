"""``/metrics`` for Prometheus, and the per-request counters behind it.

The route is public like /healthz (Prometheus scrapes without a tenant key) and carries no tenant
label or content: only aggregate counts.  Request metrics are labelled by the route *rule*
(``/v1/jobs/<job_id>``), never the raw path, so label cardinality stays bounded whatever ids
clients send.
"""

from __future__ import annotations

import time

from flask import Response, g, request
from flask_openapi3 import APIBlueprint, OpenAPI, Tag

from voxfarm.core.engines.registry import served_engines
from voxfarm.core.fleet import metrics
from voxfarm.core.fleet.farm_state import read_state

ENDPOINT = "metrics.expose"


def register(app: OpenAPI, services) -> None:
    svc = services

    def state():
        with svc.db.session() as s:
            return read_state(s, svc.settings.heartbeat_s, served_engines(svc.settings))

    registry = metrics.registry(state)

    @app.before_request
    def _start_timer():
        g.metrics_started = time.perf_counter()

    @app.after_request
    def _count(response):
        started = g.pop("metrics_started", None)
        rule = request.url_rule.rule if request.url_rule is not None else "<unmatched>"
        if started is not None and request.endpoint != ENDPOINT:
            metrics.API_REQUESTS.labels(rule, request.method, str(response.status_code)).inc()
            metrics.API_LATENCY.labels(rule, request.method).observe(time.perf_counter() - started)
        return response

    bp = APIBlueprint("metrics", __name__, abp_tags=[Tag(name="health")])

    @bp.get("/metrics", responses={200: {"description": "Prometheus text exposition format 0.0.4",
                                         "content": {"text/plain": {"schema": {"type": "string"}}}}})
    def expose():
        """Prometheus metrics: requests, batches, audio rendered, queue depth (public, no tenant data)."""
        body, content_type = metrics.exposition(registry)
        return Response(body, content_type=content_type)

    app.register_api(bp)
