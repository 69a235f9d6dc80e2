"""espeak-ng through the ``espeakng-loader`` wheel (its shared library and data; no apt, no binary).

espeak-ng keeps global state inside the library, so one synthesis runs at a time per process,
behind a module-level lock; a "batch" renders its items one after another.  It still batches
well end to end: the worker amortises DB claims and uploads around it, and it is fast (two
sentences in ~5 ms here, about 500x real time).
"""

from __future__ import annotations

import ctypes
import os
import threading

import numpy as np

from core.engines import ENGINES
from core.text.chunking import clean_tags
from worker.engines.base import BatchStats, Engine, RenderRequest, RenderResult

_LOCK = threading.Lock()
_LIB: ctypes.CDLL | None = None
_RATE = 0
_BUF: list[np.ndarray] = []

_AUDIO_OUTPUT_SYNCHRONOUS = 2
_ESPEAK_RATE = 1
_ESPEAK_PITCH = 3
_CALLBACK = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.c_void_p)


def _on_audio(wav, count, _events):  # called by espeak from inside espeak_Synth
    if count > 0:
        _BUF.append(np.ctypeslib.as_array(wav, shape=(count,)).copy())
    return 0


_CALLBACK_REF = _CALLBACK(_on_audio)  # keep a reference: ctypes must not free it


def _init() -> tuple[ctypes.CDLL, int]:
    global _LIB, _RATE
    if _LIB is None:
        import espeakng_loader

        lib = ctypes.CDLL(espeakng_loader.get_library_path())
        data_parent = os.path.dirname(espeakng_loader.get_data_path())
        lib.espeak_Initialize.restype = ctypes.c_int
        rate = lib.espeak_Initialize(_AUDIO_OUTPUT_SYNCHRONOUS, 0, data_parent.encode(), 0)
        if rate <= 0:
            raise RuntimeError("espeak-ng failed to initialise")
        lib.espeak_SetSynthCallback(_CALLBACK_REF)
        _LIB, _RATE = lib, rate
    return _LIB, _RATE


# Public handles for other users of the same library (IPA phonemes for piper and kokoro).
LOCK = _LOCK


def library() -> ctypes.CDLL:
    """The initialised library; call with ``LOCK`` held."""
    return _init()[0]


class EspeakEngine(Engine):
    spec = ENGINES["espeak"]

    def load(self) -> None:
        with _LOCK:
            _, rate = _init()
        if rate != self.spec.sample_rate:
            raise RuntimeError(f"espeak-ng runs at {rate} Hz, the registry says {self.spec.sample_rate}")
        self.loaded = True

    def _synth(self, lib: ctypes.CDLL, request: RenderRequest) -> RenderResult:
        params = {**self.spec.defaults, **request.params}
        if lib.espeak_SetVoiceByName(str(params["language"]).encode()) != 0:
            return RenderResult(error=f"espeak-ng has no voice {params['language']!r}")
        lib.espeak_SetParameter(_ESPEAK_RATE, int(params["speed"]), 0)
        lib.espeak_SetParameter(_ESPEAK_PITCH, int(params["pitch"]), 0)
        text = clean_tags(request.text).encode("utf-8")
        _BUF.clear()
        status = lib.espeak_Synth(text, len(text) + 1, 0, 0, 0, 0, None, None)
        lib.espeak_Synchronize()
        if status != 0:
            return RenderResult(error=f"espeak-ng synthesis failed with status {status}")
        audio = (np.concatenate(_BUF) if _BUF else np.zeros(0, np.int16)).astype(np.float32) / 32768.0
        _BUF.clear()
        if audio.size == 0:
            return RenderResult(error="espeak-ng produced no audio for this text")
        return RenderResult(audio=audio, steps=audio.size)

    def generate_batch(self, requests: list[RenderRequest]) -> list[RenderResult]:
        if not self.loaded:
            raise RuntimeError("engine not loaded")
        results = []
        with _LOCK:
            lib, _ = _init()
            for request in requests:
                results.append(self._synth(lib, request))
        steps = sum(r.steps for r in results)
        self.last_stats = BatchStats(len(requests), steps, steps)  # sequential: no padding
        return results

    def batch_key(self, request: RenderRequest) -> str:
        return "espeak"  # items are rendered one by one: any mix may share a batch
