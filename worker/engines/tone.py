"""``tone``: a deterministic, CPU-cheap stand-in engine for tests and benchmarks (never a voice).

It renders a text as a chain of short tones, one per character, whose pitches come from a hash of
the character, its position and the seed: the same request gives bit-identical audio in any
process, alone or in any batch (``deterministic``), different texts give different audio, and the
length follows the registry's speaking rate so the quality gate treats it as plausible speech.

It exists so that the fault suite can compare every result with a fault-free render of the same
request (espeak-ng is not bit-reproducible, see core/engines/registry.py, and Dia is slow on CPU):

* ``VOXFARM_TONE_BATCH_MS`` sleeps that long per batch, a stand-in for a forward pass, so a worker
  can be killed while a batch is "on the engine";
* ``VOXFARM_TONE_RENDER_LOG`` appends one JSON line per rendered item (text hash, seed, pid) --
  a record the harness reads itself to count renders, independent of the farm's database.

A farm serves it only when ``VOXFARM_ENGINES`` lists it.
"""

from __future__ import annotations

import hashlib
import json
import os
import time

import numpy as np

from voxfarm.core.engines.registry import ENGINES
from voxfarm.worker.engines.base import Engine, RenderRequest, RenderResult

_SEGMENT_FADE = 0.2  # fraction of each character's tone spent fading in and out (no clicks)


def render_tone(text: str, seed: int, rate: int, chars_per_second: float) -> np.ndarray:
    """The waveform for ``text`` and ``seed`` (float32 in [-0.4, 0.4])."""
    chars = text.strip() or " "
    per_char = max(1, int(round(rate / chars_per_second)))
    t = np.arange(per_char, dtype=np.float64) / rate
    fade = max(1, int(per_char * _SEGMENT_FADE))
    envelope = np.ones(per_char)
    envelope[:fade] = np.linspace(0.0, 1.0, fade)
    envelope[-fade:] = np.linspace(1.0, 0.0, fade)
    pieces = []
    for i, ch in enumerate(chars):
        digest = hashlib.sha256(f"{seed}:{i}:{ch}".encode()).digest()
        freq = 110.0 + int.from_bytes(digest[:2], "big") % 770  # 110-880 Hz
        amp = 0.0 if ch.isspace() else 0.25 + (digest[2] / 255.0) * 0.15
        pieces.append(amp * envelope * np.sin(2 * np.pi * freq * t))
    return np.concatenate(pieces).astype(np.float32)


class ToneEngine(Engine):
    spec = ENGINES["tone"]

    def load(self) -> None:
        self.loaded = True

    def _log(self, request: RenderRequest) -> None:
        path = self.settings.tone_render_log
        if not path:
            return
        line = json.dumps({"text_sha256": hashlib.sha256(request.text.encode()).hexdigest(), "seed": request.seed,
                           "key": request.key, "pid": os.getpid(), "t": time.time()}) + "\n"
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, line.encode())  # one write under O_APPEND: lines from many processes never mix
        finally:
            os.close(fd)

    def _one(self, request: RenderRequest) -> RenderResult:
        unknown = sorted(k for k, v in request.params.items() if v is not None and k not in self.spec.params)
        if unknown:
            return RenderResult(error=f"tone does not take {', '.join(unknown)}")
        audio = render_tone(request.text, request.seed, self.spec.sample_rate, self.spec.chars_per_second)
        self._log(request)
        return RenderResult(audio=audio, steps=audio.size)

    item_by_item = True  # item by item: each result is handed over as soon as it exists
    # a test's hook, called with each request before it renders (e.g. to hold an item on a gate)
    before_item = None

    def render_one(self, request: RenderRequest) -> RenderResult:
        if self.before_item is not None:
            self.before_item(request)
        return self._one(request)

    def iter_batch(self, requests: list[RenderRequest]):
        if self.loaded and self.settings.tone_batch_ms > 0:
            time.sleep(self.settings.tone_batch_ms / 1000.0)
        yield from super().iter_batch(requests)

    def generate_batch(self, requests: list[RenderRequest]) -> list[RenderResult]:
        return list(self.iter_batch(requests))

    def batch_key(self, request: RenderRequest) -> str:
        return "tone"  # nothing batch-wide: any mix may share a batch
