"""Usage accounting (core/tenants/usage.py) read from chunk records: only rendered chunks count, a
chunk counts in the window holding its finished_at (from inclusive, to exclusive), per engine and
per job, and a tenant sees its own chunks only."""

from __future__ import annotations

import inspect
from datetime import UTC, datetime

from sqlalchemy import select, update

from voxfarm.core.models import Chunk, Tenant
from voxfarm.core.tenants.usage import UsageQuery, usage

from helpers import submit_job_direct

TEXT = "\n\n".join(f"Paragraph number {i} is here." for i in range(4))
T10, T11 = datetime(2026, 1, 1, 10, tzinfo=UTC), datetime(2026, 1, 1, 11, tzinfo=UTC)


def _record(db, chunk_id, status="done", at=T10, audio=2.0, engine=0.5, hit=False) -> str:
    with db.session() as s:
        s.execute(update(Chunk).where(Chunk.id == chunk_id).values(status=status, finished_at=at, duration_s=audio,
                                                                   engine_s=engine, cache_hit=hit))
        return s.get(Chunk, chunk_id).text


def _usage(db, tenant="acme", max_jobs=100, **query) -> dict:
    with db.session() as s:
        tenant_id = s.scalar(select(Tenant.id).where(Tenant.name == tenant))
        extra = {"limits": {}} if "limits" in inspect.signature(usage).parameters else {}  # the report's other half
        return usage(s, tenant_id, tenant, UsageQuery.model_validate(query), max_jobs, **extra)


def _farm(db):
    job, chunks = submit_job_direct(db, TEXT)
    assert len(chunks) == 4
    texts = [_record(db, chunks[0], at=T10), _record(db, chunks[1], at=T11, engine=0.0, hit=True)]
    _record(db, chunks[2], status="failed", at=T10, audio=1.0, engine=3.0)  # spent engine time, delivered nothing
    _record(db, chunks[3], status="running", at=None, audio=None, engine=None)
    other, [theirs] = submit_job_direct(db, "Another tenant's line.", tenant="globex")
    _record(db, theirs, at=T10, audio=9.0, engine=9.0)
    return job, texts, other


def test_only_the_tenants_rendered_chunks_count(db):
    job, texts, other = _farm(db)
    got = _usage(db)
    assert got["total"] == {"chunks": 2, "cache_hits": 1, "characters": sum(map(len, texts)), "audio_s": 4.0,
                            "engine_s": 0.5}
    assert [e["engine"] for e in got["engines"]] == ["espeak"] and got["engines"][0]["chunks"] == 2
    assert [(j["job_id"], j["chunks"]) for j in got["jobs"]] == [(job, 2)] and not got["jobs_truncated"]
    assert _usage(db, tenant="globex")["total"]["audio_s"] == 9.0
    assert _usage(db, job_id=other)["total"]["chunks"] == 0  # another tenant's job id shows nothing


def test_a_chunk_counts_in_the_window_holding_its_finished_at(db):
    _farm(db)
    first = _usage(db, **{"from": "2026-01-01T10:00:00Z", "to": "2026-01-01T11:00:00Z"})
    assert first["total"]["chunks"] == 1 and first["total"]["cache_hits"] == 0  # "to" is exclusive
    second = _usage(db, **{"from": "2026-01-01T11:00:00Z"})
    assert second["total"]["chunks"] == 1 and second["total"]["cache_hits"] == 1  # "from" is inclusive
    assert _usage(db, to="2026-01-01T10:00:00Z")["total"]["chunks"] == 0


def test_per_job_list_is_costliest_first_and_truncated(db):
    cheap, [c1] = submit_job_direct(db, "A cheap line.")
    dear, [c2] = submit_job_direct(db, "A dear line.")
    _record(db, c1, engine=0.1)
    _record(db, c2, engine=2.0)
    got = _usage(db, max_jobs=1)
    assert [j["job_id"] for j in got["jobs"]] == [dear] and got["jobs_truncated"]
    assert got["total"]["engine_s"] == 2.1
