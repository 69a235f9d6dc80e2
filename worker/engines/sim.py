"""``sim``: a stand-in GPU engine for scale-out benchmarks and tests (registered, never a default).

It models a batched decoder's cost as ``a + b * B`` seconds for a batch of B items (fixed
per-call overhead plus per-item work) and *sleeps* that long instead of computing, so dozens of
"GPU workers" fit on a 2-core machine and a benchmark measures the farm (claims, storage, the
broker, the database), not the model.  Its audio is a quiet tone whose length follows the text
(the planner's speaking rate), derived from the seed alone: deterministic, bit-identical alone or
batched, and cheap to check.  A text containing ``ERROR_MARKER`` gets an item error, as a model
rejecting one input would (the contract test checks that the error stays with its item).
"""

from __future__ import annotations

import time

import numpy as np

from voxfarm.core.engines.registry import ENGINES
from voxfarm.core.jobs.planning import expected_seconds
from voxfarm.worker.engines.base import BatchStats, Engine, RenderRequest, RenderResult

ERROR_MARKER = "<sim-error>"


class SimEngine(Engine):
    spec = ENGINES["sim"]

    def load(self) -> None:
        self.a, self.b = self.settings.sim_batch_cost_s
        self.loaded = True

    def _audio(self, request: RenderRequest) -> np.ndarray:
        rate = self.spec.sample_rate
        n = int(expected_seconds(request.text, self.spec) * rate)
        freq = 110 + (request.seed % 440)  # the seed picks the pitch: distinct items, distinct audio
        t = np.arange(n, dtype=np.float64) / rate
        return (0.1 * np.sin(2 * np.pi * freq * t)).astype(np.float32)

    def generate_batch(self, requests: list[RenderRequest]) -> list[RenderResult]:
        time.sleep(self.a + self.b * len(requests))
        results = [RenderResult(error="the sim model rejects this input") if ERROR_MARKER in r.text
                   else RenderResult(self._audio(r), steps=1) for r in requests]
        self.last_stats = BatchStats(items=len(requests), steps=1, useful_steps=len(requests))
        return results
