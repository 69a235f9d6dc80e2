"""Chunk leases, as seen from a worker: claim, complete, fail, hand back.

Every step is a conditional UPDATE, so running a message twice is harmless:

* ``claim_chunk`` takes a lease (owner, expiry, attempt + 1) only if the chunk is pending or its
  previous lease expired, and only below ``max_attempts`` -- a chunk that keeps killing workers
  ends ``failed`` instead of looping (Celery's ``reject_on_worker_lost`` would requeue it forever).
* ``complete_chunk`` succeeds only for the lease owner; a worker that lost its lease (or whose job
  was canceled meanwhile) sees ``None`` and drops its result.  Results live under deterministic
  keys, so a duplicate render overwrites the same object.
* ``defer_chunk`` hands a chunk back after an infrastructure error without using an attempt
  (core/render/failures.py); only ``infra_deadline_s`` of continuous failure fails the job.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import case, func, or_, select, update
from sqlalchemy.orm import Session

from voxfarm.core.clock import utcnow
from voxfarm.core.models import Chunk, Job, Voice
from voxfarm.core.render.failures import INFRASTRUCTURE_UNAVAILABLE
from voxfarm.core.state import events, outbox
from voxfarm.core.state.lifecycle import (
    ChunkStatus,
    JobStatus,
    set_chunk_status,
    set_job_chunks_status,
    set_job_status,
)


@dataclass(frozen=True)
class VoiceRef:
    id: str
    tenant_id: str
    normalized_key: str
    normalized_sha256: str
    sha256: str
    transcript: str
    # the speaker-consistency gate's inputs (core/voices/speaker.py); None until a worker embedded it
    embedding: tuple[float, ...] | None = None
    embedding_model: str | None = None
    self_similarity: float | None = None
    # a dialogue's joined prompt holds several speakers: no single one for a take to match
    gated: bool = True


@dataclass(frozen=True)
class ChunkWork:
    chunk_id: str
    job_id: str
    tenant_id: str
    engine: str
    model: str
    idx: int
    total: int
    text: str
    params: dict[str, Any]
    seed: int
    job_seed: int
    cache_key: str
    expected_s: float
    attempts: int
    voice: VoiceRef | None
    priority: int = 0  # the job's; interactive chunks lead their batches (core/jobs/lanes.py)
    readback: bool = False  # the job asks for each take to be heard (core/render/readback.py)


def claim_chunk(session: Session, chunk_id: str, worker: str, *, lease_s: float,
                max_attempts: int) -> ChunkWork | None:
    """Lease a chunk for rendering, or return None when there is nothing to do -- including when
    the chunk has used its attempts, in which case its job is failed here (in the caller's
    transaction, which must commit: raising instead would roll the failure back)."""
    now = utcnow()
    # our own lease (this boot): a retry after an outage kept us from handing the chunk back --
    # re-take it without counting (the runtime never runs two tasks for one chunk at once)
    got = session.execute(
        update(Chunk).where(Chunk.id == chunk_id, Chunk.status == ChunkStatus.running, Chunk.lease_owner == worker)
        .values(lease_expires_at=now + timedelta(seconds=lease_s), updated_at=now)
        .execution_options(synchronize_session=False)).rowcount
    claimable = or_(Chunk.status == ChunkStatus.pending,
                    (Chunk.status == ChunkStatus.running) & (Chunk.lease_expires_at < now))
    # an expired lease whose render never reached the engine (it sat in a batcher when its worker
    # died, e.g. killed by a batch-mate): that claim is refunded, only engine runs pay for deaths
    refund = case(((Chunk.status == ChunkStatus.running) & Chunk.engine_at.is_(None), 1), else_=0)
    got = got or session.execute(
        update(Chunk).where(Chunk.id == chunk_id, claimable, Chunk.attempts - refund < max_attempts)
        .values(status=ChunkStatus.running, lease_owner=worker, worker=worker, engine_at=None,
                lease_expires_at=now + timedelta(seconds=lease_s), attempts=Chunk.attempts + 1 - refund,
                started_at=func.coalesce(Chunk.started_at, now), updated_at=now)
        .execution_options(synchronize_session=False)).rowcount
    chunk = session.get(Chunk, chunk_id, populate_existing=True)
    if chunk is None:
        return None
    job = session.get(Job, chunk.job_id, populate_existing=True)
    if not got:
        stale = chunk.status == ChunkStatus.pending or (
            chunk.status == ChunkStatus.running and chunk.lease_expires_at and chunk.lease_expires_at < now)
        refunded = chunk.status == ChunkStatus.running and chunk.engine_at is None
        if stale and chunk.attempts - (1 if refunded else 0) >= max_attempts:
            last = f"; last error: {chunk.error_message}" if chunk.error_message else ""
            fail_job(session, job, chunk, "poison_chunk",
                     f"attempted {chunk.attempts} times without finishing (it crashed, stalled or "
                     f"errored each time){last}")
        return None  # done, canceled, or leased by a live worker
    if job.status.terminal:
        set_chunk_status(session, chunk.id, ChunkStatus.canceled, lease_owner=None)
        return None
    set_job_status(session, job.id, JobStatus.running, allowed_from=[JobStatus.queued], started_at=now)
    session.execute(update(Job).where(Job.id == job.id, Job.attempts < chunk.attempts)
                    .values(attempts=chunk.attempts).execution_options(synchronize_session=False))
    voice = None
    if job.voice_id:
        v = session.get(Voice, job.voice_id)
        if v is None or v.deleted_at is not None:
            fail_job(session, job, chunk, "voice_deleted",
                     f"voice {job.voice_id} was deleted before this job rendered")
            return None
        voice = VoiceRef(v.id, v.tenant_id, v.normalized_key, v.normalized_sha256, v.sha256, v.transcript,
                         tuple(v.embedding) if v.embedding else None, v.embedding_model,
                         v.embedding_self_similarity, gated=not job.voices)
    spoken = chunk.spoken_text if chunk.spoken_text is not None else chunk.text  # what the engine renders
    return ChunkWork(chunk.id, job.id, job.tenant_id, job.engine, job.model, chunk.idx, job.progress_total,
                     spoken, dict(job.params), chunk.seed, job.seed, chunk.cache_key, chunk.expected_s,
                     chunk.attempts, voice, job.priority, bool((job.quality or {}).get("readback")))


def mark_on_engine(session: Session, chunk_ids: list[str], worker: str) -> None:
    """These chunks' renders start on the engine now: from here a worker death costs them an attempt."""
    session.execute(update(Chunk).where(Chunk.id.in_(chunk_ids), Chunk.lease_owner == worker,
                                        Chunk.status == ChunkStatus.running)
                    .values(engine_at=utcnow()).execution_options(synchronize_session=False))


