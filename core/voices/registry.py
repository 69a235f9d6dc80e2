"""Voice prompts: a reference recording plus its transcript, scoped to a tenant.

Uploads are untrusted: the format is sniffed from content, decoded in a sandboxed child
(core/audio/probe.py), and checked for duration, silence and clipping before anything is stored.
We keep the original bytes and a normalized mono copy at ``voice_sample_rate`` (44.1 kHz, Dia's
codec rate) that engines read; engines cache their own encodings beside it (prepared/).
"""

from __future__ import annotations

import base64
import binascii
import hashlib

import urllib3
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from voxfarm.core.audio.arrays import encode, levels, peak_normalize, resample, to_mono
from voxfarm.core.audio.probe import Decoded, decode_untrusted
from voxfarm.core.clock import utcnow
from voxfarm.core.db import undo_on_rollback
from voxfarm.core.errors import Conflict, InvalidInput, NotFound, TooLarge
from voxfarm.core.ids import looks_like_id, new_id
from voxfarm.core.models import Voice
from voxfarm.core.netguard import Guard, request
from voxfarm.core.pagination import newest_first
from voxfarm.core.settings import Settings
from voxfarm.core.state import outbox
from voxfarm.core.storage import ObjectStore, keys
from voxfarm.core.voices.qa import PromptQA, analyze

SILENT_DBFS = -50.0


def fetch_audio_url(settings: Settings, url: str) -> bytes:
    """Download a prompt from a URL, if enabled, through the SSRF guard (redirects re-checked)."""
    if not settings.allow_audio_url:
        raise InvalidInput("audio_url is disabled on this farm; upload the file instead",
                           code="audio_url_disabled")
    guard = Guard(settings.outbound_allowlist)
    try:
        resp = request(guard, "GET", url, timeout=settings.outbound_timeout_s,
                       max_bytes=settings.voice_max_bytes, max_redirects=3)
    except (TimeoutError, OSError, urllib3.exceptions.HTTPError) as exc:
        raise InvalidInput(f"could not download audio_url: {exc}", code="audio_url_failed") from None
    if not 200 <= resp.status < 300:
        raise InvalidInput(f"audio_url answered HTTP {resp.status}", code="audio_url_failed")
    return resp.body


def decode_base64_audio(settings: Settings, text: str) -> bytes:
    """Base64 prompt audio, size-checked before decoding (413) and validated (422)."""
    if len(text) > (settings.voice_max_bytes * 4) // 3 + 8:
        raise TooLarge(f"the audio is about {len(text) * 3 // 4} bytes (base64-decoded); the limit "
                       f"is {settings.voice_max_bytes} (VOXFARM_VOICE_MAX_BYTES)")
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidInput("audio_base64 is not valid base64", code="invalid_base64") from None


def prompt_audio(settings: Settings, audio_base64: str | None, audio_url: str | None, *, what: str) -> bytes:
    """The bytes of a prompt given as exactly one of base64 or a URL (registration and inline
    job voices alike): size-checked, SSRF-guarded, 422 ``ambiguous_input`` for none or both."""
    if (audio_base64 is None) == (audio_url is None):
        raise InvalidInput(f"{what} needs exactly one of audio_base64 or audio_url", code="ambiguous_input")
    if audio_url is not None:
        return fetch_audio_url(settings, audio_url)
    return decode_base64_audio(settings, audio_base64)


def register_voice(session: Session, settings: Settings, store: ObjectStore, tenant_id: str, *,
                   name: str, transcript: str, data: bytes) -> Voice:
    """A named voice.  Bytes and transcript already stored as a one-shot prompt of the tenant are
    promoted (named, kept from the sweep) rather than stored twice."""
    name = name.strip()
    decoded, qa = validate_prompt(settings, transcript, data)
    _check_name(session, tenant_id, name)
    voice = find_prompt(session, tenant_id, hashlib.sha256(data).hexdigest(), transcript.strip())
    if voice is not None and not voice.registered:
        voice.registered, voice.name = True, name
    else:
        voice = store_prompt(session, settings, store, tenant_id, data=data, decoded=decoded, qa=qa,
                             transcript=transcript, name=name, registered=True)
    try:
        session.flush()
    except IntegrityError:  # a concurrent registration took the name between check and insert
        raise _name_taken(name) from None
    return voice


def validate_prompt(settings: Settings, transcript: str, data: bytes) -> tuple[Decoded, PromptQA]:
    """Every check a prompt passes (size, format, duration, QA), registered or sent with a job."""
    if len(data) > settings.voice_max_bytes:
        raise TooLarge(f"the audio file is {len(data)} bytes; the limit is {settings.voice_max_bytes} "
                       "(VOXFARM_VOICE_MAX_BYTES)")
    if not transcript.strip():
        raise InvalidInput("the transcript must not be empty", code="empty_transcript")
    decoded = decode_untrusted(data, settings.voice_max_bytes, settings.max_decoded_samples)
    if decoded.duration_s < settings.voice_min_s:
        raise InvalidInput(f"the prompt lasts {decoded.duration_s:.2f}s; at least {settings.voice_min_s:g}s "
                           "is needed", code="voice_too_short")
    if decoded.duration_s > settings.voice_max_s:
        raise InvalidInput(f"the prompt lasts {decoded.duration_s:.1f}s; at most {settings.voice_max_s:g}s "
                           "is accepted (trim it to one clean passage)", code="voice_too_long")
    return decoded, check_prompt(settings, to_mono(decoded.audio), decoded.sample_rate)


