"""Per-process worker state: the pinned engine, its micro-batcher, storage and the DB.

One ``Runtime`` per worker process, built at boot (before the worker consumes anything), so the
model is loaded exactly once.  Celery tasks are thin: they call ``render_chunk`` / ``finalize_job``
with an id and translate the two control-flow exceptions below into Celery's vocabulary.

Failure accounting (core/render/failures.py): engine errors and quality failures use a chunk's attempts;
storage, database and broker errors hand the chunk back uncounted and retry with a capped,
jittered backoff until the outage ends or ``infra_deadline_s`` fails the job.
"""

from __future__ import annotations

import enum
import logging
import socket
import threading
import uuid
from collections.abc import Iterable

from sqlalchemy.exc import DBAPIError, OperationalError

from voxfarm.core.db import Database
from voxfarm.core.engines.registry import ENGINES, queue_for
from voxfarm.core.fleet import metrics
from voxfarm.core.jobs import dispatch
from voxfarm.core.render import faults
from voxfarm.core.render.failures import infra_delay
from voxfarm.core.render.leases import (
    claim_chunk,
    complete_chunk,
    defer_chunk,
    fail_chunk,
    live_jobs,
    mark_on_engine,
    queue_finalize,
    release_chunk,
)
from voxfarm.core.render.takes import QualityFailed
from voxfarm.core.settings import Settings
from voxfarm.core.state.lifecycle import release_stale_leases
from voxfarm.core.state.outbox import RENDER_TASK, Publisher, unit_of_work
from voxfarm.core.storage import ObjectStore, open_store
from voxfarm.worker.batcher import BatcherClosed, Dropped, ItemFailed, MicroBatcher
from voxfarm.worker.engines.base import Engine, RenderResult, create_engine
from voxfarm.worker.finalizing import Finalizer
from voxfarm.worker.heartbeat import Heartbeat, WorkerIdentity
from voxfarm.worker.held import HeldWork
from voxfarm.worker.outcomes import BOOT_WAIT_S, HandBack, RetryLater, is_outage, storage_errors
from voxfarm.worker.producing import BatchItem, Producer
from voxfarm.worker.readback import Listener
from voxfarm.worker.speaker import SpeakerEncoder, SpeakerGates
from voxfarm.worker.streaming import timed_results
from voxfarm.worker.voices import VoiceCache

log = logging.getLogger(__name__)


class WorkerState(enum.StrEnum):
    """A worker process's life: built, loading its model, taking work, handing work back, gone."""

    configured = "configured"
    booting = "booting"
    serving = "serving"
    draining = "draining"  # warm shutdown: the running batch finishes, buffered requests go back
    stopped = "stopped"


