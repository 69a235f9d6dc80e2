"""Producing a chunk's audio on this worker: the content cache, the take loop through the
micro-batcher, and the write-once store of the kept take.

``Producer.produce`` is what the render path calls once it holds a chunk's lease; it never touches
the chunk's status (worker/runtime.py records the outcome under the lease).
"""

from __future__ import annotations

import hashlib
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass

from voxfarm.core.audio.arrays import decode_bytes, encode
from voxfarm.core.audio.quality import check_chunk
from voxfarm.core.fleet import metrics
from voxfarm.core.jobs.lanes import is_interactive
from voxfarm.core.render.leases import ChunkResult, ChunkWork
from voxfarm.core.render.readback import Verdict, result_fields, skipped
from voxfarm.core.render.takes import Kept, Take, choose_take
from voxfarm.core.settings import Settings
from voxfarm.core.storage import ObjectStore
from voxfarm.worker.batcher import MicroBatcher
from voxfarm.worker.engines.base import Engine, RenderRequest, RenderResult
from voxfarm.worker.outcomes import BATCH_WAIT_S, storage_errors
from voxfarm.worker.readback import NO_RECOGNISER, Listener
from voxfarm.worker.speaker import SpeakerGates
from voxfarm.worker.voices import VoiceCache


@dataclass
class BatchItem:
    """One take waiting in the micro-batcher."""

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


class Producer:
    def __init__(self, settings: Settings, engine: Engine, batcher: MicroBatcher, store: ObjectStore,
                 voices: VoiceCache | None, speaker: SpeakerGates | None, readback: Listener | None = None) -> None:
        self.settings, self.engine, self.batcher, self.store = settings, engine, batcher, store
        self.voices, self.speaker, self.readback = voices, speaker, readback

    def _listen(self, work: ChunkWork, rate: int):
        """(the read-back of this chunk's takes, or None; the verdict to record when it is skipped)."""
        if not work.readback:
            return None, None
        hear = self.readback.for_chunk(work.text, work.engine, work.params, rate) if self.readback else NO_RECOGNISER
        return (None, skipped(hear)) if isinstance(hear, str) else (hear, None)

    def produce(self, work: ChunkWork) -> tuple[ChunkResult, object]:
        """The chunk's stored result and its decoded audio: a cache hit, or the kept take."""
        rate = self.engine.spec.sample_rate
        with storage_errors():
            cloning = self.speaker is not None and self.engine.spec.clones_voices
            gate = self.speaker.for_voice(work.voice, rate) if cloning else None
            try:
                data = self.store.open_bytes(work.cache_key)
            except FileNotFoundError:
                data = None
        hear, skip = self._listen(work, rate)
        if data is not None:  # content-addressed cache hit: rendered before, by any job (heard, never re-rendered)
            audio, _ = decode_bytes(data)
            similarity = gate.similarity(audio) if gate else None
            heard: Verdict | None = hear(audio) if hear else skip
            return ChunkResult(hashlib.sha256(data).hexdigest(), audio.size / rate, None, True,
                               speaker_similarity=similarity,
                               speaker_flagged=similarity is not None and similarity < gate.threshold,
                               **result_fields(heard, heard is not None and not heard.passed)), audio
        with storage_errors():
            voice = self.voices.get(work.voice) if work.voice else None
        quality = (lambda audio: check_chunk(audio, rate, work.expected_s)) if self.settings.quality_gate else None
        kept = choose_take(lambda seed: self._take(work, seed, voice), seed=work.seed, job_seed=work.job_seed,
                           text=work.text, retries=self.settings.quality_retries, quality=quality, speaker=gate,
                           readback=hear)
        flac, _ = encode(kept.take.audio, rate, "flac")
        # write-once: two chunks with the same content key (a repeated sentence, a resubmitted
        # book) may render concurrently; the first stored object wins and both record it
        with storage_errors():
            info, stored = self.store.put_bytes_if_absent(work.cache_key, flac, "audio/flac")
        audio, _ = decode_bytes(stored)  # finalize from what is stored, whichever path runs it
        return self._result(info.sha256, audio.size / rate, kept, skip), audio

    def _take(self, work: ChunkWork, seed: int, voice) -> Take:
        request = RenderRequest(work.chunk_id, work.text, work.params, seed, voice)
        item = BatchItem(work.job_id, request, solo=work.attempts > 1,
                         urgent=is_interactive(work.priority, self.settings))
        future = self.batcher.submit(item)
        try:
            outcome = future.result(timeout=BATCH_WAIT_S)
        except FutureTimeout:
            raise RuntimeError(f"the engine gave no result within {BATCH_WAIT_S:.0f} s") from None
        return Take(outcome.result.audio, outcome.batch_size, outcome.result.engine_s)

    @staticmethod
    def _result(sha256: str, duration_s: float, kept: Kept, skip: Verdict | None = None) -> ChunkResult:
        similarity = None if kept.similarity is None else round(kept.similarity, 4)
        return ChunkResult(sha256, duration_s, kept.take.batch_size, False, kept.retries, kept.engine_s,
                           take_seed=kept.seed, speaker_similarity=similarity, speaker_flagged=kept.flagged,
                           **result_fields(kept.heard or skip, kept.readback_flagged))
