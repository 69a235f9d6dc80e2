"""Transactional outbox: messages are rows committed with the state they announce.

Whoever commits a state change also adds the messages it implies (``add``) in the same
transaction; after the commit it calls ``relay`` to publish them.  If the process dies between
commit and publish, the rows stay unpublished and the reconciler relays them (core/upkeep/reconcile.py),
so an accepted job can never be left with no message at all.  Publishing twice is harmless: every
consumer claims its row under a lease first.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from datetime import timedelta
from typing import Any, Protocol

from sqlalchemy import delete, insert, select, update
from sqlalchemy.orm import Session

from voxfarm.core.clock import utcnow
from voxfarm.core.db import Database
from voxfarm.core.models import Outbox

log = logging.getLogger(__name__)

RENDER_TASK = "voxfarm.render_chunk"
FINALIZE_TASK = "voxfarm.finalize_job"
WEBHOOK_TASK = "voxfarm.deliver_webhook"
RECONCILE_TASK = "voxfarm.reconcile"
SWEEP_TASK = "voxfarm.sweep_storage"
EMBED_TASK = "voxfarm.embed_voice"  # a new voice's speaker embedding (core/voices/speaker.py)
CONTROL_QUEUE = "control"
WEBHOOK_QUEUE = "webhooks"


class Publisher(Protocol):
    """Puts task messages on the broker (Celery in production, a list in unit tests)."""

    def publish_many(self, messages: Sequence[tuple[str, list[Any], str]]) -> None:
        """Publish (task name, args, queue) triples; raise if the broker is unreachable."""


def add(session: Session, task: str, args: list[Any], queue: str) -> Outbox:
    return add_many(session, [(task, args, queue)])[0]


def add_many(session: Session, messages: Iterable[tuple[str, list[Any], str]]) -> list[Outbox]:
    rows = [Outbox(task=t, args=a, queue=q) for t, a, q in messages]
    session.add_all(rows)
    track(session, rows)
    return rows


def add_bulk(session: Session, messages: Sequence[tuple[str, list[Any], str]]) -> list[int]:
    """``add_many`` for thousands of rows: one INSERT ... RETURNING id, no ORM objects (bulk intake)."""
    if not messages:
        return []
    now = utcnow()
    rows = session.execute(insert(Outbox).returning(Outbox.id),
                           [{"task": t, "args": a, "queue": q, "created_at": now} for t, a, q in messages]).all()
    track(session, rows)  # Row objects carry .id, all unit_of_work reads
    return [r.id for r in rows]


def relay(db: Database, publisher: Publisher, ids: Sequence[int] | None = None, *,
          older_than_s: float | None = None, limit: int = 1000) -> int:
    """Publish unpublished outbox rows (the given ids, or the oldest ones) and mark them.

    Best effort: a broker failure is logged and the rows stay for the next relay.  Returns how
    many messages went out.
    """

    with db.session() as s:
        q = select(Outbox.id, Outbox.task, Outbox.args, Outbox.queue).where(Outbox.published_at.is_(None))
        if ids is not None:
            if not ids:
                return 0
            q = q.where(Outbox.id.in_(list(ids)))
        if older_than_s is not None:
            q = q.where(Outbox.created_at < utcnow() - timedelta(seconds=older_than_s))
        rows = s.execute(q.order_by(Outbox.id).limit(limit)).all()
    if not rows:
        return 0
    sent = 0
    for start in range(0, len(rows), 200):
        batch = rows[start:start + 200]
        try:
            publisher.publish_many([(r.task, list(r.args), r.queue) for r in batch])
        except Exception as exc:  # noqa: BLE001 - any broker failure: leave rows for later
            log.warning("outbox relay failed (%s rows stay queued): %s", len(rows) - sent, exc)
            with db.session() as s:
                s.execute(update(Outbox).where(Outbox.id.in_([r.id for r in batch]))
                          .values(attempts=Outbox.attempts + 1, last_error=str(exc)[:500]))
            break
        with db.session() as s:
            s.execute(update(Outbox).where(Outbox.id.in_([r.id for r in batch]))
                      .values(published_at=utcnow(), attempts=Outbox.attempts + 1))
        sent += len(batch)
    return sent


def prune(session: Session, keep_s: float = 7 * 24 * 3600) -> int:
    """Delete published rows older than a week (they are history, not state)."""


    cutoff = utcnow() - timedelta(seconds=keep_s)
    return session.execute(delete(Outbox).where(Outbox.published_at < cutoff)).rowcount or 0


def track(session: Session, rows: Iterable[Outbox]) -> None:
    """Remember rows added in this session so ``unit_of_work`` relays them after commit."""
    session.info.setdefault("outbox", []).extend(rows)


class unit_of_work:  # noqa: N801 - used as a context manager
    """``with unit_of_work(db, publisher) as s:`` -- commit, then publish what the work queued."""

    def __init__(self, db: Database, publisher: Publisher | None) -> None:
        self.db, self.publisher = db, publisher
        self.ids: list[int] = []

    def __enter__(self) -> Session:
        self._session = self.db.sessions()
        self._tx = self._session.begin()
        return self._session

    def __exit__(self, exc_type, exc, tb) -> None:
        try:
            if exc_type is not None:
                self._tx.rollback()
                return
            self._session.flush()
            rows = self._session.info.pop("outbox", [])
            self._tx.commit()
            self.ids = [r.id for r in rows]
        finally:
            self._session.close()
        if self.publisher is not None and self.ids:
            relay(self.db, self.publisher, self.ids)