class Runtime:
    def __init__(self, settings: Settings, engine_name: str | None, *, name: str | None = None,
                 queues: list[str] | None = None, concurrency: int = 1) -> None:
        self.settings = settings
        self.engine_name = engine_name
        self.name = name or settings.worker_name or f"worker@{socket.gethostname()}"
        self.worker_id = f"{self.name}#{uuid.uuid4().hex[:8]}"  # lease owner: name + this boot
        self.queues = queues or []
        self.concurrency = concurrency
        # everything below is None until boot() fills it in (state: configured -> serving)
        self.state = WorkerState.configured
        self.engine: Engine | None = None
        self.batcher: MicroBatcher | None = None
        self.db: Database | None = None
        self.store: ObjectStore | None = None
        self.publisher: Publisher | None = None
        self.voices: VoiceCache | None = None  # the engine's prepared voice prompts
        self.heartbeat: Heartbeat | None = None
        self.speaker: SpeakerGates | None = None  # the speaker-consistency gate, when a model is set
        self.producer: Producer | None = None
        self.finalizer: Finalizer | None = None
        self._booted = threading.Event()
        self.held = HeldWork()  # the leases that live tasks of this process hold: the heartbeat renews these

    # -- lifecycle -----------------------------------------------------------------------------
    def boot(self, publisher: Publisher) -> None:
        self.state = WorkerState.booting
        db, store = Database(self.settings), open_store(self.settings)
        speaker = engine = None
        if self.settings.speaker_model:  # before the engine: a bad path fails the boot in a second
            encoder = SpeakerEncoder(self.settings.speaker_model, self.settings.speaker_device).load()
            speaker = SpeakerGates(encoder, db, store, self.settings)
        readback = Listener.load(self.settings) if self.settings.readback else None  # the recogniser, also first
        if self.engine_name:
            ENGINES[self.engine_name].checked_batch(self.settings)  # before a minutes-long load
            engine = create_engine(self.engine_name, self.settings)
            engine.load()
            # the fault suite's poison hook, when VOXFARM_FAULT names one (core/render/faults.py)
            engine.generate_batch = faults.engine_call(engine.generate_batch, self.settings.fault)
        self.attach(db, store, publisher, engine, speaker=speaker, readback=readback)
        metrics.serve(self.settings.metrics_port)
        with self.db.session() as s:
            reclaimed = release_stale_leases(s, self.name + "#", self.worker_id)
        if reclaimed and self.engine_name:
            publisher.publish_many([(RENDER_TASK, [cid], queue_for(self.engine_name)) for cid in reclaimed])
            log.warning("reclaimed %d chunks left running by a previous %s", len(reclaimed), self.name)
        self.state = WorkerState.serving
        self.heartbeat.start()  # its first beat writes the worker row as serving
        self._booted.set()
        log.info("worker %s ready: engine=%s model=%s device=%s", self.worker_id, self.engine_name,
                 self.engine.model_id if self.engine else "-", self.engine.device if self.engine else "-")

    def attach(self, db: Database, store: ObjectStore, publisher: Publisher, engine: Engine | None, *,
               speaker: SpeakerGates | None = None, readback: Listener | None = None,
               max_batch_size: int | None = None, max_wait_ms: int | None = None) -> None:
        """Wire the parts together: boot does it with what it loaded; unit tests with their own
        engine, store and batch settings."""
        self.db, self.store, self.publisher, self.engine, self.speaker = db, store, publisher, engine, speaker
        batch = ENGINES[self.engine_name].batch(self.settings) if self.engine_name else None
        size = max_batch_size or (batch.max_batch_size if batch else 0)
        wait = max_wait_ms if max_wait_ms is not None else (batch.max_wait_ms if batch else 0)
        if engine is not None:
            self.voices = VoiceCache(engine, store) if self.voices is None else self.voices
            self.batcher = MicroBatcher(
                self._run_batch, max_batch_size=size, max_wait_ms=wait,
                group_key=self._group_key, length=lambda it: engine.expected_length(it.request),
                is_error=lambda r: r.error, admit=self._admit, on_batch=self._on_batch,
                urgent=lambda it: it.urgent, name=f"batcher-{self.engine_name}",
                max_in_flight=engine.max_in_flight).start()
            self.producer = Producer(self.settings, engine, self.batcher, store, self.voices, speaker, readback)
        identity = WorkerIdentity(self.worker_id, self.engine_name or "-", engine.model_id if engine else "-",
                                  engine.device if engine else "-", self.queues, size, wait, self.concurrency)
        self.heartbeat = Heartbeat(db, self.settings, identity, self.held, lambda: self.state)
        self.finalizer = Finalizer(self.settings, self.uow, store, self.worker_id, self.backoff)

    @property
    def booted(self) -> bool:
        return self._booted.is_set()

    def begin_shutdown(self) -> None:
        """Warm shutdown: the batch on the engine finishes; buffered requests are handed back."""
        self.state = WorkerState.draining
        if self.heartbeat is not None:  # `voxfarm workers` shows the drain at once, not a beat later
            self.heartbeat.beat()
        if self.batcher is not None:
            self.batcher.close(timeout=600)

    def stop(self) -> None:
        self.state = WorkerState.stopped
        if self.heartbeat is not None:
            self.heartbeat.stop()
        if self.db is not None:
            self.db.dispose()

    def uow(self) -> unit_of_work:
        return unit_of_work(self.db, self.publisher)

    # -- batching ------------------------------------------------------------------------------
    def _run_batch(self, items: list[BatchItem]) -> Iterable[RenderResult]:
        try:  # from here a death of this process costs these chunks (and only these) an attempt
            with self.db.session() as s:
                mark_on_engine(s, [it.request.key for it in items], self.worker_id)
        except Exception:  # noqa: BLE001 - the DB is down: render anyway (a death then costs nothing)
            log.warning("could not mark %d chunks as on the engine", len(items), exc_info=True)
        return timed_results(self.engine, [it.request for it in items], self.engine_name, self.name)

    def _group_key(self, item: BatchItem):
        # suspects (second attempt or later) never share a batch: if an input kills the process,
        # only that input keeps paying attempts, not its batch-mates
        return ("solo", item.request.key) if item.solo else self.engine.batch_key(item.request)

    def _admit(self, items: list[BatchItem]) -> set[int]:
        with self.db.session() as s:
            live = live_jobs(s, list({it.job_id for it in items}))
        return {i for i, it in enumerate(items) if it.job_id in live}

    def _on_batch(self, size: int, seconds: float) -> None:
        self.heartbeat.record_batch(size, seconds)

    # -- rendering -----------------------------------------------------------------------------
    def _wait_booted(self) -> None:
        if not self._booted.wait(BOOT_WAIT_S):
            raise RetryLater(f"worker {self.worker_id} has not booted after {BOOT_WAIT_S:.0f} s", countdown=5.0)

    def backoff(self, retries: int) -> float:
        return infra_delay(retries, self.settings.infra_retry_cap_s)

    def render_chunk(self, chunk_id: str, retries: int = 0) -> None:
        """Render one chunk.  ``retries``: how many times this message was retried (the backoff)."""
        self._wait_booted()
        with self.held.hold(self.held.chunks, chunk_id) as taken:
            if taken:  # else a duplicate message while a task here renders it
                self._render_chunk(chunk_id, retries)

    def _render_chunk(self, chunk_id: str, retries: int = 0) -> None:
        s_ = self.settings
        try:
            with self.uow() as s:
                work = claim_chunk(s, chunk_id, self.worker_id, lease_s=s_.lease_s, max_attempts=s_.max_attempts)
        except (OperationalError, DBAPIError) as exc:  # the database is down: come back later
            raise RetryLater(f"database unavailable: {exc}", countdown=self.backoff(retries)) from exc
        if work is None:
            return
        if self.engine is None or work.engine != self.engine.name:
            with self.db.session() as s:
                release_chunk(s, work.chunk_id, self.worker_id, count_attempt=False)
            raise HandBack(f"chunk for engine {work.engine} reached a {self.engine_name} worker")
        try:
            result, audio = self.producer.produce(work)
        except BatcherClosed:
            with self.db.session() as s:
                release_chunk(s, work.chunk_id, self.worker_id, count_attempt=False)
            raise HandBack("worker shutting down") from None
        except Dropped:
            return  # its job was canceled or failed meanwhile; the chunk is already settled
        except QualityFailed as exc:
            with self.uow() as s:
                fail_chunk(s, work, f"quality_{exc.issue.code}",
                           f"failed the quality gate after {exc.tries} renders: {exc.issue.message}")
            return
        except Exception as exc:  # noqa: BLE001 - classified: outages wait, engine errors count
            if is_outage(exc):
                self._defer(work.chunk_id, exc)
                raise RetryLater(f"infrastructure: {exc}", countdown=self.backoff(retries)) from exc
            if not isinstance(exc, (ItemFailed, RuntimeError, ValueError, OSError)):
                log.exception("unexpected error rendering %s (counted as an attempt)", work.chunk_id)
            self._release_quietly(work.chunk_id, exc, count_attempt=True)
            raise RetryLater(str(exc), countdown=min(30.0, 2.0 ** work.attempts)) from exc
        try:
            with self.uow() as s:
                job = complete_chunk(s, work, self.worker_id, result, s_.progress_min_interval_s)
                # a slot in the broker freed: the least-served tenant's next held chunk takes it
                dispatch.release(s, dispatch.window(s, s_.dispatch_window, s_.heartbeat_s, work.engine),
                                 work.engine, interactive_priority=s_.interactive_priority)
                if job is not None and job.progress_total > 1:
                    queue_finalize(s, job.id)
        except Exception as exc:  # DB trouble after the audio is stored: retry (a cache hit), uncounted
            self._defer(work.chunk_id, exc)
            raise RetryLater(f"recording chunk {work.chunk_id} failed: {exc}",
                             countdown=self.backoff(retries)) from exc
        if job is not None and job.progress_total == 1:
            try:
                self.finalize_job(job.id, audio=audio)
            except RetryLater:  # the chunk is done; hand finalization to the control queue
                try:
                    with self.uow() as s:
                        queue_finalize(s, job.id)
                except (OperationalError, DBAPIError):  # the reconciler re-queues orphaned finalizers
                    log.warning("could not queue finalization of %s; the reconciler will", job.id)

    def _defer(self, chunk_id: str, exc: Exception) -> None:
        """Hand a chunk back after an outage, uncounted.  If the DB itself is down, the lease
        stays ours and the retried message re-takes it without counting (``claim_chunk``)."""
        try:
            with self.uow() as s:
                if defer_chunk(s, chunk_id, self.worker_id, error=(type(exc).__name__, str(exc)[:500]),
                               deadline_s=self.settings.infra_deadline_s):
                    log.error("job of chunk %s failed: infrastructure unavailable past the deadline", chunk_id)
        except Exception:  # noqa: BLE001
            log.warning("could not hand back %s; the retry re-takes its lease", chunk_id, exc_info=True)

    def _release_quietly(self, chunk_id: str, exc: Exception, *, count_attempt: bool) -> None:
        try:
            with self.db.session() as s:
                release_chunk(s, chunk_id, self.worker_id, count_attempt=count_attempt,
                              error=(type(exc).__name__, str(exc)[:500]))
        except Exception:  # noqa: BLE001 - the DB may be the problem; the lease then lapses
            log.warning("could not release %s; its lease will lapse", chunk_id, exc_info=True)

    def embed_voice(self, voice_id: str, retries: int = 0) -> None:
        """The registration task: store the voice's speaker embedding (when this worker has an encoder)."""
        self._wait_booted()
        if self.speaker is None:
            log.info("voice %s not embedded: this worker has no speaker model (VOXFARM_SPEAKER_MODEL)", voice_id)
            return
        try:
            with storage_errors():
                self.speaker.embed(voice_id)
        except Exception as exc:
            if is_outage(exc):
                raise RetryLater(f"embedding voice {voice_id}: {exc}", countdown=self.backoff(retries)) from exc
            raise

    # -- finalization --------------------------------------------------------------------------
    def finalize_job(self, job_id: str, audio=None, retries: int = 0) -> None:
        self._wait_booted()
        with self.held.hold(self.held.jobs, job_id) as taken:
            if taken:  # else a duplicate message while a task here finalizes it
                self.finalizer(job_id, audio, retries)
