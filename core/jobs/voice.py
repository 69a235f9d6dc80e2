"""The voice a job renders with: a registered voice (id or name), a one-shot prompt sent with the
job, or a Dia dialogue mapping speaker tags to voices.

One-shot prompts pass every check registration makes (core/voices/registry.py) and are content-addressed:
the same bytes and transcript from one tenant give one stored prompt (a voice row with
``registered = false``), so the worker's cached codec tokens for it (worker/voices.py, keyed by
voice) are reused by every job that sends it.  ``retire_unused_prompts`` (run by the storage
sweep) retires one-shot prompts whose jobs have all finished.

A dialogue is rendered from one prompt: the speakers' normalized prompts joined in tag order
(S1, S2) with a short pause, and their transcripts, each re-tagged with its speaker, joined the
same way -- the layout Dia's own two-speaker cloning example uses.  The joined prompt is itself a
content-addressed one-shot prompt, so the worker code is the same as for one voice.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import datetime

import numpy as np
from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from voxfarm.core.audio.arrays import decode_bytes, encode
from voxfarm.core.clock import utcnow
from voxfarm.core.engines.registry import EngineSpec
from voxfarm.core.errors import InvalidInput
from voxfarm.core.jobs.schemas import JobCreate
from voxfarm.core.models import Job, Voice
from voxfarm.core.settings import Settings
from voxfarm.core.state.lifecycle import JobStatus
from voxfarm.core.storage import ObjectStore
from voxfarm.core.voices import registry as core_voices
from voxfarm.core.voices.schemas import InlinePrompt

TAG_RE = re.compile(r"\[(S\d+)\]")
DIALOGUE_PAUSE_S = 0.3  # between the speakers' prompts: a turn boundary, not a run-on


@dataclass(frozen=True)
class PromptAudio:
    """Prompt bytes read before the transaction opens (an audio_url download is network I/O)."""

    data: bytes
    transcript: str


def read_prompts(settings: Settings, req: JobCreate, upload: bytes | None = None) -> dict[str, PromptAudio]:
    """The inline prompts of a job request: key "" for ``voice``, the tag for ``voices`` entries.
    ``upload`` is a multipart ``voice_file``; ``voice`` then carries only its transcript."""
    slots: dict[str, InlinePrompt] = {}
    if isinstance(req.voice, InlinePrompt):
        slots[""] = req.voice
    elif upload is not None:
        raise InvalidInput("a voice_file needs its transcript: send job.voice = {\"transcript\": ...}",
                           code="empty_transcript")
    for tag, value in (req.voices or {}).items():
        if isinstance(value, InlinePrompt):
            slots[tag] = value
    out: dict[str, PromptAudio] = {}
    for key, prompt in slots.items():
        sources = [x for x in (prompt.audio_base64, prompt.audio_url) if x is not None]
        if key == "" and upload is not None:
            if sources:
                raise InvalidInput("give the prompt once: voice_file or audio_base64/audio_url",
                                   code="ambiguous_input")
            out[key] = PromptAudio(upload, prompt.transcript)
            continue
        data = core_voices.prompt_audio(settings, prompt.audio_base64, prompt.audio_url, what="an inline voice")
        out[key] = PromptAudio(data, prompt.transcript)
    return out


def oneshot_voice(session: Session, settings: Settings, store: ObjectStore, tenant_id: str,
                  prompt: PromptAudio) -> Voice:
    """The tenant's stored prompt for these bytes and transcript, validated and stored if new."""
    digest = hashlib.sha256(prompt.data).hexdigest()
    found = core_voices.find_prompt(session, tenant_id, digest, prompt.transcript.strip())
    if found is not None:
        return found
    decoded, qa = core_voices.validate_prompt(settings, prompt.transcript, prompt.data)
    voice = core_voices.store_prompt(session, settings, store, tenant_id, data=prompt.data, decoded=decoded,
                                     qa=qa, transcript=prompt.transcript, name=f"prompt {digest[:16]}",
                                     registered=False)
    session.flush()
    return voice


