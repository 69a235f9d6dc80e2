"""The storage sweep: remove objects that no database row will ever point to.

Two crash windows leave such objects, and nothing else can find them:

- a process dies between uploading a job's EPUB/cover or a voice prompt and committing its row
  (a failed *commit* is already undone in-process by ``core.db.undo_on_rollback``);
- a process dies between committing a voice's deletion and removing its objects, or a worker
  writes a prepared prompt for a voice deleted meanwhile.

It also retires one-shot voice prompts sent with jobs (core/jobs/voice.py) once no job has
used them for ``grace_s``; their folders then go the same way.

Only ``tenants/<t>/jobs/<id>/`` and ``tenants/<t>/voices/<id>/`` folders are considered, by
listing their ids (one S3 request per 1000 ids, never the objects themselves) and asking the
database about each batch.  The chunk cache is content-addressed and shared by jobs, so it is never
touched here.  An id younger than ``grace_s`` is skipped: its row may still be committing (ids carry
their creation time, core/ids.py; an hour is 10^6 times the usual upload-to-commit gap).
"""

from __future__ import annotations

import logging
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime

from sqlalchemy import select

from voxfarm.core.db import Database
from voxfarm.core.ids import created_ms, looks_like_id
from voxfarm.core.jobs.voice import retire_unused_prompts
from voxfarm.core.models import Job, Tenant, Voice
from voxfarm.core.storage import ObjectStore

log = logging.getLogger(__name__)
BATCH = 500  # ids per IN (...) query


@dataclass
class SweepReport:
    examined: int = 0
    too_young: int = 0
    removed_jobs: list[str] = field(default_factory=list)
    removed_voices: list[str] = field(default_factory=list)
    retired_prompts: list[str] = field(default_factory=list)
    objects_removed: int = 0

    def as_dict(self) -> dict:
        return asdict(self)


def _orphans(db: Database, model, tenant: str, ids: list[str]) -> list[str]:
    """The ids in ``ids`` with no live row (no row at all, or a voice marked deleted)."""
    live: set[str] = set()
    with db.session() as s:
        for i in range(0, len(ids), BATCH):
            q = select(model.id).where(model.tenant_id == tenant, model.id.in_(ids[i:i + BATCH]))
            if model is Voice:
                q = q.where(Voice.deleted_at.is_(None))
            live.update(s.scalars(q))
    return [i for i in ids if i not in live]


def sweep_orphans(db: Database, store: ObjectStore, *, grace_s: float = 3600.0, dry_run: bool = False,
                  now_ms: int | None = None) -> SweepReport:
    report = SweepReport()
    cutoff = (int(time.time() * 1000) if now_ms is None else now_ms) - int(grace_s * 1000)
    with db.session() as s:
        report.retired_prompts = retire_unused_prompts(s, cutoff=datetime.fromtimestamp(cutoff / 1000, UTC),
                                                       dry_run=dry_run)
    with db.session() as s:
        tenants = list(s.scalars(select(Tenant.id)))
    for tenant in tenants:
        for folder, prefix, model, removed in (("jobs", "job", Job, report.removed_jobs),
                                               ("voices", "voice", Voice, report.removed_voices)):
            base = f"tenants/{tenant}/{folder}/"
            # a name that is not one of our ids was not written by us: leave it alone
            ids = [i for i in store.list_dirs(base) if looks_like_id(i, prefix)]
            old = [i for i in ids if created_ms(i) < cutoff]
            report.examined += len(ids)
            report.too_young += len(ids) - len(old)
            for orphan in _orphans(db, model, tenant, old) if old else []:
                removed.append(orphan)
                if not dry_run:
                    report.objects_removed += store.delete_prefix(f"{base}{orphan}/")
    if report.removed_jobs or report.removed_voices:
        log.warning("storage sweep: %d job and %d voice folders without a row%s", len(report.removed_jobs),
                    len(report.removed_voices), " (dry run)" if dry_run else " removed")
    return report
