"""Who owns what: tenants (with their own limits), their API keys (hashes only), their registered
voices, and the limiter's state when the database keeps it (core/tenants/limit_store.py)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Double,
    ForeignKey,
    Index,
    String,
    Text,
    text,
)
from sqlalchemy import true as sa_true
from sqlalchemy.orm import Mapped, mapped_column

from voxfarm.core.clock import utcnow
from voxfarm.core.models.base import Base, Timestamps


class Tenant(Timestamps, Base):
    __tablename__ = "tenants"
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    webhook_url: Mapped[str | None] = mapped_column(String(2048))  # default endpoint
    webhook_secret: Mapped[str] = mapped_column(String(128))
    webhook_secret_prev: Mapped[str | None] = mapped_column(String(128))
    webhook_secret_prev_until: Mapped[datetime | None]
    # this tenant's own limits, {name: value or null for "no limit"}; a name left out takes the
    # farm-wide default (core/tenants/limits.py)
    limits: Mapped[dict[str, Any] | None] = mapped_column(JSON)


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


class LimitState(Base):
    """The limiter's counters in the embedded stack (Redis holds them in distributed mode): a
    request-rate bucket's theoretical arrival time (``rate:<class>``) or an open stream's lease
    expiry (``stream:<id>``), as Unix seconds."""

    __tablename__ = "limit_state"
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"), primary_key=True)
    key: Mapped[str] = mapped_column(String(80), primary_key=True)
    value: Mapped[float] = mapped_column(Double)