def find_prompt(session: Session, tenant_id: str, sha256: str, transcript: str) -> Voice | None:
    """A live voice of the tenant with exactly these original bytes and transcript."""
    return session.scalars(select(Voice).where(Voice.tenant_id == tenant_id, Voice.sha256 == sha256,
                                               Voice.transcript == transcript, Voice.deleted_at.is_(None))
                           .order_by(Voice.registered.desc(), Voice.id)).first()


def store_prompt(session: Session, settings: Settings, store: ObjectStore, tenant_id: str, *, data: bytes,
                 decoded: Decoded, qa: PromptQA, transcript: str, name: str, registered: bool) -> Voice:
    """Store the original and its normalized copy and add the row (the caller flushes)."""
    mono = to_mono(decoded.audio)
    normalized = peak_normalize(resample(mono, decoded.sample_rate, settings.voice_sample_rate))
    norm_bytes, _ = encode(normalized, settings.voice_sample_rate, "wav")
    voice_id = new_id("voice")
    undo_on_rollback(session, lambda: store.delete_prefix(keys.voice_prefix(tenant_id, voice_id)))
    original = store.put_bytes(keys.voice_original(tenant_id, voice_id, decoded.format), data,
                               f"audio/{decoded.format}")
    norm = store.put_bytes(keys.voice_normalized(tenant_id, voice_id), norm_bytes, "audio/wav")
    voice = Voice(id=voice_id, tenant_id=tenant_id, name=name, transcript=transcript.strip(),
                  original_key=original.key, original_format=decoded.format, normalized_key=norm.key,
                  sample_rate=decoded.sample_rate, channels=decoded.channels,
                  duration_s=decoded.duration_s, bytes=len(data), sha256=hashlib.sha256(data).hexdigest(),
                  normalized_sha256=norm.sha256, speech_s=round(qa.speech_s, 3), snr_db=qa.snr_db,
                  registered=registered)
    session.add(voice)
    if settings.speaker_model:  # a worker with the encoder embeds it once this commits
        outbox.add(session, outbox.EMBED_TASK, [voice_id], outbox.CONTROL_QUEUE)
    return voice


def check_prompt(settings: Settings, mono, rate: int) -> PromptQA:
    """Refuse a prompt that is silent, clipped, mostly silence or too short of speech; each has
    its own code so a client can tell the user what to fix."""
    lv = levels(mono)
    if lv.rms_dbfs < SILENT_DBFS or lv.peak < 0.01:
        raise InvalidInput(f"the prompt is silent or nearly so ({lv.rms_dbfs:.0f} dBFS RMS)",
                           code="voice_silent")
    qa = analyze(mono, rate)
    if qa.clipped_fraction > settings.voice_max_clipped_fraction:
        raise InvalidInput(f"{qa.clipped_fraction:.1%} of the samples are clipped at full scale (at most "
                           f"{settings.voice_max_clipped_fraction:.1%}); record it again at a lower level",
                           code="voice_clipped")
    if qa.speech_fraction < settings.voice_min_speech_fraction:
        raise InvalidInput(f"only {qa.speech_fraction:.0%} of the prompt is speech ({qa.speech_s:.1f}s of "
                           f"{qa.duration_s:.1f}s); trim the silence", code="voice_mostly_silent")
    if qa.speech_s < settings.voice_min_speech_s:
        raise InvalidInput(f"the prompt holds {qa.speech_s:.2f}s of speech; at least "
                           f"{settings.voice_min_speech_s:g}s is needed", code="voice_too_little_speech")
    return qa


def _name_taken(name: str) -> Conflict:
    return Conflict(f"a voice named {name[:200]!r} already exists; delete it or choose another name",
                    code="voice_name_taken")


def _check_name(session: Session, tenant_id: str, name: str) -> None:
    """Names are unique per tenant among live voices, and never look like an id, so that a
    reference resolves to exactly one voice whichever of the two a client sends."""
    if looks_like_id(name, "voice"):
        raise InvalidInput("a voice name must not look like a voice id", code="voice_name_reserved")
    if _by_name(session, tenant_id, name) is not None:
        raise _name_taken(name)


def _by_name(session: Session, tenant_id: str, name: str) -> Voice | None:
    return session.scalar(select(Voice).where(Voice.tenant_id == tenant_id, Voice.name == name,
                                              Voice.registered.is_(True), Voice.deleted_at.is_(None)))


def get_voice(session: Session, tenant_id: str, ref: str) -> Voice:
    """A live voice of the tenant by id or, for anything that is not an id, by name."""
    if looks_like_id(ref, "voice"):
        voice = session.scalar(select(Voice).where(Voice.id == ref, Voice.tenant_id == tenant_id,
                                                   Voice.deleted_at.is_(None)))
    else:
        voice = _by_name(session, tenant_id, ref.strip())
    if voice is None:
        raise NotFound(f"voice {ref[:200]!r} not found", code="voice_not_found")
    return voice


def list_voices(session: Session, tenant_id: str, *, limit: int, cursor: str | None) -> tuple[list[Voice], str | None]:
    q = select(Voice).where(Voice.tenant_id == tenant_id, Voice.registered.is_(True), Voice.deleted_at.is_(None))
    return newest_first(session, q, Voice.id, "voice", limit=limit, cursor=cursor)


def delete_voice(session: Session, tenant_id: str, ref: str) -> str:
    """Retire the row and return the object prefix to remove *after* the commit (original,
    normalized copy, engine caches), so a failed commit never leaves an active voice without
    audio.  Jobs already rendered keep their audio; queued jobs naming it fail with voice_deleted."""
    voice = get_voice(session, tenant_id, ref)
    voice.deleted_at = utcnow()
    return keys.voice_prefix(tenant_id, voice.id)
