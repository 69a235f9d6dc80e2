"""What each engine can say in IPA: the check a lexicon's phoneme rules pass at submit.

The espeak-based engines take a rule's IPA as is: piper looks each symbol up in its voice's
``phoneme_id_map``, kokoro in its vocabulary, and espeak-ng itself reads phonemes in its own
mnemonics, which ``espeak_mnemonics`` writes from IPA (English phonemes).  A symbol outside that
table would be dropped silently by the model, so a job whose matched rules hold one is refused
(422, naming the symbols) where the table is known here: read from the voice files, never a model.
"""

from __future__ import annotations

import json
import unicodedata
from typing import Any

from voxfarm.core.engines.catalog import kokoro_listing, piper_voices
from voxfarm.core.settings import Settings

# IPA -> espeak-ng's English phoneme mnemonics (what ``[[...]]`` reads), longest first
ESPEAK_IPA = {
    "ɜː": "3:", "ɔː": "O:", "ɑː": "A:", "iː": "i:", "uː": "u:", "aɪ": "aI", "aʊ": "aU", "eɪ": "eI", "oʊ": "oU",
    "əʊ": "oU", "ɔɪ": "OI", "ɪə": "i@", "eə": "e@", "ʊə": "U@", "tʃ": "tS", "dʒ": "dZ", "n̩": "n-", "l̩": "@L",
    "ɜ": "3", "ɚ": "3", "ə": "@", "ɐ": "a#", "ɔ": "O:", "ɑ": "A:", "ɒ": "0", "æ": "a", "a": "a", "e": "e",
    "ɛ": "E", "ɪ": "I", "i": "i", "ʊ": "U", "u": "u:", "o": "o", "ʌ": "V", "ᵻ": "I2", "ɹ": "r", "r": "r",
    "θ": "T", "ð": "D", "ʃ": "S", "ʒ": "Z", "ŋ": "N", "ɾ": "t#", "ʔ": "?", "ɡ": "g", "g": "g", "ç": "C",
    "x": "x", "j": "j", "ɫ": "l", "p": "p", "b": "b", "t": "t", "d": "d", "k": "k", "f": "f", "v": "v", "s": "s",
    "z": "z", "h": "h", "m": "m", "n": "n", "l": "l", "w": "w", "ˈ": "'", "ˌ": ",", "ː": ":", " ": " ", "‿": "",
}
_LONGEST = max(len(k) for k in ESPEAK_IPA)


def espeak_mnemonics(ipa: str) -> tuple[str, list[str]]:
    """(espeak-ng phoneme mnemonics for ``ipa``, the symbols it has none for)."""
    ipa = unicodedata.normalize("NFC", ipa)
    out, unknown, i = [], [], 0
    while i < len(ipa):
        for size in range(min(_LONGEST, len(ipa) - i), 0, -1):
            if ipa[i:i + size] in ESPEAK_IPA:
                out.append(ESPEAK_IPA[ipa[i:i + size]])
                i += size
                break
        else:
            if ipa[i] not in unknown:
                unknown.append(ipa[i])
            i += 1
    return "".join(out), unknown


def _kokoro_vocab(settings: Settings) -> set[str] | None:
    try:
        files = kokoro_listing(settings)  # VOXFARM_KOKORO_MODEL, else the kokoro extra's vocabulary
        if files.vocab.suffix == ".json":
            return set(json.loads(files.vocab.read_text(encoding="utf-8"))["vocab"])
        return {line.split()[0] if line.split() else " " for line in files.vocab.read_text(encoding="utf-8")
                .splitlines() if line.strip() and len(line.split()) == 2} | {" "}
    except (OSError, ValueError, KeyError):
        return None


def unspeakable(engine: str, ipa: str, settings: Settings, params: dict[str, Any]) -> list[str] | None:
    """The symbols of ``ipa`` that ``engine`` cannot say (empty: all fine); None where its table is
    not known here (a text engine, or model files this process cannot see)."""
    if engine == "espeak":
        return espeak_mnemonics(ipa)[1]
    if engine == "piper":
        voice = piper_voices(settings).get(str(params.get("voice") or ""))
        if voice is None:
            return None
        try:
            table = set(json.loads(voice.config.read_text(encoding="utf-8"))["phoneme_id_map"])
        except (OSError, ValueError, KeyError):
            return None
        symbols = unicodedata.normalize("NFD", ipa)  # piper maps the NFD form, combining marks alone
    elif engine == "kokoro":
        table = _kokoro_vocab(settings)
        if table is None:
            return None
        symbols = ipa
    else:
        return None
    bad: list[str] = []
    for ch in symbols:
        if ch not in table and ch not in bad:
            bad.append(ch)
    return bad
