"""Content cache keys: what a chunk's audio depends on is in its key (engine, model, voice, text,
params, seed), so a chunk is only ever served audio rendered for the very same content."""

from __future__ import annotations

from sqlalchemy import select

from voxfarm.core.jobs.intake import submit_job
from voxfarm.core.jobs.planning import cache_digest
from voxfarm.core.jobs.schemas import JobCreate
from voxfarm.core.models import Chunk
from voxfarm.core.tenants.accounts import get_or_create_tenant
from voxfarm.core.voices.registry import register_voice

from helpers import tone, wav_bytes

BOOK = "The keeper lit the lamp. The ships went by in the night.\n\nAt dawn the sea was calm again."


def _digest(**changes) -> str:
    base = {"engine": "dia", "model": "m", "voice_sha256": "a" * 64, "text": "Hello there.",
            "params": {"temperature": 1.0}, "seed": 7}
    return cache_digest(**{**base, **changes})


def test_every_input_of_the_audio_is_in_the_key():
    same = _digest()
    assert _digest() == same and _digest(params={"temperature": 1.0, "seed": 99}) == same  # the seed param is the seed
    for change in ({"voice_sha256": "b" * 64}, {"voice_sha256": None}, {"text": "Hello there!"},
                   {"engine": "zipvoice"}, {"model": "m2"}, {"params": {"temperature": 1.2}}, {"seed": 8}):
        assert _digest(**change) != same, change


def test_jobs_differing_only_in_voice_share_no_chunk_audio(db):
    settings = db.test_settings.model_copy(update={"engines": ["espeak", "dia"]})
    store = db.test_store
    with db.session() as s:
        tenant = get_or_create_tenant(s, "acme").id
        voices = [register_voice(s, settings, store, tenant, name=name, transcript="[S1] My own words.",
                                 data=wav_bytes(tone(2.0, freq=freq))).id
                  for name, freq in (("low", 180), ("high", 320))]

    def keys(voice_id: str) -> list[str]:
        with db.session() as s:
            job = submit_job(s, settings, store, tenant, JobCreate(text=BOOK, engine="dia", voice_id=voice_id))
            return list(s.scalars(select(Chunk.cache_key).where(Chunk.job_id == job.id).order_by(Chunk.idx)))

    low, high, low_again = keys(voices[0]), keys(voices[1]), keys(voices[0])
    assert len(low) == len(high) >= 2
    assert low_again == low  # the same content is rendered once and shared
    assert not set(low) & set(high)  # another voice is other audio: never served from the first's cache
