"""Prepared-voice cache: memory (LRU), then storage beside the voice, then the engine.

Dia encodes a 10 s prompt into codec tokens through the DAC encoder -- work worth doing once per
voice, not once per chunk.  The first worker to need a voice stores the tokens under
``tenants/<t>/voices/<v>/prepared/<engine>-<model fingerprint>.bin``; every other worker, and
this one after a restart, loads them from there.
"""

from __future__ import annotations

import threading
from collections import OrderedDict

from voxfarm.core.audio.arrays import decode_bytes
from voxfarm.core.render.leases import VoiceRef
from voxfarm.core.storage import ObjectStore, keys
from voxfarm.worker.engines.base import Engine, PreparedVoice


class VoiceCache:
    def __init__(self, engine: Engine, store: ObjectStore, capacity: int = 64) -> None:
        self.engine, self.store, self.capacity = engine, store, capacity
        self._items: OrderedDict[tuple[str, str], PreparedVoice] = OrderedDict()
        self._lock = threading.Lock()
        self.encoded = 0  # how many times this process ran the engine's prompt encoder

    def get(self, ref: VoiceRef) -> PreparedVoice:
        key = (ref.id, ref.normalized_sha256)
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
        voice = self._load(ref)
        with self._lock:
            self._items[key] = voice
            while len(self._items) > self.capacity:
                self._items.popitem(last=False)
        return voice

    def _load(self, ref: VoiceRef) -> PreparedVoice:
        # the fingerprint ties cached tokens to both the model weights and this exact prompt
        tag = f"{self.engine.fingerprint}-{ref.normalized_sha256[:16]}"
        stored = keys.voice_prepared(ref.tenant_id, ref.id, self.engine.name, tag)
        try:
            return self.engine.voice_from_bytes(self.store.open_bytes(stored), ref.transcript)
        except (FileNotFoundError, ValueError):
            pass
        audio, rate = decode_bytes(self.store.get_bytes(ref.normalized_key, expect_sha256=ref.normalized_sha256))
        voice = self.engine.prepare_voice(audio, rate, ref.transcript)
        self.encoded += 1
        self.store.put_bytes(stored, self.engine.voice_to_bytes(voice))
        return voice