def resolve_job_voice(session: Session, settings: Settings, store: ObjectStore, tenant_id: str,
                      req: JobCreate, spec: EngineSpec, text: str,
                      prompts: dict[str, PromptAudio]) -> tuple[Voice | None, dict[str, str] | None]:
    """(the voice to render with, the dialogue's tag -> voice id map) for a job request."""
    given = [req.voice_id is not None, isinstance(req.voice, InlinePrompt), bool(req.voices)]
    if sum(given) == 0:
        return None, None
    if sum(given) > 1:
        raise InvalidInput("give one of voice_id, an inline voice, or voices", code="ambiguous_input")
    if not spec.clones_voices:
        raise InvalidInput(f"engine {spec.name!r} cannot clone voices; submit without a voice "
                           "or choose an engine that clones", code="engine_cannot_clone")
    if req.voice_id is not None:
        return core_voices.get_voice(session, tenant_id, req.voice_id), None
    if not req.voices:
        return oneshot_voice(session, settings, store, tenant_id, prompts[""]), None
    if not spec.dialogue_tags:
        raise InvalidInput(f"engine {spec.name!r} has no speaker tags; voices needs a dialogue engine",
                           code="engine_cannot_dialogue")
    used = set(TAG_RE.findall(text))
    if set(req.voices) != used:
        missing, extra = sorted(used - set(req.voices)), sorted(set(req.voices) - used)
        raise InvalidInput("every speaker tag in the text needs a voice, and every voice a tag in the text"
                           + (f"; no voice for {', '.join(missing)}" if missing else "")
                           + (f"; {', '.join(extra)} never speaks" if extra else ""), code="dialogue_voices_mismatch")
    speakers: dict[str, Voice] = {}
    for tag in sorted(req.voices, key=lambda t: int(t[1:])):
        value = req.voices[tag]
        speakers[tag] = (oneshot_voice(session, settings, store, tenant_id, prompts[tag])
                         if isinstance(value, InlinePrompt) else core_voices.get_voice(session, tenant_id, value))
    joined = _join(settings, store, speakers)
    return oneshot_voice(session, settings, store, tenant_id, joined), {t: v.id for t, v in speakers.items()}


def _join(settings: Settings, store: ObjectStore, speakers: dict[str, Voice]) -> PromptAudio:
    """One WAV prompt from the speakers' normalized copies in tag order, and the re-tagged transcript."""
    rate = settings.voice_sample_rate
    pause = np.zeros(int(DIALOGUE_PAUSE_S * rate), np.float32)
    parts, lines = [], []
    for tag, voice in speakers.items():
        audio, voice_rate = decode_bytes(store.get_bytes(voice.normalized_key, expect_sha256=voice.normalized_sha256))
        if voice_rate != rate:
            raise InvalidInput(f"voice {voice.id} was normalized at {voice_rate} Hz, not {rate}",
                               code="voice_rate_mismatch")
        parts += [audio, pause]
        lines.append(f"[{tag}] {TAG_RE.sub(' ', voice.transcript).strip()}")
    data, _ = encode(np.concatenate(parts[:-1]), rate, "wav")
    return PromptAudio(data, " ".join(lines))


def retire_unused_prompts(session: Session, *, cutoff: datetime, dry_run: bool = False) -> list[str]:
    """Mark deleted the one-shot prompts made before ``cutoff`` that no unfinished job uses and no
    job has touched since; the sweep then removes their objects.  Returns their ids."""
    recent_or_live = exists().where(Job.voice_id == Voice.id, (Job.updated_at > cutoff) | Job.status.in_(
        [JobStatus.queued, JobStatus.running]))
    rows = list(session.scalars(select(Voice).where(Voice.registered.is_(False), Voice.deleted_at.is_(None),
                                                    Voice.created_at < cutoff, ~recent_or_live)))
    for voice in rows if not dry_run else []:
        voice.deleted_at = utcnow()
    return [v.id for v in rows]

