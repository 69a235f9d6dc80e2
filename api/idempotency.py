"""``Idempotency-Key`` handling for POST views (see core/jobs/idempotency.py for the rules).

    return idem.create("POST /v1/jobs", 202, lambda session: build_the_resource(session))

``create`` replays a finished duplicate, runs ``prepare`` (validation, downloads: outside any
transaction) and then ``build`` inside the unit of work, storing the response in that same
transaction; any failure abandons the key, so failed requests are not remembered.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from flask import g, jsonify, request
from sqlalchemy.orm import Session

from voxfarm.api.services import services
from voxfarm.core.jobs import idempotency


def _fingerprint() -> str:
    parts: list[bytes | str] = [request.method, request.path]
    if request.mimetype == "application/json":
        # canonical JSON: key order and whitespace do not make a different request
        parts.append(json.dumps(request.get_json(silent=True), sort_keys=True, separators=(",", ":")))
    elif request.mimetype == "multipart/form-data":
        for key in sorted(request.form):
            parts += [key, "\x00".join(request.form.getlist(key))]
        for key in sorted(request.files):
            for f in request.files.getlist(key):
                data = f.stream.read()
                f.stream.seek(0)
                parts += [key, hashlib.sha256(data).hexdigest()]
    else:
        parts.append(request.get_data())
    return idempotency.fingerprint(*parts)


def begin(scope: str, location: Callable[[dict], str] | None = None):
    """A replayed response, or None to proceed (raises 409/422 per the rules)."""
    key = request.headers.get("Idempotency-Key")
    g.idem = None
    if key is None:
        return None
    key = idempotency.validate_key(key.strip())
    svc = services()
    replay = idempotency.begin(svc.db, g.tenant.id, scope, key, _fingerprint(), svc.settings.idempotency_ttl_s)
    if replay is not None:
        resp = jsonify(replay.body)
        resp.status_code = replay.status
        resp.headers["Idempotent-Replayed"] = "true"
        if location is not None and replay.status in (201, 202):
            resp.headers["Location"] = location(replay.body)
        return resp
    g.idem = (scope, key)
    return None


def complete(session: Session, status: int, body: dict) -> None:
    if getattr(g, "idem", None):
        scope, key = g.idem
        idempotency.complete(session, g.tenant.id, scope, key, status, body)


@contextmanager
def guard() -> Iterator[None]:
    try:
        yield
    except BaseException:
        if getattr(g, "idem", None):
            scope, key = g.idem
            idempotency.abandon(services().db, g.tenant.id, scope, key)
        raise


def create(scope: str, status: int, build: Callable[[Session, Any], dict],
           prepare: Callable[[], Any] = lambda: None, location: Callable[[dict], str] | None = None):
    """Run the create; ``location`` maps the created resource to its URL (the ``Location`` header)."""
    replay = begin(scope, location)
    if replay is not None:
        return replay
    with guard():
        prepared = prepare()
        with services().uow() as session:
            body = build(session, prepared)
            complete(session, status, body)
    return body, status, ({"Location": location(body)} if location is not None else {})
