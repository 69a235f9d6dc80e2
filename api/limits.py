"""Per-tenant limits at the door (the policy is core/tenants/limits.py).

Before any view, each authenticated request counts against its route class's per-minute rate
(``speech``: POST /v1/audio/speech; ``read``: GET; ``submit``: every other write), and a speech
request takes an open-stream slot that its response gives back when it closes (renewed while it
streams).  The audio limits are checked by core intake itself, after planning.  Every refusal is
answered here: 429 with ``Retry-After`` and ``RateLimit-Limit`` / ``-Remaining`` / ``-Reset``, the
error naming the limit in ``details.limit`` (OpenAI's shape on the speech route, speech.py), and
counted in ``voxfarm_limit_refusals_total{tenant,limit}``.  Rate-limited answers that pass carry
the ``RateLimit-*`` headers too.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable, Iterator

from flask import Flask, Response, after_this_request, g, request

from voxfarm.api.errors import error_response
from voxfarm.api.services import services
from voxfarm.core.errors import LimitExceeded
from voxfarm.core.fleet import metrics
from voxfarm.core.tenants.limits import Limiter, StreamSlot

STREAM_ENDPOINT = "speech.create_speech"
RENEW_EVERY_S = 30.0


def route_class(endpoint: str | None, method: str) -> str:
    if endpoint == STREAM_ENDPOINT:
        return "speech"
    return "read" if method in ("GET", "HEAD") else "submit"


def _num(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:.3f}"


def register(app: Flask) -> None:
    """Register after auth (the tenant is known) and hygiene (a refused body costs nothing)."""

    @app.before_request
    def _check():
        tenant = g.get("tenant")
        if tenant is None or request.method == "OPTIONS":
            return None  # public routes: no tenant to count against
        limiter = services().limiter
        g.rate_state = limiter.check_rate(tenant, route_class(request.endpoint, request.method))
        if request.endpoint == STREAM_ENDPOINT:
            slot = limiter.open_stream(tenant)
            if slot is not None:
                after_this_request(lambda resp: _hold(resp, limiter, slot))
        return None

    @app.after_request
    def _headers(resp: Response) -> Response:
        state = g.pop("rate_state", None)
        if state is not None and resp.status_code != 429:
            resp.headers.update(state.headers())
        return resp

    @app.errorhandler(LimitExceeded)
    def _refused(exc: LimitExceeded):
        tenant = g.get("tenant")
        metrics.LIMIT_REFUSALS.labels(tenant.name if tenant is not None else "-", exc.limit).inc()
        resp = error_response(exc.status, exc.code, exc.message, exc.details)
        if exc.status == 429:
            resp.headers["Retry-After"] = str(exc.retry_after_s)
            resp.headers["RateLimit-Limit"] = _num(exc.limit_value)
            resp.headers["RateLimit-Remaining"] = str(math.floor(exc.remaining))
            resp.headers["RateLimit-Reset"] = str(max(exc.retry_after_s, math.ceil(exc.reset_s)))
        return resp


def _hold(resp: Response, limiter: Limiter, slot: StreamSlot) -> Response:
    """The slot lasts as long as the response: renewed while a stream sends, given back on close."""
    if resp.is_streamed:
        resp.response = _renewing(resp.response, limiter, slot)
    resp.call_on_close(lambda: limiter.close_stream(slot))
    return resp


def _renewing(body: Iterable[bytes], limiter: Limiter, slot: StreamSlot) -> Iterator[bytes]:
    last = time.monotonic()
    try:
        for piece in body:
            if time.monotonic() - last > RENEW_EVERY_S:
                limiter.renew_stream(slot)
                last = time.monotonic()
            yield piece
    finally:
        close = getattr(body, "close", None)
        if close is not None:
            close()  # the stream's own cleanup (ffmpeg, cancelling an abandoned job) runs as before
