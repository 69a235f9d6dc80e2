"""Values each engine's ``language`` param accepts, as data: the API validates a job against
them at submit (a name the engine does not know is a 422 then, not a poison chunk a minute later)
and never loads an engine library to do it.

``ESPEAK_LANGUAGES`` is every name ``espeak_SetVoiceByName`` accepts in the espeak-ng data that
the ``espeakng-loader`` wheel ships (138 names: voice files such as ``en-us`` and the language
codes they declare) and that speaks (the wheel lacks the fo, kaa and xex dictionaries).
tests/worker/test_espeak_languages.py compares it with the installed library
(worker/engines/espeak.voice_names) and renders every one.
"""

from __future__ import annotations

ESPEAK_LANGUAGES: frozenset[str] = frozenset((
    "af", "am", "an", "ar", "as", "az", "ba", "be", "bg", "bn", "bpy", "bs", "ca", "ca-ba", "ca-nw", "ca-va",
    "chr", "cmn", "cmn-latn-pinyin", "cs", "cv", "cy", "da", "de", "el", "en", "en-029", "en-gb-scotland",
    "en-gb-x-gbclan", "en-gb-x-gbcwmd", "en-gb-x-rp", "en-shaw", "en-us", "en-us-nyc", "eo", "es", "es-419",
    "et", "eu", "fa", "fa-latn", "fi", "fr", "fr-be", "fr-ch", "ga", "gd", "gn", "grc", "gu", "hak",
    "haw", "he", "hi", "hr", "ht", "hu", "hy", "hyw", "ia", "id", "io", "is", "it", "ja", "jbo", "ka",
    "kk", "kl", "kn", "ko", "kok", "ku", "ky", "la", "lb", "lfn", "lt", "ltg", "lv", "mi", "mk", "ml", "mr",
    "ms", "mt", "mto", "my", "nb", "nci", "ne", "nl", "nog", "om", "or", "pa", "pap", "piqd", "pl", "pt",
    "pt-br", "py", "qdb", "qu", "quc", "qya", "ro", "ru", "ru-cl", "ru-lv", "sd", "shn", "si", "sjn", "sk",
    "sl", "smj", "sq", "sr", "sv", "sw", "ta", "te", "th", "ti", "tk", "tn", "tr", "tt", "ug", "uk", "ur", "uz",
    "vi", "vi-vn-x-central", "vi-vn-x-south", "yue", "yue-latn-jyutping",
))

# engine name -> accepted ``language`` values; an engine missing here takes no ``language`` param
LANGUAGES: dict[str, frozenset[str]] = {"espeak": ESPEAK_LANGUAGES}

# Kokoro's languages by hexgrad/kokoro's one-letter codes, the ``lang_code`` that Kokoro-FastAPI takes:
# code -> (ISO 639-1, name, phonemiser).  The voice names start with the same letters (af_bella,
# jf_alpha), which is the default; ``lang_code`` picks the phonemiser apart from the voice, so a
# Japanese voice can read English (jm_kumo with "a").
KOKORO_LANGUAGES: dict[str, tuple[str, str, str]] = {
    "a": ("en", "American English", "espeak-ng en-us"),
    "b": ("en", "British English", "espeak-ng en-gb"),
    "e": ("es", "Spanish", "espeak-ng es"),
    "f": ("fr", "French", "espeak-ng fr-fr"),
    "h": ("hi", "Hindi", "espeak-ng hi"),
    "i": ("it", "Italian", "espeak-ng it"),
    "j": ("ja", "Japanese", "misaki (cutlet romaniser) over pyopenjtalk readings"),
    "p": ("pt", "Brazilian Portuguese", "espeak-ng pt-br"),
    "z": ("zh", "Mandarin Chinese", "espeak-ng cmn"),
}
KOKORO_LANG_PATTERN = "[" + "".join(KOKORO_LANGUAGES) + "]"


def kokoro_lang_code(params: dict) -> str:
    """The job's ``lang_code``, else its voice's first letter (the first voice of a blend), else "a"."""
    given = str(params.get("lang_code") or "").lower()
    if given in KOKORO_LANGUAGES:
        return given
    first = str(params.get("voice") or "").split(",")[0].strip()[:1].lower()
    return first if first in KOKORO_LANGUAGES else "a"


def text_language(engine: str, params: dict) -> str:
    """The ISO 639-1 language a job's text is cut into sentences and normalised in."""
    if engine == "kokoro":
        return KOKORO_LANGUAGES[kokoro_lang_code(params)][0]
    return str(params.get("language") or "en")[:2].lower()


def engine_languages(engine: str) -> list[dict] | None:
    """``GET /v1/engines``' ``lang_codes``: the values of an engine's ``lang_code`` param (None: it has none)."""
    if engine == "kokoro":
        return [{"lang_code": code, "language": iso, "name": name, "phonemizer": g2p}
                for code, (iso, name, g2p) in KOKORO_LANGUAGES.items()]
    return None
