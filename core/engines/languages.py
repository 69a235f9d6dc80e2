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
