"""espeak-ng IPA phonemes through the ``espeakng-loader`` library (no binary, no GPL wrapper).

ZipVoice's English front end (upstream's "emilia" and "espeak" tokenizers) is espeak-ng's IPA
output split into code points, one token each, with the text's punctuation kept as tokens.
upstream gets that from ``piper_phonemize``; here it is ``espeak_TextToPhonemes`` called through
ctypes on the same library the espeak engine drives.  That call returns one clause at a time
and drops the punctuation that ended it, so the text is split into clauses here and each
clause's closing punctuation is put back after its phonemes (what piper_phonemize does).

The library keeps global state (the current voice), so every call holds the espeak engine's lock.
"""

from __future__ import annotations

import ctypes
import re

from voxfarm.core.text.lexicon import phoneme_segments
from voxfarm.worker.engines.espeak import _LOCK, _init  # one library and one lock per process

_CHARS_UTF8 = 1
_PHONEMES_IPA = 0x02
_CLAUSE = re.compile(r"([^.,;:!?]*)([.,;:!?]*)")
# typographic forms mapped to the ASCII punctuation the token tables hold (upstream does the same)
_PUNCT = str.maketrans({"，": ",", "。": ".", "！": "!", "？": "?", "；": ";", "：": ":", "、": ",",
                        "‘": "'", "’": "'", "“": '"', "”": '"', "…": "."})


def _configure(lib: ctypes.CDLL) -> None:
    lib.espeak_TextToPhonemes.restype = ctypes.c_char_p
    lib.espeak_TextToPhonemes.argtypes = [ctypes.POINTER(ctypes.c_void_p), ctypes.c_int, ctypes.c_int]


def _clause_phonemes(lib: ctypes.CDLL, text: str) -> str:
    buf = ctypes.create_string_buffer(text.encode("utf-8"))
    ptr = ctypes.c_void_p(ctypes.addressof(buf))
    parts = []
    while ptr.value:  # espeak advances the pointer clause by clause and sets it to NULL at the end
        out = lib.espeak_TextToPhonemes(ctypes.byref(ptr), _CHARS_UTF8, _PHONEMES_IPA)
        if out:
            parts.append(out.decode("utf-8").strip())
    return " ".join(p for p in parts if p)


def phonemize(text: str, voice: str = "en-us") -> str:
    """IPA for ``text`` with its clause punctuation kept, e.g. ``"Hello, world."`` ->
    ``"həlˈoʊ, wˈɜːld."``.  Raises ``ValueError`` for a voice espeak-ng does not have.  A lexicon's
    phoneme mark (``⟪grapheme|ipa⟫``, core/text/lexicon.py) is passed through as is."""
    segments = phoneme_segments(text)
    if any(kind == "ipa" for kind, _ in segments):
        parts = [value.strip() if kind == "ipa" else _phonemize(value, voice) for kind, value in segments]
        return re.sub(r"\s+([.,;:!?])", r"\1", " ".join(p for p in parts if p)).strip()
    return _phonemize(text, voice)


def _phonemize(text: str, voice: str) -> str:
    text = text.translate(_PUNCT).replace("\n", " ")
    with _LOCK:
        lib, _ = _init()
        _configure(lib)
        if lib.espeak_SetVoiceByName(voice.encode()) != 0:
            raise ValueError(f"espeak-ng has no voice {voice!r}")
        clauses = []
        for words, marks in _CLAUSE.findall(text):
            if not words.strip() and not marks:
                continue
            phonemes = _clause_phonemes(lib, words) if words.strip() else ""
            clauses.append(phonemes + marks)
    return " ".join(c for c in clauses if c).strip()
