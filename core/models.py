"""SQLAlchemy 2.0 models.  The database is the source of truth for everything accepted.

The broker only carries hints ("look at chunk X"); a lost or duplicated message is repaired by
the reconciler from these rows (core/upkeep/reconcile.py).  Migrations in ``migrations/`` must match
these models exactly (tests/core/test_migrations.py autogenerates and expects no diff).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Enum,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy import false as sa_false
from sqlalchemy import true as sa_true
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from voxfarm.core.clock import utcnow
from voxfarm.core.db import UTCDateTime
from voxfarm.core.statuses import ChunkStatus, EventStatus, JobStatus


def _enum(cls: type) -> Enum:
    return Enum(cls, native_enum=False, length=16, create_constraint=False,
                values_callable=lambda e: [m.value for m in e], validate_strings=True)


class Base(DeclarativeBase):
    type_annotation_map = {datetime: UTCDateTime, dict[str, Any]: JSON, list[Any]: JSON}


class Timestamps:
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Tenant(Timestamps, Base):
    __tablename__ = "tenants"
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    webhook_url: Mapped[str | None] = mapped_column(String(2048))  # default endpoint
    webhook_secret: Mapped[str] = mapped_column(String(128))
    webhook_secret_prev: Mapped[str | None] = mapped_column(String(128))
    webhook_secret_prev_until: Mapped[datetime | None]


class ApiKey(Base):
    __tablename__ = "api_keys"
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"), index=True)
    prefix: Mapped[str] = mapped_column(String(32), unique=True)
    key_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None]
    last_used_at: Mapped[datetime | None]


class Voice(Timestamps, Base):
    __tablename__ = "voices"
    __table_args__ = (Index("ix_voices_tenant_created", "tenant_id", "created_at", "id"),
                      # a name picks one live voice of its tenant (core/voices/registry.py resolves names)
                      Index("uq_voices_tenant_name", "tenant_id", "name", unique=True,
                            postgresql_where=text("deleted_at IS NULL AND registered"),
                            sqlite_where=text("deleted_at IS NULL AND registered")))
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"))
    name: Mapped[str] = mapped_column(String(200))
    transcript: Mapped[str] = mapped_column(Text)
    original_key: Mapped[str] = mapped_column(String(512))
    original_format: Mapped[str] = mapped_column(String(16))
    normalized_key: Mapped[str] = mapped_column(String(512))
    sample_rate: Mapped[int]
    channels: Mapped[int]
    duration_s: Mapped[float]
    bytes: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    normalized_sha256: Mapped[str] = mapped_column(String(64))
    speech_s: Mapped[float | None]  # voice QA (core/voices/qa.py); null for voices registered before it
    snr_db: Mapped[float | None]
    # speaker embedding of the normalized prompt (core/voices/speaker.py), computed by a worker: the
    # vector, the encoder that made it, and the cosine between the prompt's two halves
    embedding: Mapped[list[float] | None] = mapped_column(JSON)
    embedding_model: Mapped[str | None] = mapped_column(String(256))
    embedding_self_similarity: Mapped[float | None]
    # false: a one-shot prompt sent with a job (core/jobs/voice.py), swept once its jobs are done
    registered: Mapped[bool] = mapped_column(default=True, server_default=sa_true())
    deleted_at: Mapped[datetime | None]


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
                      Index("ix_chunks_tenant_finished", "tenant_id", "finished_at"))
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    job_id: Mapped[str] = mapped_column(ForeignKey("jobs.id"))
    tenant_id: Mapped[str] = mapped_column(String(40))
    idx: Mapped[int]
    chapter: Mapped[int] = mapped_column(default=0)
    pause_after: Mapped[str] = mapped_column(String(16), default="sentence")
    text: Mapped[str] = mapped_column(Text)
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


class Outbox(Base):
    """Messages to publish, committed in the same transaction as the rows they refer to."""

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_unpublished", "published_at", "id"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    task: Mapped[str] = mapped_column(String(64))
    args: Mapped[list[Any]] = mapped_column(default=list)
    queue: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    published_at: Mapped[datetime | None]
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str | None] = mapped_column(Text)


class IdempotencyKey(Base):
    __tablename__ = "idempotency_keys"
    tenant_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    scope: Mapped[str] = mapped_column(String(64), primary_key=True)  # "POST /v1/jobs"
    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    request_hash: Mapped[str] = mapped_column(String(64))
    completed: Mapped[bool] = mapped_column(Boolean, default=False)
    response_status: Mapped[int | None]
    response_body: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(index=True)


class WebhookEndpoint(Base):
    __tablename__ = "webhook_endpoints"
    __table_args__ = (UniqueConstraint("tenant_id", "url"),)
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"))
    url: Mapped[str] = mapped_column(String(2048))
    disabled_at: Mapped[datetime | None]
    disabled_reason: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class WebhookEvent(Timestamps, Base):
    __tablename__ = "webhook_events"
    __table_args__ = (Index("ix_webhook_events_due", "status", "next_attempt_at"),
                      Index("ix_webhook_events_job", "job_id"))
    id: Mapped[str] = mapped_column(String(40), primary_key=True)  # the stable webhook-id
    tenant_id: Mapped[str] = mapped_column(String(40))
    job_id: Mapped[str] = mapped_column(String(40))
    endpoint_id: Mapped[str] = mapped_column(ForeignKey("webhook_endpoints.id"))
    type: Mapped[str] = mapped_column(String(32))
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)
    status: Mapped[EventStatus] = mapped_column(_enum(EventStatus), default=EventStatus.pending)
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime | None]
    enqueued_at: Mapped[datetime | None]
    delivered_at: Mapped[datetime | None]
    last_status_code: Mapped[int | None]


class WebhookAttempt(Base):
    __tablename__ = "webhook_attempts"
    __table_args__ = (UniqueConstraint("event_id", "attempt"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    event_id: Mapped[str] = mapped_column(ForeignKey("webhook_events.id"))
    attempt: Mapped[int]
    url: Mapped[str] = mapped_column(String(2048))
    status_code: Mapped[int | None]
    latency_ms: Mapped[float | None] = mapped_column(Float)
    error: Mapped[str | None] = mapped_column(Text)
    next_attempt_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class WorkerRow(Base):
    """Heartbeat of a live worker: what it serves and how it batches (``voxfarm workers``)."""

    __tablename__ = "workers"
    id: Mapped[str] = mapped_column(String(200), primary_key=True)
    engine: Mapped[str] = mapped_column(String(32))
    model: Mapped[str] = mapped_column(String(256))
    device: Mapped[str] = mapped_column(String(64))
    queues: Mapped[list[Any]] = mapped_column(default=list)
    max_batch_size: Mapped[int]
    max_wait_ms: Mapped[float]
    concurrency: Mapped[int]
    hostname: Mapped[str] = mapped_column(String(200))
    pid: Mapped[int]
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    heartbeat_at: Mapped[datetime] = mapped_column(default=utcnow)
    stopped_at: Mapped[datetime | None]
    stats: Mapped[dict[str, Any]] = mapped_column(default=dict)
