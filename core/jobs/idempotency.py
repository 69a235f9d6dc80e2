"""Idempotency keys (Stripe's practice, IETF draft "Idempotency-Key" header).

* same key + same request  -> the first response, replayed;
* same key + other request -> 422 ``idempotency_key_reused``;
* same key while the first is still running -> 409 ``idempotency_in_progress``;
* keys are per tenant and per route, and expire after ``idempotency_ttl_s`` (24 h).

``begin`` commits an in-progress marker in its own short transaction (that is what makes a
concurrent duplicate see 409); ``complete`` must run inside the transaction that creates the
resource, so the stored response and the resource commit together.  Requests that fail
validation ``abandon`` their marker: failures are not remembered.  A marker left by a crashed
process is taken over after ``STALE_S``.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import delete, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from voxfarm.core.clock import utcnow
from voxfarm.core.db import Database
from voxfarm.core.errors import Conflict, InvalidInput
from voxfarm.core.models import IdempotencyKey

STALE_S = 60.0
MAX_KEY_LEN = 255


@dataclass(frozen=True)
class Replay:
    status: int
    body: dict


def fingerprint(*parts: bytes | str) -> str:
    digest = hashlib.sha256()
    for part in parts:
        data = part.encode() if isinstance(part, str) else part
        digest.update(len(data).to_bytes(8, "big"))
        digest.update(data)
    return digest.hexdigest()


def validate_key(key: str) -> str:
    if not key or len(key) > MAX_KEY_LEN or not key.isascii() or not key.isprintable():
        raise InvalidInput(f"Idempotency-Key must be 1-{MAX_KEY_LEN} printable ASCII characters",
                           code="invalid_idempotency_key")
    return key


def begin(db: Database, tenant_id: str, scope: str, key: str, request_hash: str, ttl_s: int) -> Replay | None:
    """Returns a Replay for a finished duplicate, None when the caller should proceed."""
    now = utcnow()
    for _ in range(3):
        with db.session() as s:
            row = s.get(IdempotencyKey, (tenant_id, scope, key))
            if row is not None and row.expires_at < now:
                s.delete(row)
                s.flush()
                row = None
            if row is None:
                try:
                    with s.begin_nested():
                        s.add(IdempotencyKey(tenant_id=tenant_id, scope=scope, key=key,
                                             request_hash=request_hash, created_at=now,
                                             expires_at=now + timedelta(seconds=ttl_s)))
                    return None
                except IntegrityError:
                    continue  # a concurrent duplicate inserted first: look again
            if row.request_hash != request_hash:
                raise InvalidInput("this Idempotency-Key was already used with a different request",
                                   code="idempotency_key_reused")
            if row.completed:
                return Replay(row.response_status or 200, json.loads(row.response_body or "{}"))
            if now - row.created_at < timedelta(seconds=STALE_S):
                raise Conflict("a request with this Idempotency-Key is still being processed; retry later",
                               code="idempotency_in_progress")
            # the first attempt died mid-way: take the marker over
            taken = s.execute(update(IdempotencyKey)
                              .where(IdempotencyKey.tenant_id == tenant_id, IdempotencyKey.scope == scope,
                                     IdempotencyKey.key == key, IdempotencyKey.created_at == row.created_at)
                              .values(created_at=now)).rowcount
            if taken:
                return None
    raise Conflict("a request with this Idempotency-Key is still being processed; retry later",
                   code="idempotency_in_progress")


def complete(session: Session, tenant_id: str, scope: str, key: str, status: int, body: dict) -> None:
    session.execute(update(IdempotencyKey)
                    .where(IdempotencyKey.tenant_id == tenant_id, IdempotencyKey.scope == scope,
                           IdempotencyKey.key == key)
                    .values(completed=True, response_status=status, response_body=json.dumps(body)))


def abandon(db: Database, tenant_id: str, scope: str, key: str) -> None:
    with db.session() as s:
        s.execute(delete(IdempotencyKey).where(IdempotencyKey.tenant_id == tenant_id,
                                               IdempotencyKey.scope == scope, IdempotencyKey.key == key,
                                               IdempotencyKey.completed.is_(False)))


def purge_expired(session: Session) -> int:
    return session.execute(delete(IdempotencyKey).where(IdempotencyKey.expires_at < utcnow())).rowcount or 0
