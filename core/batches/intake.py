"""Bulk intake: many jobs in one request, one transaction, one bulk publish.

``submit_batch`` validates and plans every item with the same code as a single job
(core/jobs/intake.py plan_job), refusing the whole batch at the first bad item (its index and
reason in ``details``), checks the tenant's audio limits for the batch as a whole (all items or
none, core/tenants/limits.py), then writes the batch, all jobs, all chunks and their outbox rows
with a few bulk INSERTs.  The unit of work publishes the outbox rows after the commit with ``publish_many``
(one producer per 200 messages, core/outbox.relay).  A batch completes once every job is terminal;
core/events.complete_batch_if_done emits ``batch.completed`` in that transaction.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterator
from typing import Any

from pydantic import ValidationError
from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from voxfarm.core.clock import utcnow
from voxfarm.core.errors import InvalidInput, NotFound, TooLarge, VoxfarmError
from voxfarm.core.ids import looks_like_id, new_id
from voxfarm.core.jobs.front import job_front_end
from voxfarm.core.jobs.intake import build_job, plan_job, queue_chunks
from voxfarm.core.jobs.schemas import JobCreate
from voxfarm.core.jobs.serialize import iso, result_url
from voxfarm.core.models import Batch, Job
from voxfarm.core.netguard import Guard
from voxfarm.core.pagination import by_index
from voxfarm.core.schemas import WebhookSpec
from voxfarm.core.settings import Settings
from voxfarm.core.state import events
from voxfarm.core.state.lifecycle import TERMINAL_JOB, ChunkStatus, JobStatus, set_job_chunks_status, set_jobs_status
from voxfarm.core.storage import ObjectStore
from voxfarm.core.tenants.limits import admit_audio

_MERGED = ("params", "output", "metadata")  # dict fields: an item's keys override the defaults' keys


def merge_item(defaults: dict[str, Any], item: dict[str, Any]) -> dict[str, Any]:
    """The batch defaults under one item (one level deep for params, output and metadata)."""
    merged = {**defaults, **item}
    for key in _MERGED:
        if isinstance(defaults.get(key), dict) and isinstance(item.get(key), dict):
            merged[key] = {**defaults[key], **item[key]}
    return merged


def parse_jsonl(data: bytes, defaults: dict[str, Any] | None) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """A JSONL upload: one item per line; a first line ``{"defaults": {...}}`` sets the defaults
    (unless the ``defaults`` form field already did).  Blank lines are skipped."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InvalidInput("the JSONL file is not UTF-8", code="invalid_jsonl") from None
    items: list[dict[str, Any]] = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except ValueError as exc:
            raise InvalidInput(f"line {number} is not JSON: {exc}", code="invalid_jsonl",
                               details={"line": number}) from None
        if not isinstance(value, dict):
            raise InvalidInput(f"line {number} is not a JSON object", code="invalid_jsonl", details={"line": number})
        if not items and set(value) == {"defaults"} and isinstance(value["defaults"], dict):
            if defaults is not None:
                raise InvalidInput("defaults given both as a form field and on the first line",
                                   code="ambiguous_input")
            defaults = value["defaults"]
            continue
        items.append(value)
    return defaults or {}, items


def _item_error(index: int, exc: Exception) -> VoxfarmError:
    if isinstance(exc, ValidationError):
        errors = [{"loc": list(e["loc"]), "msg": e["msg"], "type": e["type"]} for e in exc.errors()]
        where = ".".join(str(p) for p in errors[0]["loc"]) if errors else ""
        inner = {"code": "validation_error", "message": f"{where}: {errors[0]['msg']}" if errors else str(exc),
                 "details": errors}
        status = 422
    else:
        assert isinstance(exc, VoxfarmError)
        inner, status = {"code": exc.code, "message": exc.message}, exc.status
    return VoxfarmError(f"item {index} is invalid ({inner['message']}); nothing was created",
                        code="invalid_batch_item", status=status, details={"index": index, "error": inner})


def submit_batch(session: Session, settings: Settings, store: ObjectStore, tenant_id: str,
                 defaults: dict[str, Any], items: list[dict[str, Any]], *, metadata: dict[str, Any] | None = None,
                 webhook: WebhookSpec | None = None) -> Batch:
    """Validate every item, then write the batch and everything it implies in the caller's
    transaction.  One bad item raises ``invalid_batch_item`` before anything is added."""
    if not items:
        raise InvalidInput("a batch needs at least one item", code="empty_batch")
    if len(items) > settings.batch_max_items:
        raise TooLarge(f"the batch has {len(items)} items; the limit is {settings.batch_max_items} "
                       "(VOXFARM_BATCH_MAX_ITEMS)", code="batch_too_large")
    if len(json.dumps(metadata or {})) > settings.max_metadata_bytes:
        raise TooLarge(f"metadata is limited to {settings.max_metadata_bytes} bytes of JSON",
                       code="metadata_too_large")
    if webhook is not None:
        Guard(settings.outbound_allowlist).check_literal(webhook.url)
    batch_id = new_id("bat")
    planned = []
    for index, item in enumerate(items):  # every item planned (nothing stored) before any is built
        try:
            if not isinstance(item, dict):
                raise InvalidInput("an item is a JSON object", code="invalid_item")
            req = JobCreate.model_validate(merge_item(defaults, item))
            planned.append(plan_job(settings, req, front=job_front_end(session, settings, tenant_id, req)))
        except (ValidationError, VoxfarmError) as exc:
            raise _item_error(index, exc) from None
    admit_audio(session, settings, tenant_id, sum(p.plan.expected_s for p in planned))  # the whole batch, or none
    jobs: list[dict[str, Any]] = []
    # per engine and priority (the lane, core/jobs/lanes.py), in item order
    chunks: dict[tuple[str, int], list[dict[str, Any]]] = defaultdict(list)
    for index, one in enumerate(planned):
        try:
            job, job_chunks = build_job(session, settings, store, tenant_id, one)
        except VoxfarmError as exc:
            raise _item_error(index, exc) from None
        job["batch_id"], job["batch_index"] = batch_id, index
        jobs.append(job)
        chunks[(job["engine"], job["priority"])].extend(job_chunks)
    session.add(Batch(id=batch_id, tenant_id=tenant_id, total=len(items), metadata_=metadata or {},
                      webhook=webhook.model_dump(exclude_none=True) if webhook else None))
    session.flush()
    # plain executemany INSERTs (psycopg pipelines them): no ORM object per row, jobs before chunks
    session.execute(insert(Job), jobs)
    for (engine, priority), engine_chunks in chunks.items():
        queue_chunks(session, settings, tenant_id, engine, engine_chunks, priority)
    return session.get(Batch, batch_id)


