"""Issue 31: an item-by-item engine releases each chunk as soon as it is rendered, not at the end of
its batch, so a streamed request's first audio leaves while its batch-mates still render.

No timers: the engine holds the last chunk on an event the test controls, and the first chunk's
bytes must reach the stream's reader while that event is still unset."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from voxfarm.core.audio.stitch import Pauses
from voxfarm.core.db import Database
from voxfarm.core.engines.registry import ENGINES
from voxfarm.core.migrate import upgrade
from voxfarm.core.models import Chunk
from voxfarm.core.settings import Settings
from voxfarm.core.speech.stream import StreamSpec, stream_audio
from voxfarm.core.storage import open_store
from voxfarm.worker.batcher import MicroBatcher
from voxfarm.worker.engines.base import Engine, RenderRequest, RenderResult, create_engine
from voxfarm.worker.runtime import Runtime

from helpers import ListPublisher, submit_job_direct, tone, wait_for

BOOK = "# A\nThe first part.\n\n# B\nThe second part.\n\n# C\nThe third part."


class Gated(Engine):
    """Renders item by item; an item whose key is ``held`` waits for ``gate``."""

    spec = ENGINES["espeak"]
    item_by_item = True

    def __init__(self, settings) -> None:
        super().__init__(settings)
        self.gate, self.held, self.rendered = threading.Event(), None, []

    def load(self) -> None:
        self.loaded = True

    def render_one(self, request: RenderRequest) -> RenderResult:
        if request.key == self.held:
            self.gate.wait(60)
        audio = tone(len(request.text) / self.spec.chars_per_second, self.spec.sample_rate)
        self.rendered.append(request.key)
        return RenderResult(audio=audio, steps=audio.size)

    def generate_batch(self, requests: list[RenderRequest]) -> list[RenderResult]:
        return list(self.iter_batch(requests))


@pytest.fixture
def gated_farm(tmp_path):
    settings = Settings(data_dir=tmp_path / "var", outbound_allowlist=["127.0.0.1/32"])
    upgrade(settings)
    db = Database(settings)
    db.test_settings, db.test_store = settings, open_store(settings)
    engine = Gated(settings)
    engine.load()
    rt = Runtime(settings, "espeak", name="unit")
    yield rt, db, engine
    engine.gate.set()
    if rt.batcher is not None:
        rt.batcher.close()
    db.dispose()


def test_the_first_chunk_streams_before_the_last_chunk_of_its_batch_renders(gated_farm):
    rt, db, engine = gated_farm
    job_id, chunks = submit_job_direct(db, BOOK, text_format="markdown", webhook=None,
                                       priority=db.test_settings.speech_priority)
    assert len(chunks) >= 3
    # every chunk in one batch: it forms when the last arrives (the wait is only an upper bound)
    rt.attach(db, db.test_store, ListPublisher(), engine, max_batch_size=len(chunks), max_wait_ms=60_000)
    rt._booted.set()
    engine.held = chunks[-1]
    workers = []
    for n, chunk_id in enumerate(chunks, start=1):  # one task thread per chunk, in order, as the pool runs them
        workers.append(threading.Thread(target=rt.render_chunk, args=(chunk_id,), daemon=True))
        workers[-1].start()
        wait_for(lambda n=n: rt.batcher.queue.qsize() + len(rt.batcher._buffer) >= n or rt.batcher.on_engine,
                 interval=0.01, what=f"{n} chunks at the batcher")
    stream = stream_audio(db, db.test_store, StreamSpec(job_id, "pcm", engine.spec.sample_rate),
                          Pauses(0, 0, 0, 10, 0), poll_s=0.01, timeout_s=20)
    try:
        first = b""
        for data in stream:
            if data:
                first = data
                break
        # the first audio is out, and the last chunk of the same batch has not rendered yet
        assert first, "the stream ended without audio"
        assert chunks[-1] not in engine.rendered and chunks[0] in engine.rendered
        assert list(rt.batcher.batches) == []  # the batch is still on the engine
        with db.session() as s:
            assert s.get(Chunk, chunks[-1]).status != "done"
        engine.gate.set()
        rest = b"".join(stream)
    finally:
        engine.gate.set()
        stream.close()
    for w in workers:
        w.join(60)
    assert list(rt.batcher.batches) == [len(chunks)]  # all of them shared one engine call
    pcm = np.frombuffer(first + rest, "<i2")
    assert pcm.size > 0 and engine.rendered[-1] == chunks[-1]


def test_a_batch_releases_each_result_as_the_engine_yields_it():
    """The batcher resolves item k's future before the engine renders item k+1."""
    seen_done = []
    futures = []

    def run(requests):
        for i, r in enumerate(requests):
            if i:
                seen_done.append(futures[i - 1].done())
            yield r * 10

    batcher = MicroBatcher(run, max_batch_size=3, max_wait_ms=60_000).start()
    try:
        futures.extend(batcher.submit(i) for i in range(3))
        assert [f.result(30).result for f in futures] == [0, 10, 20]
    finally:
        batcher.close()
    assert seen_done == [True, True] and list(batcher.batches) == [3]


def test_the_tone_engine_yields_item_by_item_with_the_batch_results(tmp_path):
    engine = create_engine("tone", Settings(data_dir=tmp_path, engines=["tone"]))
    engine.load()
    requests = [RenderRequest(f"k{i}", f"Sentence number {i}.", seed=i) for i in range(3)]
    before = []
    engine.before_item = lambda r: before.append(r.key)
    got = []
    for result in engine.iter_batch(requests):
        got.append(result)
        assert len(before) == len(got)  # item k+1 has not started when item k is handed over
    batch = engine.generate_batch(requests)
    assert all(np.array_equal(a.audio, b.audio) for a, b in zip(got, batch, strict=True))
