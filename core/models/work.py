"""The work itself: jobs, the batches that group them, and the chunks a job is planned into."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy import false as sa_false
from sqlalchemy.orm import Mapped, mapped_column

from voxfarm.core.models.base import Base, Timestamps, _enum
from voxfarm.core.statuses import ChunkStatus, JobStatus


class Job(Timestamps, Base):
    __tablename__ = "jobs"
    __table_args__ = (Index("ix_jobs_tenant_created", "tenant_id", "created_at", "id"),
                      Index("ix_jobs_status", "status"),
                      Index("ix_jobs_batch", "batch_id", "batch_index"))
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"))
    status: Mapped[JobStatus] = mapped_column(_enum(JobStatus), default=JobStatus.queued)
    engine: Mapped[str] = mapped_column(String(32))
    model: Mapped[str] = mapped_column(String(256))
    text: Mapped[str | None] = mapped_column(Text)
    source: Mapped[dict[str, Any]] = mapped_column(default=dict)  # {"type": text|markdown|epub, ...}
    title: Mapped[str | None] = mapped_column(String(500))
    author: Mapped[str | None] = mapped_column(String(500))
    voice_id: Mapped[str | None] = mapped_column(String(40))
    voice_sha256: Mapped[str | None] = mapped_column(String(64))
    voices: Mapped[dict[str, Any] | None]  # a dialogue's speaker tag -> voice id (voice_id: their joined prompt)
    params: Mapped[dict[str, Any]] = mapped_column(default=dict)
    output: Mapped[dict[str, Any]] = mapped_column(default=dict)
    quality: Mapped[dict[str, Any] | None]  # the checks asked for: {"readback": bool}
    metadata_: Mapped[dict[str, Any]] = mapped_column("metadata", default=dict)
    priority: Mapped[int] = mapped_column(default=0)
    webhook: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    seed: Mapped[int] = mapped_column(BigInteger)
    progress_done: Mapped[int] = mapped_column(default=0)
    progress_total: Mapped[int] = mapped_column(default=0)
    cache_hits: Mapped[int] = mapped_column(default=0)
    result_key: Mapped[str | None] = mapped_column(String(512))
    result_format: Mapped[str | None] = mapped_column(String(8))
    result_duration_s: Mapped[float | None]
    result_bytes: Mapped[int | None] = mapped_column(BigInteger)
    result_sha256: Mapped[str | None] = mapped_column(String(64))
    result_extras: Mapped[dict[str, Any]] = mapped_column(default=dict)
    error_code: Mapped[str | None] = mapped_column(String(64))
    error_message: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(default=0)
    render_worker: Mapped[str | None] = mapped_column(String(200))
    render_batch_size: Mapped[int | None]
    cancel_requested_at: Mapped[datetime | None]
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    # finalization (stitch or single-chunk encode) runs under its own lease
    finalize_owner: Mapped[str | None] = mapped_column(String(200))
    finalize_expires_at: Mapped[datetime | None]
    finalize_attempts: Mapped[int] = mapped_column(default=0)
    # when the current stretch of infrastructure errors (storage, DB, broker) began for this job:
    # they never count as attempts; only ``infra_deadline_s`` of them fails the job
    infra_failing_since: Mapped[datetime | None]
    progress_event_at: Mapped[datetime | None]
    progress_event_pct: Mapped[int] = mapped_column(default=0)
    # bulk intake (core/batches/intake.py): the batch this job belongs to and its item index there
    batch_id: Mapped[str | None] = mapped_column(String(40))
    batch_index: Mapped[int | None]


class Batch(Timestamps, Base):
    """Many jobs submitted in one request (POST /v1/batches); its jobs point at it."""

    __tablename__ = "batches"
    __table_args__ = (Index("ix_batches_tenant_created", "tenant_id", "created_at", "id"),)
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"))
    total: Mapped[int]
    metadata_: Mapped[dict[str, Any]] = mapped_column("metadata", default=dict)
    webhook: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    cancel_requested_at: Mapped[datetime | None]
    # set once, by the transaction that made the last job terminal (it also emits batch.completed)
    completed_at: Mapped[datetime | None]


class Chunk(Timestamps, Base):
    """One unit of synthesis.  A short job has one chunk; a book has hundreds."""

    __tablename__ = "chunks"
    __table_args__ = (UniqueConstraint("job_id", "idx"),
                      Index("ix_chunks_status_enqueued", "status", "enqueued_at"),
                      Index("ix_chunks_tenant_finished", "tenant_id", "finished_at"),
                      # a tenant's queued and running audio, summed at intake (core/tenants/limits.py)
                      Index("ix_chunks_tenant_status", "tenant_id", "status"))
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    job_id: Mapped[str] = mapped_column(ForeignKey("jobs.id"))
    tenant_id: Mapped[str] = mapped_column(String(40))
    idx: Mapped[int]
    chapter: Mapped[int] = mapped_column(default=0)
    pause_after: Mapped[str] = mapped_column(String(16), default="sentence")
    text: Mapped[str] = mapped_column(Text)  # as written in the source
    # what the engine renders (core/text/lexicon.py: lexicon rules, then the normaliser); null: ``text``
    spoken_text: Mapped[str | None] = mapped_column(Text)
    lexicon_matches: Mapped[list[Any] | None] = mapped_column(JSON)  # [[lexicon id, grapheme, rule version]]
    expected_s: Mapped[float]
    seed: Mapped[int] = mapped_column(BigInteger)
    cache_key: Mapped[str] = mapped_column(String(512))
    status: Mapped[ChunkStatus] = mapped_column(_enum(ChunkStatus), default=ChunkStatus.pending)
    attempts: Mapped[int] = mapped_column(default=0)
    lease_owner: Mapped[str | None] = mapped_column(String(200))
    lease_expires_at: Mapped[datetime | None]
    # set when this claim's render reached the engine: a worker death costs an attempt only to the
    # chunks on the engine, never to those still buffered in its batcher (core/render/leases.py)
    engine_at: Mapped[datetime | None]
    enqueued_at: Mapped[datetime | None]
    enqueue_count: Mapped[int] = mapped_column(default=0)
    cache_hit: Mapped[bool] = mapped_column(Boolean, default=False)
    quality_retries: Mapped[int] = mapped_column(default=0)
    take_seed: Mapped[int | None] = mapped_column(BigInteger)  # the kept take's seed (a retry's differs)
    speaker_similarity: Mapped[float | None]  # cosine to the voice's embedding (the consistency gate)
    # no take reached the gate's threshold: the most similar one was kept
    speaker_flagged: Mapped[bool] = mapped_column(Boolean, default=False, server_default=sa_false())
    # read-back (core/render/readback.py): passed | flagged (no take passed; the best was kept) | skipped
    readback: Mapped[str | None] = mapped_column(String(16))
    readback_wer: Mapped[float | None]
    readback_missing: Mapped[dict[str, Any] | None]  # words not heard: {"start": [...], "middle": [...], "end": [...]}
    readback_text: Mapped[str | None] = mapped_column(Text)  # what the recogniser heard
    readback_detail: Mapped[dict[str, Any] | None]  # word counts, word timings, why it was skipped
    duration_s: Mapped[float | None]
    sha256: Mapped[str | None] = mapped_column(String(64))
    batch_size: Mapped[int | None]
    # this chunk's share of its batch's engine wall time (usage accounting; 0 for a cache hit)
    engine_s: Mapped[float | None]
    worker: Mapped[str | None] = mapped_column(String(200))
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    error_code: Mapped[str | None] = mapped_column(String(64))
    error_message: Mapped[str | None] = mapped_column(Text)