def get_batch(session: Session, tenant_id: str, batch_id: str) -> Batch:
    batch = session.scalar(select(Batch).where(Batch.id == batch_id, Batch.tenant_id == tenant_id)) \
        if looks_like_id(batch_id, "bat") else None
    if batch is None:
        raise NotFound(f"batch {batch_id[:64]!r} not found", code="batch_not_found")
    return batch


def batch_resource(session: Session, batch: Batch) -> dict[str, Any]:
    """The batch as the API shows it: job counts per status and progress (jobs and chunks)."""
    rows = session.execute(select(Job.status, func.count(), func.sum(Job.progress_done), func.sum(Job.progress_total))
                           .where(Job.batch_id == batch.id).group_by(Job.status)).all()
    counts = {str(s): 0 for s in JobStatus}
    chunks_done = chunks_total = 0
    for status, n, done, total in rows:
        counts[str(status)] = int(n)
        chunks_done, chunks_total = chunks_done + int(done or 0), chunks_total + int(total or 0)
    terminal = sum(counts[str(s)] for s in TERMINAL_JOB)
    status = "completed" if batch.completed_at else ("queued" if counts["queued"] == batch.total else "running")
    return {"id": batch.id, "status": status, "total": batch.total, "counts": counts,
            "progress": {"jobs_done": terminal, "jobs_total": batch.total,
                         "percent": round(100 * terminal / batch.total, 1) if batch.total else 100.0,
                         "chunks_done": chunks_done, "chunks_total": chunks_total},
            "metadata": batch.metadata_, "webhook": batch.webhook, "created_at": iso(batch.created_at),
            "cancel_requested": batch.cancel_requested_at is not None, "completed_at": iso(batch.completed_at)}


def list_jobs(session: Session, tenant_id: str, batch_id: str, *, limit: int,
              cursor: str | None) -> tuple[list[Job], str | None]:
    """The batch's jobs in item order; the cursor is the last item index."""
    batch = get_batch(session, tenant_id, batch_id)
    return by_index(session, select(Job).where(Job.batch_id == batch.id), Job.batch_index, limit=limit,
                    cursor=cursor)


def cancel_batch(session: Session, tenant_id: str, batch_id: str) -> Batch:
    """Cancel every queued or running job of the batch in one UPDATE; finished jobs stay as they are."""
    batch = get_batch(session, tenant_id, batch_id)
    now = utcnow()
    if batch.cancel_requested_at is None:
        batch.cancel_requested_at = now
    ids = set_jobs_status(session, [Job.batch_id == batch.id], JobStatus.canceled,
                          allowed_from=(JobStatus.queued, JobStatus.running), cancel_requested_at=now,
                          error_code="canceled", error_message="the batch was canceled by the client")
    if ids:
        set_job_chunks_status(session, ids, ChunkStatus.canceled,
                              allowed_from=(ChunkStatus.pending, ChunkStatus.running), lease_owner=None)
        for start in range(0, len(ids), 1000):
            for job in session.scalars(select(Job).where(Job.id.in_(ids[start:start + 1000]))
                                       .execution_options(populate_existing=True)):
                events.emit(session, job, "job.canceled", complete_batch=False)
    events.complete_batch_if_done(session, batch.id)
    session.flush()
    session.refresh(batch)
    return batch


def manifest(session: Session, store: ObjectStore, settings: Settings, batch: Batch,
             page: int = 1000) -> Iterator[dict[str, Any]]:
    """One record per item, in item order: index, job id, status, result URL, sha256, duration."""
    start = -1
    while True:
        rows = list(session.scalars(select(Job).where(Job.batch_id == batch.id, Job.batch_index > start)
                                    .order_by(Job.batch_index).limit(page)))
        for job in rows:
            yield {"index": job.batch_index, "job_id": job.id, "status": str(job.status),
                   "result_url": result_url(job, store, settings) if job.status == JobStatus.succeeded else None,
                   "format": job.result_format, "sha256": job.result_sha256, "duration_s": job.result_duration_s,
                   "metadata": job.metadata_,
                   "error": {"code": job.error_code, "message": job.error_message} if job.error_code else None}
        if len(rows) < page:
            return
        start = rows[-1].batch_index
