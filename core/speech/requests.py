"""OpenAI-compatible speech: turn a ``POST /v1/audio/speech`` request into an ordinary job.

The request becomes a job like any other (listed, idempotent, webhooks, finalized into a stored
file), with three differences: it runs at ``speech_priority`` (the interactive lane,
core/jobs/lanes.py), its first chunk is cut to one short sentence so the first audio comes fast, and
the API streams its chunks while they render (core/speech/stream.py).

Names are resolved here, so the view stays a validation and one call:

* ``model``: an engine name, or a name mapped in ``speech_models`` (``tts-1``, ``tts-1-hd`` and
  OpenAI's other speech model names fall back to the default engine).
* ``voice``: a registered voice (id, or name within the tenant) for engines that clone; an engine
  voice through the engine's ``voice_param`` (espeak: ``language``, e.g. ``en-gb-scotland``); or an
  OpenAI voice name, mapped per engine in ``speech_voices`` (unmapped: the engine's default voice).
"""

from __future__ import annotations

import re

from sqlalchemy import select
from sqlalchemy.orm import Session

from voxfarm.core.engines.registry import ENGINES, EngineSpec, listed_engines
from voxfarm.core.errors import InvalidInput, NotFound
from voxfarm.core.ids import looks_like_id
from voxfarm.core.jobs.intake import submit_job
from voxfarm.core.jobs.schemas import JobCreate, OutputSpec
from voxfarm.core.models import Job, Voice
from voxfarm.core.settings import Settings
from voxfarm.core.speech.schemas import SpeechRequest
from voxfarm.core.storage import ObjectStore

OPENAI_MODELS = frozenset({"tts-1", "tts-1-hd", "gpt-4o-mini-tts"})
OPENAI_VOICES = frozenset({"alloy", "ash", "ballad", "cedar", "coral", "echo", "fable", "marin", "nova", "onyx",
                           "sage", "shimmer", "verse"})
_ENGINE_VOICE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.+:,-]{0,199}$")  # kokoro blends: "af_bella:0.7,af_sky:0.3"
_VOICE_ERRORS = frozenset({"unknown_language", "unknown_voice", "invalid_param"})


class SpeechInputError(InvalidInput):
    """A request error that names the offending field (OpenAI's ``param``)."""

    def __init__(self, message: str, *, param: str, code: str, status: int = 422) -> None:
        super().__init__(message, code=code, status=status, details={"param": param})


def resolve_engine(model: str, settings: Settings) -> str:
    if model in settings.speech_models:
        return settings.speech_models[model]
    if model in listed_engines(settings):  # a test engine (sim, tone) only where it is served
        return model
    if model in OPENAI_MODELS:
        return settings.default_engine
    raise SpeechInputError(f"unknown model {model!r}; use an engine ({', '.join(listed_engines(settings))}) "
                           f"or one of {', '.join(sorted(OPENAI_MODELS | set(settings.speech_models)))}",
                           param="model", code="model_not_found")


def resolve_voice(session: Session, tenant_id: str, spec: EngineSpec, voice: str,
                  settings: Settings) -> tuple[str | None, dict[str, str]]:
    """Returns (registered voice id, engine params) for ``voice``."""
    q = select(Voice.id).where(Voice.tenant_id == tenant_id, Voice.deleted_at.is_(None))
    registered = session.scalar(q.where(Voice.id == voice)) if looks_like_id(voice, "voice") else None
    registered = registered or session.scalar(q.where(Voice.name == voice).order_by(Voice.created_at.desc()))
    if registered is not None:
        if not spec.clones_voices:
            raise SpeechInputError(f"engine {spec.name!r} cannot speak with a registered voice; choose an "
                                   "engine that clones", param="voice", code="engine_cannot_clone")
        return registered, {}
    if looks_like_id(voice, "voice"):
        raise NotFound(f"voice {voice} not found", code="voice_not_found", details={"param": "voice"})
    name = voice.lower()
    mapped = settings.speech_voices.get(spec.name, {}).get(name)
    if mapped is not None or name in OPENAI_VOICES:
        return None, ({spec.voice_param: mapped} if mapped and spec.voice_param else {})
    if spec.voice_param and _ENGINE_VOICE.match(voice):
        return None, {spec.voice_param: voice}
    raise SpeechInputError(f"unknown voice {voice[:80]!r}: use a registered voice, an OpenAI voice name "
                           f"({', '.join(sorted(OPENAI_VOICES))}) or one of {spec.name}'s own voices",
                           param="voice", code="voice_not_found")


def submit_speech(session: Session, settings: Settings, store: ObjectStore, tenant_id: str,
                  req: SpeechRequest) -> Job:
    """Validate and plan a speech request into a job (in the caller's unit of work)."""
    if len(req.input) > settings.speech_max_input_chars:
        raise SpeechInputError(f"input is {len(req.input)} characters; the limit is "
                               f"{settings.speech_max_input_chars}", param="input", code="input_too_long",
                               status=413)
    engine = resolve_engine(req.model, settings)
    spec = ENGINES.get(engine)
    if spec is None:
        raise SpeechInputError(f"model {req.model!r} maps to unknown engine {engine!r}", param="model",
                               code="model_not_found")
    voice = req.voice if isinstance(req.voice, str) else req.voice.id
    voice_id, params = resolve_voice(session, tenant_id, spec, voice, settings)
    if req.lang_code:
        if "lang_code" not in spec.params:
            raise SpeechInputError(f"engine {engine!r} takes no lang_code (kokoro does)", param="lang_code",
                                   code="unsupported_param")
        params = {**params, "lang_code": req.lang_code}
    output = OutputSpec(format=req.response_format, speed=req.speed)
    job = JobCreate(text=req.input, engine=engine, voice_id=voice_id, params=params, output=output,
                    priority=settings.speech_priority, webhook=req.webhook, lexicons=req.lexicons,
                    text_normalization=req.text_normalization, announce_chapters=False,
                    metadata={"openai": {"model": req.model, "voice": voice[:200],
                                         "stream_format": req.stream_format}})
    try:
        return submit_job(session, settings, store, tenant_id, job, target_s=settings.speech_chunk_target_s,
                          first_chunk_chars=settings.speech_first_chunk_chars)
    except InvalidInput as exc:
        if params and exc.code in _VOICE_ERRORS:  # the engine refused the voice it was given
            raise SpeechInputError(f"voice {voice[:80]!r}: {exc.message}", param="voice",
                                   code="voice_not_found") from None
        raise
