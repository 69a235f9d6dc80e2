"""Lifecycles as explicit enums, and the only code that changes a status.

Every status change is a compare-and-set ``UPDATE ... WHERE status IN (allowed sources)``: two
workers finishing the last two chunks of a book, a cancel racing a render, a reconciler racing a
slow worker -- exactly one of them wins, the others see ``False`` and back off.  The one other
status write is the chunk claim in core/render/leases.py (pending, or running with an expired lease, to
running), which must take the lease and count the attempt in the same compare-and-set UPDATE;
new rows start in their initial status (core/jobs/intake.py, core/state/events.py).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import case, select, update
from sqlalchemy.orm import Session

from voxfarm.core.clock import utcnow
from voxfarm.core.models import Chunk, Job, WebhookEvent
from voxfarm.core.statuses import (  # noqa: F401 - re-exported: the lifecycle's vocabulary
    CHUNK_TRANSITIONS,
    EVENT_TRANSITIONS,
    JOB_TRANSITIONS,
    TERMINAL_JOB,
    ChunkStatus,
    EventStatus,
    JobStatus,
)


def sources(transitions: dict[Any, frozenset[Any]], target: Any) -> list[Any]:
    return [src for src, dsts in transitions.items() if target in dsts]


def _cas(session: Session, model: type, row_id: str, transitions: dict, to: Any,
         allowed_from: Iterable[Any] | None, extra_where: Iterable[Any], values: dict) -> bool:
    legal = set(sources(transitions, to))
    if allowed_from is not None:
        legal &= set(allowed_from)
    stmt = (
        update(model)
        .where(model.id == row_id, model.status.in_(sorted(legal)), *extra_where)
        .values(status=to, updated_at=utcnow(), **values)
        .execution_options(synchronize_session=False)
    )
    return session.execute(stmt).rowcount == 1


def set_job_status(session: Session, job_id: str, to: JobStatus, *,
                   allowed_from: Iterable[JobStatus] | None = None, where: Iterable[Any] = (),
                   **values: Any) -> bool:

    if to.terminal:
        values.setdefault("finished_at", utcnow())
    return _cas(session, Job, job_id, JOB_TRANSITIONS, to, allowed_from, where, values)


def set_jobs_status(session: Session, where: Iterable[Any], to: JobStatus, *,
                    allowed_from: Iterable[JobStatus], **values: Any) -> list[str]:
    """Move every job matching ``where`` and in ``allowed_from`` to ``to`` in one UPDATE (a batch's
    cancel); returns the ids that moved."""

    legal = set(sources(JOB_TRANSITIONS, to)) & set(allowed_from)
    if to.terminal:
        values.setdefault("finished_at", utcnow())
    stmt = (update(Job).where(*where, Job.status.in_(sorted(legal)))
            .values(status=to, updated_at=utcnow(), **values).returning(Job.id)
            .execution_options(synchronize_session=False))
    return list(session.scalars(stmt))


def set_chunk_status(session: Session, chunk_id: str, to: ChunkStatus, *,
                     allowed_from: Iterable[ChunkStatus] | None = None,
                     where: Iterable[Any] = (), **values: Any) -> bool:

    return _cas(session, Chunk, chunk_id, CHUNK_TRANSITIONS, to, allowed_from, where, values)


def set_event_status(session: Session, event_id: str, to: EventStatus, *,
                     allowed_from: Iterable[EventStatus] | None = None,
                     where: Iterable[Any] = (), **values: Any) -> bool:

    return _cas(session, WebhookEvent, event_id, EVENT_TRANSITIONS, to, allowed_from, where, values)


def set_job_chunks_status(session: Session, job_id: str | list[str], to: ChunkStatus, *,
                          allowed_from: Iterable[ChunkStatus], **values: Any) -> int:
    """Move every chunk of a job (or of several) that is in ``allowed_from`` to ``to`` (cancel,
    fail-fast)."""

    legal = set(sources(CHUNK_TRANSITIONS, to)) & set(allowed_from)
    which = Chunk.job_id.in_(job_id) if isinstance(job_id, list) else Chunk.job_id == job_id
    stmt = (update(Chunk).where(which, Chunk.status.in_(sorted(legal)))
            .values(status=to, updated_at=utcnow(), **values)
            .execution_options(synchronize_session=False))
    return session.execute(stmt).rowcount or 0


def release_stale_leases(session: Session, owner_prefix: str, current_owner: str) -> list[str]:
    """A worker restarting under the same name reclaims what its dead predecessor held: its
    chunks go back to pending (the attempt stays counted if the render had reached the engine,
    core/render/leases.py) and its finalize leases lapse."""
    stale = (Chunk.lease_owner.like(owner_prefix + "%")) & (Chunk.lease_owner != current_owner)
    ids = list(session.scalars(select(Chunk.id).where(Chunk.status == ChunkStatus.running, stale)))
    if ids:
        session.execute(update(Chunk).where(Chunk.id.in_(ids), Chunk.status == ChunkStatus.running)
                        .values(status=ChunkStatus.pending, lease_owner=None, lease_expires_at=None,
                                attempts=Chunk.attempts - case((Chunk.engine_at.is_(None), 1), else_=0),
                                engine_at=None, updated_at=utcnow())
                        .execution_options(synchronize_session=False))
    session.execute(update(Job).where(Job.finalize_owner.like(owner_prefix + "%"),
                                      Job.finalize_owner != current_owner)
                    .values(finalize_owner=None, finalize_expires_at=None)
                    .execution_options(synchronize_session=False))
    return ids
