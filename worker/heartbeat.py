"""Worker heartbeat: keeps this worker's leases alive and publishes what it serves.

Every ``heartbeat_s`` (5 s) it extends the leases of the chunks and finalizations that this
worker's live tasks are working on -- so a Dia batch or a book stitch may run far longer than
``lease_s`` (60 s), while a lease whose task died still lapses -- and
upserts the ``workers`` row that ``voxfarm workers`` lists (engine, model, device, batch
settings, batches run).  A worker killed with SIGKILL stops renewing; its leases lapse after
``lease_s`` and the reconciler re-sends the work.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy import update

from voxfarm.core.clock import utcnow
from voxfarm.core.db import Database
from voxfarm.core.models import Chunk, Job, WorkerRow
from voxfarm.core.settings import Settings
from voxfarm.core.state.lifecycle import ChunkStatus
from voxfarm.worker.held import HeldWork

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class WorkerIdentity:
    """What the ``workers`` row says about this process, fixed at boot."""

    worker_id: str
    engine: str = "-"
    model: str = "-"
    device: str = "-"
    queues: list[str] = field(default_factory=list)
    max_batch_size: int = 0
    max_wait_ms: int = 0
    concurrency: int = 1


class Heartbeat:
    def __init__(self, db: Database, settings: Settings, identity: WorkerIdentity, held: HeldWork,
                 state: Callable[[], str]) -> None:
        self.db, self.settings, self.identity, self.held, self.state = db, settings, identity, held, state
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self.batches = 0
        self.items = 0
        self.busy_s = 0.0
        self._thread = threading.Thread(target=self._loop, name="heartbeat", daemon=True)

    def start(self) -> Heartbeat:
        self.beat()
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)
        try:
            with self.db.session() as s:
                s.execute(update(WorkerRow).where(WorkerRow.id == self.identity.worker_id)
                          .values(stopped_at=utcnow()))
        except Exception:  # noqa: BLE001 - the DB may be gone at shutdown
            log.debug("could not mark worker stopped", exc_info=True)

    def record_batch(self, size: int, seconds: float) -> None:
        with self._lock:
            self.batches += 1
            self.items += size
            self.busy_s += seconds

    def _loop(self) -> None:
        while not self._stop.wait(self.settings.heartbeat_s):
            try:
                self.beat()
            except Exception:  # noqa: BLE001 - a DB blip must not kill the heartbeat
                log.warning("heartbeat failed", exc_info=True)

    def beat(self) -> None:
        me = self.identity
        now = utcnow()
        until = now + timedelta(seconds=self.settings.lease_s)
        with self._lock:
            stats = {"state": str(self.state()), "batches": self.batches, "items": self.items,
                     "busy_s": round(self.busy_s, 3),
                     "mean_batch": round(self.items / self.batches, 2) if self.batches else None}
        chunks, jobs = self.held.snapshot()
        with self.db.session() as s:
            # only what a live task is working on: a lease whose task died must lapse
            if chunks:
                s.execute(update(Chunk).where(Chunk.id.in_(chunks), Chunk.lease_owner == me.worker_id,
                                              Chunk.status == ChunkStatus.running)
                          .values(lease_expires_at=until).execution_options(synchronize_session=False))
            if jobs:
                s.execute(update(Job).where(Job.id.in_(jobs), Job.finalize_owner == me.worker_id)
                          .values(finalize_expires_at=until).execution_options(synchronize_session=False))
            row = s.get(WorkerRow, me.worker_id)
            if row is None:
                row = WorkerRow(id=me.worker_id, engine=me.engine, model=me.model, device=me.device,
                                queues=me.queues, max_batch_size=me.max_batch_size, max_wait_ms=me.max_wait_ms,
                                concurrency=me.concurrency, hostname=socket.gethostname(), pid=os.getpid())
                s.add(row)
            row.heartbeat_at = now
            row.stats = stats
