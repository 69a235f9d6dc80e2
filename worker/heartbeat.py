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
from datetime import timedelta
from typing import TYPE_CHECKING

from sqlalchemy import update

from voxfarm.core.clock import utcnow
from voxfarm.core.engines.registry import ENGINES
from voxfarm.core.models import Chunk, Job, WorkerRow
from voxfarm.core.state.lifecycle import ChunkStatus

if TYPE_CHECKING:
    from voxfarm.worker.runtime import Runtime

log = logging.getLogger(__name__)


class Heartbeat:
    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
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
        self._thread.join(timeout=5)
        try:
            with self.runtime.db.session() as s:
                s.execute(update(WorkerRow).where(WorkerRow.id == self.runtime.worker_id)
                          .values(stopped_at=utcnow()))
        except Exception:  # noqa: BLE001 - the DB may be gone at shutdown
            log.debug("could not mark worker stopped", exc_info=True)

    def record_batch(self, size: int, seconds: float) -> None:
        with self._lock:
            self.batches += 1
            self.items += size
            self.busy_s += seconds

    def _loop(self) -> None:
        while not self._stop.wait(self.runtime.settings.heartbeat_s):
            try:
                self.beat()
            except Exception:  # noqa: BLE001 - a DB blip must not kill the heartbeat
                log.warning("heartbeat failed", exc_info=True)

    def beat(self) -> None:
        rt = self.runtime
        now = utcnow()
        until = now + timedelta(seconds=rt.settings.lease_s)
        engine = rt.engine
        batch = ENGINES[rt.engine_name].batch(rt.settings) if rt.engine_name else None
        with self._lock:
            stats = {"state": str(rt.state), "batches": self.batches, "items": self.items,
                     "busy_s": round(self.busy_s, 3),
                     "mean_batch": round(self.items / self.batches, 2) if self.batches else None}
        chunks, jobs = rt.held()
        with rt.db.session() as s:
            # only what a live task is working on: a lease whose task died must lapse
            if chunks:
                s.execute(update(Chunk).where(Chunk.id.in_(chunks), Chunk.lease_owner == rt.worker_id,
                                              Chunk.status == ChunkStatus.running)
                          .values(lease_expires_at=until).execution_options(synchronize_session=False))
            if jobs:
                s.execute(update(Job).where(Job.id.in_(jobs), Job.finalize_owner == rt.worker_id)
                          .values(finalize_expires_at=until).execution_options(synchronize_session=False))
            row = s.get(WorkerRow, rt.worker_id)
            if row is None:
                row = WorkerRow(id=rt.worker_id, engine=rt.engine_name or "-",
                                model=engine.model_id if engine else "-",
                                device=engine.device if engine else "-", queues=rt.queues,
                                max_batch_size=batch.max_batch_size if batch else 0,
                                max_wait_ms=batch.max_wait_ms if batch else 0,
                                concurrency=rt.concurrency, hostname=socket.gethostname(), pid=os.getpid())
                s.add(row)
            row.heartbeat_at = now
            row.stats = stats
