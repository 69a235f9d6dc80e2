"""Issue 15: a speech request planned into an ordinary job: names resolved, first chunk short,
interactive lane, output speed through the engine."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from voxfarm.core.errors import InvalidInput, NotFound, VoxfarmError
from voxfarm.core.models import Chunk, Outbox, Voice
from voxfarm.core.speech.requests import resolve_engine, submit_speech
from voxfarm.core.speech.schemas import SpeechRequest
from voxfarm.core.tenants.accounts import get_or_create_tenant
from voxfarm.core.voices.registry import register_voice

from helpers import submit_job_direct, tone, wav_bytes

STORY = ("The lamp was lit at dusk by the keeper of the northern light, as every evening for forty years. "
         "Ships passed. The sea was calm that night and nobody expected the storm that came at dawn.")


def _speech(db, **fields):
    body = SpeechRequest(**{"model": "tts-1", "voice": "alloy", "input": STORY, **fields})
    with db.session() as s:
        tenant = get_or_create_tenant(s, "acme")
        job = submit_speech(s, db.test_settings, db.test_store, tenant.id, body)
        chunks = list(s.scalars(select(Chunk).where(Chunk.job_id == job.id).order_by(Chunk.idx)))
        lanes = {o.queue for o in s.scalars(select(Outbox).where(Outbox.task == "voxfarm.render_chunk"))}
        s.expunge_all()
        return job, chunks, lanes


def test_speech_is_a_job_in_the_interactive_lane_with_a_short_first_chunk(db):
    job, chunks, lanes = _speech(db)
    assert job.engine == "espeak" and job.priority == 100 and lanes == {"tts.espeak.interactive"}
    assert chunks[0].text == "The lamp was lit at dusk by the keeper of the northern light, as every evening for " \
                             "forty years."
    assert len(chunks) >= 2 and " ".join(c.text for c in chunks) == STORY  # nothing lost or repeated
    assert job.params["language"] == "en-us"  # alloy, mapped for espeak in settings


def test_a_long_first_sentence_is_cut_at_a_clause(db):
    long_first = "When the keeper climbed the stairs, counting each step as he had done for decades, " \
                 "the sea counted with him, and the gulls, tired of the wind, slept on the rail. Then dark."
    _job, chunks, _ = _speech(db, input=long_first)
    assert len(chunks[0].text) <= db.test_settings.speech_first_chunk_chars
    assert " ".join(c.text for c in chunks) == long_first


def test_bulk_jobs_stay_in_the_bulk_lane_and_high_priority_jobs_do_not(db):
    submit_job_direct(db, "Bulk words.")
    submit_job_direct(db, "Urgent words.", priority=60)
    with db.session() as s:
        queues = sorted(o.queue for o in s.scalars(select(Outbox)))
    assert queues == ["tts.espeak", "tts.espeak.interactive"]


def test_voices_resolve_to_engine_voices_and_unknown_names_are_refused(db):
    job, _, _ = _speech(db, voice="en-gb-scotland")  # espeak's own voice, by name
    assert job.params["language"] == "en-gb-scotland" and job.voice_id is None
    job, _, _ = _speech(db, voice="verse")
    assert job.params["language"] == "en-029"
    with pytest.raises(InvalidInput) as exc:
        _speech(db, voice="no such voice!")
    assert exc.value.code == "voice_not_found" and exc.value.details == {"param": "voice"}
    with pytest.raises(NotFound):
        _speech(db, voice="voice_01ARZ3NDEKTSV4RRFFQ69G5FAV")


def test_a_registered_voice_needs_a_cloning_engine(db):
    with db.session() as s:
        tenant = get_or_create_tenant(s, "acme")
        s.add(Voice(id="voice_01", tenant_id=tenant.id, name="Narrator", transcript="t", original_key="k",
                    original_format="wav", normalized_key="k", sample_rate=44100, channels=1, duration_s=2.0,
                    bytes=1, sha256="0" * 64, normalized_sha256="0" * 64))
    with pytest.raises(InvalidInput) as exc:
        _speech(db, voice="Narrator")
    assert exc.value.code == "engine_cannot_clone"


def test_models_limits_and_speed(db):
    settings = db.test_settings
    assert resolve_engine("tts-1-hd", settings) == settings.default_engine
    assert resolve_engine("espeak", settings) == "espeak"
    assert resolve_engine("tts-1", settings.model_copy(update={"speech_models": {"tts-1": "dia"}})) == "dia"
    with pytest.raises(InvalidInput) as exc:
        resolve_engine("gpt-9", settings)
    assert exc.value.code == "model_not_found"
    with pytest.raises(InvalidInput) as exc:
        _speech(db, input="x" * (settings.speech_max_input_chars + 1))
    assert exc.value.status == 413 and exc.value.code == "input_too_long"
    job, _, _ = _speech(db, speed=2.0, response_format="pcm")
    assert job.params["speed"] == 350 and job.output["tempo"] == 1.0  # espeak's own rate, no stretch
    assert job.output["format"] == "pcm"


def test_engine_agnostic_voices_and_speed_on_piper(db):
    db.test_settings = db.test_settings.model_copy(update={"engines": ["espeak", "piper"]})
    job, _, _ = _speech(db, model="piper", voice="en_US-joe-medium", speed=2.0)
    assert job.engine == "piper" and job.params["voice"] == "en_US-joe-medium"
    assert job.params["speed"] == 2.0 and job.output["tempo"] == 1.0  # piper's own length scale
    job, _, _ = _speech(db, model="piper", voice="nova")  # an unmapped OpenAI name: the default voice
    assert job.params["voice"] == "en_US-joe-medium"
    with pytest.raises(InvalidInput) as exc:
        _speech(db, model="piper", voice="no_such_voice")
    assert exc.value.code == "voice_not_found" and exc.value.details == {"param": "voice"}


def _refusal(db, tenant: str, **fields) -> tuple:
    """What ``tenant`` is told for a speech request that must be refused: (type, status, code, details, message)."""
    body = SpeechRequest(**{"model": "tts-1", "voice": "alloy", "input": "Hello there.", **fields})
    with db.session() as s:
        tenant_id = get_or_create_tenant(s, tenant).id
        with pytest.raises(VoxfarmError) as exc:
            submit_speech(s, db.test_settings, db.test_store, tenant_id, body)
    e = exc.value
    # the message names the voice (and espeak suggests languages spelled like it): take those out
    message = re.sub(r"; did you mean [^?]*\?", "", re.sub(body.voice, "<voice>", e.message, flags=re.IGNORECASE))
    return type(e).__name__, e.status, e.code, e.details, message


@pytest.mark.parametrize("model", ["espeak", "dia"])
def test_another_tenants_voice_name_is_answered_as_an_unknown_name(db, model):
    """Tenant B naming tenant A's voice learns nothing: the same refusal as a name nobody has, on an
    engine that clones (which would take a registered voice) and on one that does not (which would
    say that it cannot clone it)."""
    db.test_settings = db.test_settings.model_copy(update={"engines": ["espeak", "dia"]})
    store = db.test_store
    with db.session() as s:
        owner = get_or_create_tenant(s, "owner").id
        register_voice(s, db.test_settings, store, owner, name="Secret", transcript="[S1] Only mine.",
                       data=wav_bytes(tone(2.0)))
    taken = _refusal(db, "other", model=model, voice="Secret")
    nobody = _refusal(db, "other", model=model, voice="Ghost")
    assert taken == nobody
    assert taken[2] == "voice_not_found" and taken[3] == {"param": "voice"}
    with db.session() as s:  # and the owner does speak with it on the cloning engine
        job = submit_speech(s, db.test_settings, store, get_or_create_tenant(s, "owner").id,
                            SpeechRequest(model="dia", voice="Secret", input="Hello there."))
        assert job.voice_id is not None
