"""Re-render part of a finished job with a new seed: a new job, stitched again.

A job's result never changes once it has succeeded (its sha256, the webhooks already delivered and
any presigned URL refer to it), so a re-render is a *new* job copied from the old one's plan.  Every
chunk keeps its text, seed and content-addressed cache key, except the chosen ones (one chunk, or
every chunk of a chapter, or all of them): they take the seed derived from the new seed and their text -- the seed
a job submitted with ``params.seed`` set to it would give them (core/jobs/planning.py) -- and the
cache key that goes with it.  The copied chunks are cache hits for the worker, so only the chosen
ones render; the new job then finalizes (stitches, encodes, writes its sidecars) as any other.

It is written the way intake writes a job: the tenant's audio limits first, then the job row, its
chunks and their outbox messages in the caller's transaction (core/jobs/intake.py ``queue_chunks``:
the dispatch window and the lane), with the source job's id in ``source.rerender_of``.
"""

from __future__ import annotations

import secrets
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import inspect as sa_inspect
from sqlalchemy import select
from sqlalchemy.orm import Session

from voxfarm.core.clock import utcnow
from voxfarm.core.errors import Conflict, InvalidInput, NotFound
from voxfarm.core.ids import new_id
from voxfarm.core.jobs.intake import get_job, queue_chunks
from voxfarm.core.jobs.planning import cache_digest, derive_seed
from voxfarm.core.models import Chunk, Job
from voxfarm.core.settings import Settings
from voxfarm.core.state.lifecycle import JobStatus
from voxfarm.core.storage import keys
from voxfarm.core.tenants.limits import admit_audio

SEED_MAX = 2**31 - 1

# a job row is its plan (copied: engine, model, text, voice, params, output, metadata, webhook, ...)
# and the state of its render and result (not copied); a chunk row likewise, by the plan's names
JOB_STATE = frozenset({"id", "tenant_id", "status", "source", "created_at", "updated_at", "progress_done",
                       "progress_total", "cache_hits", "result_key", "result_format", "result_duration_s",
                       "result_bytes", "result_sha256", "result_extras", "error_code", "error_message", "attempts",
                       "render_worker", "render_batch_size", "cancel_requested_at", "started_at", "finished_at",
                       "finalize_owner", "finalize_expires_at", "finalize_attempts", "infra_failing_since",
                       "progress_event_at", "progress_event_pct", "batch_id", "batch_index"})
CHUNK_PLAN = ("idx", "chapter", "pause_after", "text", "spoken_text", "lexicon_matches", "expected_s", "seed",
              "cache_key")


class RerenderRequest(BaseModel):
    """``chunk`` or ``chapter`` (not both); neither: every chunk, a new take of the whole job."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"not": {"required": ["chunk", "chapter"]}})
    chunk: int | None = Field(None, ge=0, le=1_000_000, description="The chunk's index (GET .../chunks)")
    chapter: int | None = Field(None, ge=0, le=100_000, description="Every chunk of this chapter (its index)")
    seed: int | None = Field(None, ge=0, le=SEED_MAX, description="The new take's seed (default: a random one); "
                             "each chosen chunk's seed derives from it and the chunk's text")


def rerender_job(session: Session, settings: Settings, tenant_id: str, job_id: str, req: RerenderRequest) -> Job:
    """Write the new job (queued) with its chunks and their outbox messages; the caller commits."""
    old = get_job(session, tenant_id, job_id)
    if req.chunk is not None and req.chapter is not None:
        raise InvalidInput("give chunk or chapter, not both", code="ambiguous_input")
    if old.status != JobStatus.succeeded:
        raise Conflict(f"job {old.id} is {old.status}; a chunk can be re-rendered once the job has succeeded",
                       code="result_not_ready")
    rows = list(session.scalars(select(Chunk).where(Chunk.job_id == old.id).order_by(Chunk.idx)))
    chosen = {c.idx for c in rows if c.idx == req.chunk or (req.chunk is None and req.chapter in (None, c.chapter))}
    if not chosen:
        what = f"chunk {req.chunk}" if req.chunk is not None else f"chapter {req.chapter}"
        raise NotFound(f"job {old.id} has no {what} ({len(rows)} chunks)", code="chunk_not_found")
    seed = req.seed if req.seed is not None else secrets.randbelow(SEED_MAX + 1)
    if all(derive_seed(seed, c.text) == c.seed for c in rows if c.idx in chosen):
        raise InvalidInput(f"seed {seed} gives the chosen chunks the seeds they have: pick another",
                           code="same_seed")
    # the whole job is queued again (mostly cache hits): the tenant's audio limits apply to it as to a submit
    admit_audio(session, settings, tenant_id, sum(c.expected_s for c in rows))
    now = utcnow()
    new = Job(id=new_id("job"), tenant_id=tenant_id, status=JobStatus.queued,
              source={**(old.source or {}), "rerender_of": old.id, "rerender_seed": seed},
              progress_total=len(rows), created_at=now, updated_at=now,
              **{name: getattr(old, name) for name in job_plan()})
    session.add(new)
    session.flush()  # the job row first: chunks reference it
    chunks = [_copy(c, new, seed if c.idx in chosen else None, now) for c in rows]
    queue_chunks(session, settings, tenant_id, new.engine, chunks, new.priority)
    return new


def job_plan() -> list[str]:
    """The job's attributes that a re-render copies: every column but its render's state."""
    return [attr.key for attr in sa_inspect(Job).column_attrs if attr.key not in JOB_STATE]


def _copy(chunk: Chunk, job: Job, seed: int | None, now) -> dict[str, Any]:
    """The chunk's row values in ``job``; with ``seed``, a new take: its derived seed and cache key."""
    values = {name: getattr(chunk, name) for name in CHUNK_PLAN}
    if seed is not None:
        values["seed"] = derive_seed(seed, chunk.text)
        digest = cache_digest(engine=job.engine, model=job.model, voice_sha256=job.voice_sha256,
                              text=chunk.spoken_text or chunk.text, params=job.params or {}, seed=values["seed"],
                              lexicon=chunk.lexicon_matches or ())
        values["cache_key"] = keys.chunk_cache(job.tenant_id, digest)
    return {**values, "id": new_id("chk"), "job_id": job.id, "tenant_id": job.tenant_id, "enqueued_at": now,
            "created_at": now, "updated_at": now}
