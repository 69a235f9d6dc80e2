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
import hashlib
import logging
import socket
import threading
import time
import uuid
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass

from sqlalchemy.exc import DBAPIError, OperationalError

from voxfarm.core.audio.arrays import decode_bytes, encode
from voxfarm.core.audio.quality import check_chunk
from voxfarm.core.db import Database
from voxfarm.core.engines.registry import ENGINES, queue_for
from voxfarm.core.fleet import metrics
from voxfarm.core.jobs import dispatch
from voxfarm.core.jobs.lanes import is_interactive
from voxfarm.core.render import faults
from voxfarm.core.render.failures import infra_delay
from voxfarm.core.render.leases import (
    ChunkResult,
    ChunkWork,
    claim_chunk,
    complete_chunk,
    defer_chunk,
    fail_chunk,
    live_jobs,
    mark_on_engine,
    queue_finalize,
    release_chunk,
)
from voxfarm.core.render.takes import Kept, QualityFailed, Take, choose_take
from voxfarm.core.settings import Settings
from voxfarm.core.state.lifecycle import release_stale_leases
from voxfarm.core.state.outbox import RENDER_TASK, Publisher, unit_of_work
from voxfarm.core.storage import ObjectStore, open_store
from voxfarm.worker.batcher import BatcherClosed, Dropped, ItemFailed, MicroBatcher
from voxfarm.worker.engines.base import Engine, RenderRequest, RenderResult, create_engine
from voxfarm.worker.finalizing import finalize
from voxfarm.worker.heartbeat import Heartbeat
from voxfarm.worker.outcomes import BATCH_WAIT_S, BOOT_WAIT_S, HandBack, RetryLater, is_outage, storage_errors
from voxfarm.worker.speaker import SpeakerEncoder, SpeakerGates
from voxfarm.worker.voices import VoiceCache

log = logging.getLogger(__name__)


class WorkerState(enum.StrEnum):
    """A worker process's life: built, loading its model, taking work, handing work back, gone."""

    configured = "configured"
    booting = "booting"
    serving = "serving"
    draining = "draining"  # warm shutdown: the running batch finishes, buffered requests go back
    stopped = "stopped"


@dataclass
class _Item:
    job_id: str
    request: RenderRequest
    solo: bool = False  # a chunk that already crashed a worker once renders alone (see boot)
    urgent: bool = False  # an interactive job's chunk: leads the next batch (core/jobs/lanes.py)


