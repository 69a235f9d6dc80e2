"""One-shot prompts in core: a worker claims them like any voice, and the sweep retires them once
their jobs are done, never a registered voice or one a live job still needs."""

from __future__ import annotations

import time

from voxfarm.core.jobs.intake import submit_job
from voxfarm.core.jobs.schemas import JobCreate
from voxfarm.core.jobs.voice import PromptAudio
from voxfarm.core.models import Chunk, Voice
from voxfarm.core.render.leases import claim_chunk
from voxfarm.core.state.lifecycle import JobStatus, set_job_status
from voxfarm.core.tenants.accounts import get_or_create_tenant
from voxfarm.core.upkeep.sweep import sweep_orphans
from voxfarm.core.voices.registry import register_voice
from voxfarm.core.voices.schemas import InlinePrompt

from helpers import tone, wav_bytes

HOUR_MS = 3600 * 1000


def _submit(s, settings, store, tenant, data, words="[S1] Ref."):
    req = JobCreate(text="Hello.", engine="dia", voice=InlinePrompt(audio_base64="x", transcript=words))
    return submit_job(s, settings, store, tenant, req, prompts={"": PromptAudio(data, words)})


def test_a_worker_claims_a_one_shot_prompt_like_a_voice(db):
    settings, store = db.test_settings.model_copy(update={"engines": ["espeak", "dia"]}), db.test_store
    data = wav_bytes(tone(2.0))
    with db.session() as s:
        tenant = get_or_create_tenant(s, "acme").id
        job = _submit(s, settings, store, tenant, data)
        chunk_id = s.query(Chunk.id).filter(Chunk.job_id == job.id).scalar()
    with db.session() as s:
        work = claim_chunk(s, chunk_id, "w1", lease_s=30, max_attempts=3)
    assert work is not None and work.voice is not None and work.voice.id == job.voice_id
    assert work.voice.transcript == "[S1] Ref." and store.exists(work.voice.normalized_key)


def test_sweep_retires_one_shot_prompts_after_their_jobs(db):
    settings, store = db.test_settings.model_copy(update={"engines": ["espeak", "dia"]}), db.test_store
    with db.session() as s:
        tenant = get_or_create_tenant(s, "acme").id
        done = _submit(s, settings, store, tenant, wav_bytes(tone(2.0, freq=200)))
        live = _submit(s, settings, store, tenant, wav_bytes(tone(2.0, freq=300)))
        kept = register_voice(s, settings, store, tenant, name="kept", transcript="t",
                              data=wav_bytes(tone(2.0, freq=400)))
        set_job_status(s, done.id, JobStatus.succeeded)
        done_voice, live_voice = s.get(Voice, done.voice_id), s.get(Voice, live.voice_id)
    soon = sweep_orphans(db, store, grace_s=3600)  # the prompt was just used: kept for reuse
    assert soon.retired_prompts == [] and store.exists(done_voice.normalized_key)
    later = int(time.time() * 1000) + 2 * HOUR_MS
    dry = sweep_orphans(db, store, grace_s=3600, now_ms=later, dry_run=True)
    assert dry.retired_prompts == [done_voice.id] and store.exists(done_voice.normalized_key)
    report = sweep_orphans(db, store, grace_s=3600, now_ms=later)
    assert report.retired_prompts == [done_voice.id] and report.removed_voices == [done_voice.id]
    assert not store.exists(done_voice.normalized_key) and not store.exists(done_voice.original_key)
    assert store.exists(live_voice.normalized_key) and store.exists(kept.normalized_key)
    with db.session() as s:
        assert s.get(Voice, done_voice.id).deleted_at is not None and s.get(Voice, live_voice.id).deleted_at is None


def test_one_shot_prompts_are_content_addressed_per_tenant(db):
    settings, store = db.test_settings.model_copy(update={"engines": ["espeak", "dia"]}), db.test_store
    data = wav_bytes(tone(2.0, freq=250))
    with db.session() as s:
        acme, globex = get_or_create_tenant(s, "acme").id, get_or_create_tenant(s, "globex").id
        first, again = _submit(s, settings, store, acme, data), _submit(s, settings, store, acme, data)
        theirs = _submit(s, settings, store, globex, data)  # the same bytes and words, another tenant
        assert first.voice_id == again.voice_id != theirs.voice_id
        assert s.get(Voice, theirs.voice_id).tenant_id == globex and s.get(Voice, first.voice_id).tenant_id == acme


def test_a_dialogue_prompt_joins_the_speakers_in_tag_order(db):
    from voxfarm.core.audio.arrays import decode_bytes
    from voxfarm.core.jobs.voice import DIALOGUE_PAUSE_S

    settings, store = db.test_settings.model_copy(update={"engines": ["espeak", "dia"]}), db.test_store
    with db.session() as s:
        tenant = get_or_create_tenant(s, "acme").id
        ann = register_voice(s, settings, store, tenant, name="Ann", transcript="[S1] I am Ann.",
                             data=wav_bytes(tone(2.0, freq=200)))
        bob = register_voice(s, settings, store, tenant, name="Bob", transcript="Bob here.",
                             data=wav_bytes(tone(3.0, freq=300)))
        req = JobCreate(text="[S2] Hi there. [S1] Hello.", engine="dia", voices={"S2": "Bob", "S1": ann.id})
        job = submit_job(s, settings, store, tenant, req, prompts={})
        joined = s.get(Voice, job.voice_id)
        assert job.voices == {"S1": ann.id, "S2": bob.id} and not joined.registered
        assert joined.transcript == "[S1] I am Ann. [S2] Bob here."  # re-tagged, in tag order
        parts = [decode_bytes(store.get_bytes(v.normalized_key))[0].size for v in (ann, bob)]
        audio, rate = decode_bytes(store.get_bytes(joined.normalized_key))
    assert audio.size == sum(parts) + int(DIALOGUE_PAUSE_S * rate)
