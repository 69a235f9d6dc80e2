"""Usage accounting: what each tenant and job consumed, read from the chunk records.

Three figures per rendered chunk, all written by the worker in the chunk's completion
transaction (core/render/leases.py), so usage can never disagree with what was rendered:

* ``characters``: the chunk's text length (what the tenant asked to be spoken);
* ``audio_s``: seconds of audio delivered, cache hits included (the tenant received them);
* ``engine_s``: the chunk's share of its batch's engine wall time, split in proportion to each
  item's audio (worker/runtime.py ``attribute_batch_time``), quality re-renders included; a cache
  hit costs 0.  The sum over a batch equals the batch's wall time, so engine-seconds add up to
  the GPU time actually spent, however the farm batched.

A chunk counts in the window that contains its ``finished_at``.  The report also shows each of the
tenant's limits and its standing against them (core/tenants/limits.py).
"""

from __future__ import annotations

import re
from datetime import datetime

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator, model_validator
from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from voxfarm.core.models import Chunk, Job
from voxfarm.core.state.lifecycle import ChunkStatus
from voxfarm.core.tenants.limits import LimitStanding

_RFC3339 = re.compile(r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})")


class UsageQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    from_: AwareDatetime | None = Field(None, alias="from", description="inclusive, RFC 3339 with offset")
    to: AwareDatetime | None = Field(None, description="exclusive, RFC 3339 with offset")
    job_id: str | None = Field(None, max_length=64, description="only this job")

    @field_validator("from_", "to", mode="before")
    @classmethod
    def _rfc3339(cls, value):
        # pydantic would also read "0.5" as a Unix time; the document promises RFC 3339 (format date-time)
        if value is not None and not (isinstance(value, str) and _RFC3339.fullmatch(value)):
            raise ValueError("must be an RFC 3339 date-time with an offset, e.g. 2026-01-01T00:00:00Z")
        return value

    @model_validator(mode="after")
    def _ordered(self):
        if self.from_ and self.to and self.to <= self.from_:
            raise ValueError("'to' must be after 'from'")
        return self


class Totals(BaseModel):
    chunks: int
    cache_hits: int
    characters: int
    audio_s: float
    engine_s: float


class EngineUsage(Totals):
    engine: str


class JobUsage(Totals):
    job_id: str
    engine: str


class LimitsOut(BaseModel):
    """Each limit (core/tenants/limits.py) and where the tenant stands against it now."""

    submit_per_min: LimitStanding
    speech_per_min: LimitStanding
    read_per_min: LimitStanding
    open_streams: LimitStanding
    queued_audio_s: LimitStanding
    monthly_audio_s: LimitStanding


class UsageOut(BaseModel):
    tenant: str
    from_: datetime | None = Field(None, alias="from")
    to: datetime | None = None
    total: Totals
    engines: list[EngineUsage]
    jobs: list[JobUsage] = Field(description="per job, most engine time first")
    jobs_truncated: bool
    limits: LimitsOut


def _figures():
    return (func.count(Chunk.id),
            func.coalesce(func.sum(case((Chunk.cache_hit, 1), else_=0)), 0),
            func.coalesce(func.sum(func.length(Chunk.text)), 0),
            func.coalesce(func.sum(Chunk.duration_s), 0.0),
            func.coalesce(func.sum(Chunk.engine_s), 0.0))


def _totals(row) -> dict:
    n, hits, chars, audio, engine = row
    return {"chunks": int(n), "cache_hits": int(hits), "characters": int(chars),
            "audio_s": round(float(audio), 3), "engine_s": round(float(engine), 3)}


def usage(session: Session, tenant_id: str, tenant_name: str, query: UsageQuery, max_jobs: int,
          limits: dict[str, LimitStanding]) -> dict:
    where = [Chunk.tenant_id == tenant_id, Chunk.status == ChunkStatus.done]
    if query.from_ is not None:
        where.append(Chunk.finished_at >= query.from_)
    if query.to is not None:
        where.append(Chunk.finished_at < query.to)
    if query.job_id is not None:
        where.append(Chunk.job_id == query.job_id)
    total = _totals(session.execute(
        select(*_figures()).select_from(Chunk).join(Job, Job.id == Chunk.job_id).where(*where)).one())
    engines = [{"engine": row[0], **_totals(row[1:])} for row in session.execute(
        select(Job.engine, *_figures()).join(Job, Job.id == Chunk.job_id).where(*where).group_by(Job.engine))]
    per_job = session.execute(
        select(Chunk.job_id, Job.engine, *_figures()).join(Job, Job.id == Chunk.job_id).where(*where)
        .group_by(Chunk.job_id, Job.engine)
        .order_by(func.coalesce(func.sum(Chunk.engine_s), 0.0).desc(), Chunk.job_id)
        .limit(max_jobs + 1)).all()
    jobs = [{"job_id": row[0], "engine": row[1], **_totals(row[2:])} for row in per_job[:max_jobs]]
    return {"tenant": tenant_name, "from": query.from_, "to": query.to, "total": total,
            "engines": sorted(engines, key=lambda e: e["engine"]), "jobs": jobs,
            "jobs_truncated": len(per_job) > max_jobs, "limits": limits}
