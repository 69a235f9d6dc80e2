"""Finalizing a job on a worker: claim the finalize lease, build the result (one chunk encoded,
or many stitched in a temporary directory), record it; outages wait uncounted, errors count."""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Callable
from pathlib import Path

from sqlalchemy.exc import DBAPIError, OperationalError

from voxfarm.core.render.finalize import (
    build_single,
    build_stitched,
    claim_finalize,
    defer_finalize,
    release_finalize,
    succeed_job,
)
from voxfarm.core.settings import Settings
from voxfarm.core.state.outbox import unit_of_work
from voxfarm.core.storage import ObjectStore
from voxfarm.worker.outcomes import RetryLater, is_outage

log = logging.getLogger(__name__)


class Finalizer:
    """What finalization needs of a worker: settings, a unit of work, storage, a lease owner name
    and the infrastructure backoff."""

    def __init__(self, settings: Settings, uow: Callable[[], unit_of_work], store: ObjectStore,
                 worker_id: str, backoff: Callable[[int], float]) -> None:
        self.settings, self.uow, self.store, self.worker_id, self.backoff = settings, uow, store, worker_id, backoff

    def __call__(self, job_id: str, audio=None, retries: int = 0) -> None:
        finalize(self, job_id, audio, retries)


def finalize(rt: Finalizer, job_id: str, audio=None, retries: int = 0) -> None:
    """Build and record job ``job_id``'s result; ``audio`` is the single chunk's decoded audio
    when the worker that rendered it finalizes at once.  Raises RetryLater to come back."""
    s_ = rt.settings
    try:
        with rt.uow() as s:
            work = claim_finalize(s, job_id, rt.worker_id, lease_s=s_.lease_s, max_attempts=s_.max_attempts)
    except (OperationalError, DBAPIError) as exc:
        raise RetryLater(f"database unavailable: {exc}", countdown=rt.backoff(retries)) from exc
    if work is None:
        return
    try:
        if len(work.chunks) == 1:
            result = build_single(work, rt.store, audio)
        else:
            tmp_root = Path(s_.data_dir) / "tmp"
            tmp_root.mkdir(parents=True, exist_ok=True)
            with tempfile.TemporaryDirectory(prefix=f"stitch-{job_id}-", dir=tmp_root) as tmp:
                result = build_stitched(work, rt.store, s_, Path(tmp))
        with rt.uow() as s:
            succeed_job(s, job_id, rt.worker_id, result)
    except Exception as exc:  # noqa: BLE001 - release the lease; the attempt cap bounds retries
        infra = is_outage(exc)
        if infra:
            log.warning("finalize of %s waits for infrastructure: %s", job_id, exc)
        else:
            log.exception("finalize of %s failed", job_id)
        try:
            with rt.uow() as s:
                if infra:  # an outage: uncounted, backoff, the deadline bounds it
                    defer_finalize(s, job_id, rt.worker_id, error=f"{type(exc).__name__}: {exc}"[:500],
                                   deadline_s=s_.infra_deadline_s)
                else:
                    release_finalize(s, job_id, rt.worker_id)
        except Exception:  # noqa: BLE001 - the DB is down too: the retry re-takes our lease
            log.warning("could not release the finalize lease of %s", job_id, exc_info=True)
        raise RetryLater(str(exc), countdown=rt.backoff(retries) if infra else 5.0) from exc