def live_jobs(session: Session, job_ids: list[str]) -> set[str]:
    """The subset of ``job_ids`` still worth rendering (checked at every batch boundary)."""
    rows = session.execute(select(Job.id).where(Job.id.in_(job_ids),
                                                Job.status.in_([JobStatus.queued, JobStatus.running])))
    return {r[0] for r in rows}


@dataclass(frozen=True)
class ChunkResult:
    sha256: str
    duration_s: float
    batch_size: int | None
    cache_hit: bool
    quality_retries: int = 0
    engine_s: float = 0.0  # engine wall time attributed to this chunk (usage accounting)
    take_seed: int | None = None  # the kept take's seed (None: a cache hit, no take rendered)
    speaker_similarity: float | None = None
    speaker_flagged: bool = False
    # read-back: passed | flagged | skipped (None: not asked); the kept take's WER, missing words,
    # what was heard, and its detail (word counts and timings, or why it was skipped)
    readback: str | None = None
    readback_wer: float | None = None
    readback_missing: dict[str, list[str]] | None = None
    readback_text: str | None = None
    readback_detail: dict[str, Any] | None = None


def complete_chunk(session: Session, work: ChunkWork, worker: str, result: ChunkResult,
                   progress_interval_s: float) -> Job | None:
    """Record a stored chunk.  Returns the job when this was its last chunk (time to finalize),
    None otherwise -- including when the lease was lost and the result is dropped."""
    now = utcnow()
    if not set_chunk_status(session, work.chunk_id, ChunkStatus.done, allowed_from=[ChunkStatus.running],
                            where=[Chunk.lease_owner == worker], lease_owner=None, lease_expires_at=None,
                            sha256=result.sha256, duration_s=result.duration_s, cache_hit=result.cache_hit,
                            batch_size=result.batch_size, quality_retries=result.quality_retries,
                            engine_s=result.engine_s, take_seed=result.take_seed,
                            speaker_similarity=result.speaker_similarity, speaker_flagged=result.speaker_flagged,
                            readback=result.readback, readback_wer=result.readback_wer,
                            readback_missing=result.readback_missing, readback_text=result.readback_text,
                            readback_detail=result.readback_detail,
                            finished_at=now, error_code=None, error_message=None):
        return None
    values: dict[str, Any] = {"progress_done": Job.progress_done + 1, "render_worker": worker,
                              "infra_failing_since": None,  # storage and DB answered: the outage is over
                              "cache_hits": Job.cache_hits + (1 if result.cache_hit else 0)}
    if result.batch_size is not None:
        values["render_batch_size"] = result.batch_size
    session.execute(update(Job).where(Job.id == work.job_id).values(**values)
                    .execution_options(synchronize_session=False))
    job = session.get(Job, work.job_id, populate_existing=True)
    if job.status.terminal:
        return None
    events.maybe_emit_progress(session, job, progress_interval_s)
    if job.progress_done >= job.progress_total:
        return job
    return None