def attribute_batch_time(results: list[RenderResult], seconds: float, rate: int, engine: str,
                         worker: str) -> None:
    """Split one engine call's wall time between its items in proportion to the audio each got
    (a 2 s line batched with a 20 s paragraph costs a tenth of it), and record the batch metrics."""
    samples = [r.audio.size if r.ok else 0 for r in results]
    total = sum(samples)
    for r, n in zip(results, samples, strict=True):
        r.engine_s = seconds * (n / total if total else 1 / len(results))
    metrics.record_batch(engine, worker, len(results), seconds, total / rate)


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
        self._booted = threading.Event()
        # what live tasks of this process are working on right now: the heartbeat renews only
        # these leases, so a task that died (an unexpected error) lets its lease lapse
        self._held_lock = threading.Lock()
        self.held_chunks: set[str] = set()
        self.held_jobs: set[str] = set()

    # -- lifecycle -----------------------------------------------------------------------------
    def boot(self, publisher: Publisher) -> None:
        self.state = WorkerState.booting
        self.db = Database(self.settings)
        self.store = open_store(self.settings)
        self.publisher = publisher
        if self.settings.speaker_model:  # before the engine: a bad path fails the boot in a second
            encoder = SpeakerEncoder(self.settings.speaker_model, self.settings.speaker_device).load()
            self.speaker = SpeakerGates(encoder, self.db, self.store, self.settings)
        if self.engine_name:
            batch = ENGINES[self.engine_name].checked_batch(self.settings)  # before a minutes-long load
            self.engine = create_engine(self.engine_name, self.settings)
            self.engine.load()
            # the fault suite's poison hook, when VOXFARM_FAULT names one (core/render/faults.py)
            self.engine.generate_batch = faults.engine_call(self.engine.generate_batch, self.settings.fault)
            self.voices = VoiceCache(self.engine, self.store)
            self.batcher = MicroBatcher(
                self._run_batch, max_batch_size=batch.max_batch_size, max_wait_ms=batch.max_wait_ms,
                group_key=self._group_key, length=lambda it: self.engine.expected_length(it.request),
                is_error=lambda r: r.error, admit=self._admit, on_batch=self._on_batch,
                urgent=lambda it: it.urgent, name=f"batcher-{self.engine_name}",
                max_in_flight=self.engine.max_in_flight).start()
        metrics.serve(self.settings.metrics_port)
        with self.db.session() as s:
            reclaimed = release_stale_leases(s, self.name + "#", self.worker_id)
        if reclaimed and self.engine_name:
            publisher.publish_many([(RENDER_TASK, [cid], queue_for(self.engine_name)) for cid in reclaimed])
            log.warning("reclaimed %d chunks left running by a previous %s", len(reclaimed), self.name)
        self.state = WorkerState.serving
        self.heartbeat = Heartbeat(self).start()  # its first beat writes the worker row as serving
        self._booted.set()
        log.info("worker %s ready: engine=%s model=%s device=%s", self.worker_id, self.engine_name,
                 self.engine.model_id if self.engine else "-", self.engine.device if self.engine else "-")

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
    def _run_batch(self, items: list[_Item]) -> list[RenderResult]:
        try:  # from here a death of this process costs these chunks (and only these) an attempt
            with self.db.session() as s:
                mark_on_engine(s, [it.request.key for it in items], self.worker_id)
        except Exception:  # noqa: BLE001 - the DB is down: render anyway (a death then costs nothing)
            log.warning("could not mark %d chunks as on the engine", len(items), exc_info=True)
        started = time.perf_counter()
        results = self.engine.generate_batch([it.request for it in items])
        attribute_batch_time(results, time.perf_counter() - started, self.engine.spec.sample_rate,
                             self.engine_name, self.name)
        return results

    def _group_key(self, item: _Item):
        # suspects (second attempt or later) never share a batch: if an input kills the process,
        # only that input keeps paying attempts, not its batch-mates
        return ("solo", item.request.key) if item.solo else self.engine.batch_key(item.request)

    def _admit(self, items: list[_Item]) -> set[int]:
        with self.db.session() as s:
            live = live_jobs(s, list({it.job_id for it in items}))
        return {i for i, it in enumerate(items) if it.job_id in live}

    def _on_batch(self, size: int, seconds: float) -> None:
        self.heartbeat.record_batch(size, seconds)

    def held(self) -> tuple[list[str], list[str]]:
        with self._held_lock:
            return list(self.held_chunks), list(self.held_jobs)

    def _hold(self, kind: set[str], key: str, on: bool) -> None:
        with self._held_lock:
            (kind.add if on else kind.discard)(key)

    # -- rendering -----------------------------------------------------------------------------
    def _wait_booted(self) -> None:
        if not self._booted.wait(BOOT_WAIT_S):
            raise RetryLater(f"worker {self.worker_id} has not booted after {BOOT_WAIT_S:.0f} s", countdown=5.0)

    def backoff(self, retries: int) -> float:
        return infra_delay(retries, self.settings.infra_retry_cap_s)

    def render_chunk(self, chunk_id: str, retries: int = 0) -> None:
        """Render one chunk.  ``retries``: how many times this message was retried (the backoff)."""
        self._wait_booted()
        with self._held_lock:
            if chunk_id in self.held_chunks:  # a duplicate message while a task here renders it
                return
            self.held_chunks.add(chunk_id)
        try:
            self._render_chunk(chunk_id, retries)
        finally:
            self._hold(self.held_chunks, chunk_id, False)

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
            result, audio = self._produce(work)
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

    def _produce(self, work: ChunkWork) -> tuple[ChunkResult, object]:
        rate = self.engine.spec.sample_rate
        with storage_errors():
            gate = self.speaker.for_voice(work.voice, rate) if self.speaker and self.engine.spec.clones_voices else None
            try:
                data = self.store.open_bytes(work.cache_key)
            except FileNotFoundError:
                data = None
        if data is not None:  # content-addressed cache hit: rendered before, by any job
            audio, _ = decode_bytes(data)
            similarity = gate.similarity(audio) if gate else None
            return ChunkResult(hashlib.sha256(data).hexdigest(), audio.size / rate, None, True,
                               speaker_similarity=similarity,
                               speaker_flagged=similarity is not None and similarity < gate.threshold), audio
        with storage_errors():
            voice = self.voices.get(work.voice) if work.voice else None
        quality = (lambda audio: check_chunk(audio, rate, work.expected_s)) if self.settings.quality_gate else None
        kept = choose_take(lambda seed: self._take(work, seed, voice), seed=work.seed, job_seed=work.job_seed,
                           text=work.text, retries=self.settings.quality_retries, quality=quality, speaker=gate)
        flac, _ = encode(kept.take.audio, rate, "flac")
        # write-once: two chunks with the same content key (a repeated sentence, a resubmitted
        # book) may render concurrently; the first stored object wins and both record it
        with storage_errors():
            info, stored = self.store.put_bytes_if_absent(work.cache_key, flac, "audio/flac")
        audio, _ = decode_bytes(stored)  # finalize from what is stored, whichever path runs it
        return self._result(info.sha256, audio.size / rate, kept), audio

    def _take(self, work: ChunkWork, seed: int, voice) -> Take:
        request = RenderRequest(work.chunk_id, work.text, work.params, seed, voice)
        item = _Item(work.job_id, request, solo=work.attempts > 1, urgent=is_interactive(work.priority, self.settings))
        future = self.batcher.submit(item)
        try:
            outcome = future.result(timeout=BATCH_WAIT_S)
        except FutureTimeout:
            raise RuntimeError(f"the engine gave no result within {BATCH_WAIT_S:.0f} s") from None
        return Take(outcome.result.audio, outcome.batch_size, outcome.result.engine_s)

    @staticmethod
    def _result(sha256: str, duration_s: float, kept: Kept) -> ChunkResult:
        similarity = None if kept.similarity is None else round(kept.similarity, 4)
        return ChunkResult(sha256, duration_s, kept.take.batch_size, False, kept.retries, kept.engine_s,
                           take_seed=kept.seed, speaker_similarity=similarity, speaker_flagged=kept.flagged)

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
        with self._held_lock:
            if job_id in self.held_jobs:  # a duplicate message while a task here finalizes it
                return
            self.held_jobs.add(job_id)
        try:
            finalize(self, job_id, audio, retries)
        finally:
            self._hold(self.held_jobs, job_id, False)
