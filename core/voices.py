"""Voice prompts: a reference recording plus its transcript, scoped to a tenant.

Uploads are untrusted: the format is sniffed from content, decoded in a sandboxed child
(core/audio_probe.py), and checked for duration, silence and clipping before anything is stored.
We keep the original bytes and a normalized mono copy at ``voice_sample_rate`` (44.1 kHz, Dia's
codec rate) that engines read; engines cache their own encodings beside it (prepared/).
"""

from __future__ import annotations

import hashlib

import urllib3
from sqlalchemy import select
from sqlalchemy.orm import Session

from core.audio import encode, levels, peak_normalize, resample, to_mono
from core.audio_probe import decode_untrusted
from core.clock import utcnow
from core.db import undo_on_rollback
from core.errors import InvalidInput, NotFound, TooLarge
from core.ids import looks_like_id, new_id
from core.models import Voice
from core.netguard import Guard, request
from core.pagination import newest_first
from core.settings import Settings
from core.storage import ObjectStore, keys

CLIPPED_EVERYWHERE = 0.2  # a fifth of all samples at full scale is not a usable prompt
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


def register_voice(session: Session, settings: Settings, store: ObjectStore, tenant_id: str, *,
                   name: str, transcript: str, data: bytes) -> Voice:
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
    mono = to_mono(decoded.audio)
    lv = levels(mono)
    if lv.rms_dbfs < SILENT_DBFS or lv.peak < 0.01:
        raise InvalidInput(f"the prompt is silent or nearly so ({lv.rms_dbfs:.0f} dBFS RMS)",
                           code="voice_silent")
    if lv.clipped_fraction > CLIPPED_EVERYWHERE:
        raise InvalidInput(f"{lv.clipped_fraction:.0%} of the prompt is clipped at full scale; "
                           "record it again at a lower level", code="voice_clipped")
    normalized = peak_normalize(resample(mono, decoded.sample_rate, settings.voice_sample_rate))
    norm_bytes, _ = encode(normalized, settings.voice_sample_rate, "wav")
    voice_id = new_id("voice")
    undo_on_rollback(session, lambda: store.delete_prefix(keys.voice_prefix(tenant_id, voice_id)))
    original = store.put_bytes(keys.voice_original(tenant_id, voice_id, decoded.format), data,
                               f"audio/{decoded.format}")
    norm = store.put_bytes(keys.voice_normalized(tenant_id, voice_id), norm_bytes, "audio/wav")
    voice = Voice(id=voice_id, tenant_id=tenant_id, name=name.strip(), transcript=transcript.strip(),
                  original_key=original.key, original_format=decoded.format, normalized_key=norm.key,
                  sample_rate=decoded.sample_rate, channels=decoded.channels,
                  duration_s=decoded.duration_s, bytes=len(data), sha256=hashlib.sha256(data).hexdigest(),
                  normalized_sha256=norm.sha256)
    session.add(voice)
    session.flush()
    return voice


def get_voice(session: Session, tenant_id: str, voice_id: str) -> Voice:
    if not looks_like_id(voice_id, "voice"):
        raise NotFound(f"voice {voice_id[:64]!r} not found", code="voice_not_found")
    voice = session.scalar(select(Voice).where(Voice.id == voice_id, Voice.tenant_id == tenant_id,
                                               Voice.deleted_at.is_(None)))
    if voice is None:
        raise NotFound(f"voice {voice_id} not found", code="voice_not_found")
    return voice


def list_voices(session: Session, tenant_id: str, *, limit: int, cursor: str | None) -> tuple[list[Voice], str | None]:
    q = select(Voice).where(Voice.tenant_id == tenant_id, Voice.deleted_at.is_(None))
    return newest_first(session, q, Voice.id, "voice", limit=limit, cursor=cursor)


def delete_voice(session: Session, tenant_id: str, voice_id: str) -> str:
    """Retire the row and return the object prefix to remove *after* the commit (original,
    normalized copy, engine caches), so a failed commit never leaves an active voice without
    audio.  Jobs already rendered keep their audio; queued jobs naming it fail with voice_deleted."""
    voice = get_voice(session, tenant_id, voice_id)
    voice.deleted_at = utcnow()
    return keys.voice_prefix(tenant_id, voice_id)
