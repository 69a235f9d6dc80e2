"""Text -> espeak-ng IPA, clause by clause with the punctuation kept (what Piper and Kokoro read).

espeak-ng's ``espeak_TextToPhonemes`` returns one clause per call and drops the punctuation that
ended it, but both models were trained on phoneme strings that keep it ("həlˈoʊ, wˈɜːld!"): the
pauses and intonation come from those marks.  So the text is cut after clause punctuation here,
each clause is phonemized, and its punctuation is put back.  The library is process-global, so
this shares the espeak engine's lock (worker/engines/espeak.py).
"""

from __future__ import annotations

import ctypes
import re

from voxfarm.core.text.lexicon import phoneme_segments
from voxfarm.worker.engines.espeak import LOCK, library

_CHARS_UTF8 = 1
_PHONEMES_IPA = 0x02  # bit 1: IPA as UTF-8 (0 would give espeak's ASCII names)
# a clause ends at punctuation followed by a space or the end ("3.5" and "e.g" stay whole)
_CLAUSE = re.compile(r"(.*?)([.,;:!?\u2026]+)(?=\s|$)|(.+?)$", re.DOTALL)
_BEFORE_MARK = re.compile(r"\s+([.,;:!?\u2026])")  # "hɚmˈaɪəni , sˈɛd" -> "hɚmˈaɪəni, sˈɛd"


def _clause(lib: ctypes.CDLL, text: str) -> str:
    buf = ctypes.create_string_buffer(text.encode("utf-8"))
    ptr = ctypes.c_void_p(ctypes.addressof(buf))
    pieces = []
    while ptr.value:
        out = lib.espeak_TextToPhonemes(ctypes.byref(ptr), _CHARS_UTF8, _PHONEMES_IPA)
        if out:
            pieces.append(out.decode("utf-8").strip())
    return " ".join(p for p in pieces if p)


def ipa(text: str, voice: str = "en-us") -> str:
    """IPA for ``text`` in espeak-ng voice ``voice``; ``ValueError`` if espeak has no such voice.
    A lexicon's phoneme mark (``⟪grapheme|ipa⟫``, core/text/lexicon.py) is passed through as is."""
    segments = phoneme_segments(text)
    if any(kind == "ipa" for kind, _ in segments):
        parts = [value.strip() if kind == "ipa" else _ipa(value, voice) for kind, value in segments]
        return _BEFORE_MARK.sub(r"\1", " ".join(p for p in parts if p)).strip()
    return _ipa(text, voice)


def _ipa(text: str, voice: str) -> str:
    with LOCK:
        lib = library()
        lib.espeak_TextToPhonemes.restype = ctypes.c_char_p
        lib.espeak_TextToPhonemes.argtypes = [ctypes.POINTER(ctypes.c_void_p), ctypes.c_int, ctypes.c_int]
        if lib.espeak_SetVoiceByName(voice.encode()) != 0:
            raise ValueError(f"espeak-ng has no voice {voice!r}")
        parts = []
        for m in _CLAUSE.finditer(text.strip()):
            body = (m.group(1) if m.group(2) else m.group(3)) or ""
            phonemes = _clause(lib, body) if body.strip() else ""
            parts.append(phonemes + (m.group(2) or ""))
    return " ".join(p for p in parts if p).strip()
