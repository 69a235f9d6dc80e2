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

from voxfarm.core.engines.registry import ENGINES
from voxfarm.core.engines.symbols import espeak_mnemonics
from voxfarm.core.text.chunking import clean_tags
from voxfarm.core.text.lexicon import phoneme_segments
from voxfarm.worker.engines.base import Engine, RenderRequest, RenderResult

_LOCK = threading.Lock()
_LIB: ctypes.CDLL | None = None
_RATE = 0
_BUF: list[np.ndarray] = []

_AUDIO_OUTPUT_SYNCHRONOUS = 2
_CHARS_UTF8 = 1  # espeak_Synth flags (speak_lib.h)
_PHONEMES = 0x100  # [[...]] holds phoneme mnemonics
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


class _Voice(ctypes.Structure):  # espeak_VOICE from speak_lib.h
    _fields_ = [("name", ctypes.c_char_p), ("languages", ctypes.c_void_p), ("identifier", ctypes.c_char_p),
                ("gender", ctypes.c_ubyte), ("age", ctypes.c_ubyte), ("variant", ctypes.c_ubyte),
                ("xx1", ctypes.c_ubyte), ("score", ctypes.c_int), ("spare", ctypes.c_void_p)]


def voice_names() -> set[str]:
    """Every lower-case name ``espeak_SetVoiceByName`` accepts for the installed voices (voice
    file names such as ``en-us`` and the language codes the voices declare) and that speaks: the
    wheel lacks some dictionaries (fo, kaa, xex), and those voices give a few ms of noise.
    core/engines/languages.py holds this list as data for the API (which never loads the
    library); a test keeps the two equal."""
    with _LOCK:
        lib, _ = _init()
        lib.espeak_ListVoices.restype = ctypes.POINTER(ctypes.POINTER(_Voice))
        voices = lib.espeak_ListVoices(None)
        candidates: set[str] = set()
        i = 0
        while voices[i]:
            voice = voices[i].contents
            candidates.add(voice.identifier.decode().rsplit("/", 1)[-1].lower())
            ptr = voice.languages  # (priority byte, NUL-terminated code)*, then a 0 priority
            while ctypes.c_ubyte.from_address(ptr).value:
                code = ctypes.string_at(ptr + 1)
                candidates.add(code.decode().lower())
                ptr += 2 + len(code)
            i += 1
        return {name for name in candidates if lib.espeak_SetVoiceByName(name.encode()) == 0 and _speaks(lib)}


def _speaks(lib: ctypes.CDLL) -> bool:
    """Whether the current voice says "one two" for at least 0.1 s (real voices: ~0.5 s)."""
    _BUF.clear()
    lib.espeak_Synth(b"one two", 8, 0, 0, 0, 0, None, None)
    lib.espeak_Synchronize()
    samples = sum(part.size for part in _BUF)
    _BUF.clear()
    return samples >= _RATE // 10
# Public handles for other users of the same library (IPA phonemes for piper and kokoro).
LOCK = _LOCK


def library() -> ctypes.CDLL:
    """The initialised library; call with ``LOCK`` held."""
    return _init()[0]


def _espeak_input(text: str) -> tuple[bytes, int]:
    """The bytes and flags for ``espeak_Synth``: a lexicon's phoneme mark (core/text/lexicon.py) becomes
    ``[[mnemonics]]`` (core/engines/symbols.py writes espeak's phoneme names from IPA), read with
    ``espeakPHONEMES``; any ``[[`` of the text itself is broken up so it stays text."""
    segments = phoneme_segments(text)
    if not any(kind == "ipa" for kind, _ in segments):
        return text.encode("utf-8"), 0  # as before: espeak detects the encoding
    parts = [f" [[{espeak_mnemonics(value)[0]}]] " if kind == "ipa" else value.replace("[[", "[ [")
             for kind, value in segments]
    return "".join(parts).encode("utf-8"), _CHARS_UTF8 | _PHONEMES


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
        text, flags = _espeak_input(clean_tags(request.text))
        _BUF.clear()
        status = lib.espeak_Synth(text, len(text) + 1, 0, 0, 0, flags, None, None)
        lib.espeak_Synchronize()
        if status != 0:
            return RenderResult(error=f"espeak-ng synthesis failed with status {status}")
        audio = (np.concatenate(_BUF) if _BUF else np.zeros(0, np.int16)).astype(np.float32) / 32768.0
        _BUF.clear()
        if audio.size == 0:
            return RenderResult(error="espeak-ng produced no audio for this text")
        return RenderResult(audio=audio, steps=audio.size)

    item_by_item = True  # items are synthesized one after another

    def render_one(self, request: RenderRequest) -> RenderResult:
        with _LOCK:  # per item: a streamed batch releases each result while the next renders
            lib, _ = _init()
            return self._synth(lib, request)

    def generate_batch(self, requests: list[RenderRequest]) -> list[RenderResult]:
        return list(self.iter_batch(requests))

    def batch_key(self, request: RenderRequest) -> str:
        return "espeak"  # items are rendered one by one: any mix may share a batch
