"""An engine call's results one by one, each timed (worker/runtime.py hands them to the batcher).

An ``item_by_item`` engine (piper, kokoro, espeak, tone) yields each result as soon as it exists, so
the batcher resolves that chunk's future -- and its audio reaches a streaming client -- while the
batch-mates still render; each item's ``engine_s`` is then its own wall time.  A batched decoder
yields everything at the end of the call, its wall time split in proportion to the audio each got.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

from voxfarm.core.fleet import metrics
from voxfarm.worker.engines.base import Engine, RenderRequest, RenderResult
from voxfarm.worker.producing import attribute_batch_time


def timed_results(engine: Engine, requests: list[RenderRequest], engine_name: str,
                  worker: str) -> Iterator[RenderResult]:
    started = time.perf_counter()
    # a generate_batch set on the instance (the fault suite's poison hook, a test's wrapper) is obeyed
    if not engine.item_by_item or "generate_batch" in vars(engine):
        results = engine.generate_batch(requests)
        attribute_batch_time(results, time.perf_counter() - started, engine.spec.sample_rate, engine_name, worker)
        yield from results
        return
    last, samples = started, 0
    for result in engine.iter_batch(requests):
        now = time.perf_counter()
        result.engine_s, last = now - last, now
        samples += result.audio.size if result.ok else 0
        yield result
    metrics.record_batch(engine_name, worker, len(requests), last - started, samples / engine.spec.sample_rate)