def release_chunk(session: Session, chunk_id: str, worker: str, *, count_attempt: bool,
                  error: tuple[str, str] | None = None) -> bool:
    """Give a leased chunk back (shutdown hand-back or a retryable error)."""
    values: dict[str, Any] = {"lease_owner": None, "lease_expires_at": None}
    if not count_attempt:
        values["attempts"] = Chunk.attempts - 1
    if error:
        values["error_code"], values["error_message"] = error
    return set_chunk_status(session, chunk_id, ChunkStatus.pending, allowed_from=[ChunkStatus.running],
                            where=[Chunk.lease_owner == worker], enqueued_at=utcnow(), **values)


def defer_chunk(session: Session, chunk_id: str, worker: str, *, error: tuple[str, str],
                deadline_s: float) -> bool:
    """Hand a leased chunk back after an infrastructure error: its attempt is not counted.  Returns
    True when the job has now failed for lasting ``deadline_s`` in continuous infrastructure failure."""
    release_chunk(session, chunk_id, worker, count_attempt=False, error=error)
    chunk = session.get(Chunk, chunk_id, populate_existing=True)
    if chunk is None:
        return False
    return note_infra_failure(session, chunk.job_id, deadline_s, f"{error[0]}: {error[1]}")


def note_infra_failure(session: Session, job_id: str, deadline_s: float, message: str) -> bool:
    """Start the job's outage clock (if it is not running) and fail the job once the clock has run
    ``deadline_s``.  Any completed chunk stops the clock (``complete_chunk``)."""
    now = utcnow()
    session.execute(update(Job).where(Job.id == job_id, Job.infra_failing_since.is_(None))
                    .values(infra_failing_since=now).execution_options(synchronize_session=False))
    job = session.get(Job, job_id, populate_existing=True)
    if job is None or job.status.terminal or job.infra_failing_since is None:
        return False
    if (now - job.infra_failing_since).total_seconds() < deadline_s:
        return False
    return fail_job(session, job, None, INFRASTRUCTURE_UNAVAILABLE,
                    f"infrastructure unavailable for {deadline_s:.0f} s without a break; last error: {message}")


def fail_job(session: Session, job: Job, chunk: Chunk | None, code: str, message: str) -> bool:
    """Fail a job (naming the chunk when one is at fault), stop its other chunks, emit the event."""
    if chunk is not None:
        set_chunk_status(session, chunk.id, ChunkStatus.failed, lease_owner=None,
                         error_code=code, error_message=message[:2000])
        if job.progress_total > 1:
            message = f"chunk {chunk.idx} ({chunk.text[:60]!r}): {message}"
    if not set_job_status(session, job.id, JobStatus.failed,
                          allowed_from=[JobStatus.queued, JobStatus.running],
                          error_code=code, error_message=message[:2000]):
        return False
    set_job_chunks_status(session, job.id, ChunkStatus.canceled,
                          allowed_from=(ChunkStatus.pending, ChunkStatus.running), lease_owner=None)
    session.refresh(job)
    events.emit(session, job, "job.failed")
    return True


def fail_chunk(session: Session, work: ChunkWork, code: str, message: str) -> bool:
    job = session.get(Job, work.job_id)
    chunk = session.get(Chunk, work.chunk_id)
    return fail_job(session, job, chunk, code, message)


def queue_finalize(session: Session, job_id: str) -> None:
    outbox.add(session, outbox.FINALIZE_TASK, [job_id], outbox.CONTROL_QUEUE)
