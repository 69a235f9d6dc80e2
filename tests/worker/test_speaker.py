"""The speaker encoder (real speechbrain ECAPA-TDNN, tiny random weights) and the speaker gate in
the worker runtime.  The engine is a fake cloning engine behind the real interface: its take for a
seed is a tone whose pitch the seed picks, so which take the gate keeps can be checked exactly."""

from __future__ import annotations

import numpy as np
import pytest
from sqlalchemy import select

from voxfarm.core.db import Database
from voxfarm.core.engines.registry import ENGINES
from voxfarm.core.jobs.planning import derive_seed
from voxfarm.core.jobs.serialize import chunk_resource, voice_resource
from voxfarm.core.models import Chunk, Job, Outbox, Voice
from voxfarm.core.settings import Settings
from voxfarm.core.state.outbox import EMBED_TASK
from voxfarm.core.storage import open_store
from voxfarm.core.tenants.accounts import get_or_create_tenant
from voxfarm.core.voices import registry as core_voices
from voxfarm.core.voices.speaker import cosine
from voxfarm.worker.engines.base import Engine, PreparedVoice, RenderRequest, RenderResult
from voxfarm.worker.runtime import Runtime
from voxfarm.worker.speaker import SpeakerEncoder, SpeakerGates
from voxfarm.worker.voices import VoiceCache

from helpers import ListPublisher, submit_job_direct, tone, wav_bytes

RATE = ENGINES["zipvoice"].sample_rate


def take_audio(text: str, seed: int) -> np.ndarray:
    seconds = len(text) / ENGINES["zipvoice"].chars_per_second
    rng = np.random.default_rng(seed)
    return (tone(seconds, RATE, 110 + seed % 700) + 0.05 * rng.standard_normal(int(seconds * RATE))).astype(np.float32)


class SeedTones(Engine):
    spec = ENGINES["zipvoice"]

    def __init__(self, settings) -> None:
        super().__init__(settings)
        self.seen: list[int] = []

    def load(self) -> None:
        self.loaded = True

    def prepare_voice(self, audio, rate, transcript):
        return PreparedVoice(transcript=transcript, data=b"")

    def voice_to_bytes(self, voice) -> bytes:
        return b""

    def voice_from_bytes(self, data, transcript):
        raise ValueError("not cached")

    def generate_batch(self, requests: list[RenderRequest]) -> list[RenderResult]:
        self.seen.extend(r.seed for r in requests)
        return [RenderResult(audio=take_audio(r.text, r.seed), steps=1) for r in requests]


@pytest.fixture(scope="module")
def encoder(tiny_ecapa):
    return SpeakerEncoder(str(tiny_ecapa)).load()


def test_the_encoder_loads_from_a_local_directory_and_embeds(encoder, tiny_ecapa, tmp_path):
    a = encoder.embed(tone(2.0, 44_100, 220), 44_100)
    assert a.shape == (192,) and a.dtype == np.float32 and np.isfinite(a).all()
    assert np.array_equal(a, encoder.embed(tone(2.0, 44_100, 220), 44_100))  # deterministic
    assert encoder.model_id.startswith("ecapa:ecapa-tiny@")
    assert cosine(a, encoder.embed(take_audio("x" * 40, 3), RATE)) < 0.999  # it tells inputs apart
    with pytest.raises(FileNotFoundError, match="embedding_model.ckpt"):
        SpeakerEncoder(str(tmp_path)).load()


@pytest.fixture
def gated(tmp_path, tiny_ecapa, encoder):
    made = []

    def make(**overrides):
        from voxfarm.core.migrate import upgrade

        settings = Settings(data_dir=tmp_path / "var", engines=["zipvoice"], speaker_model=str(tiny_ecapa),
                            quality_gate=False, quality_retries=2, **overrides)
        upgrade(settings)
        db = Database(settings)
        db.test_settings, db.test_store = settings, open_store(settings)
        rt = Runtime(settings, "zipvoice", name="unit")
        engine = SeedTones(settings)
        engine.load()
        rt.voices = VoiceCache(engine, db.test_store)
        rt.attach(db, db.test_store, ListPublisher(), engine, max_batch_size=4, max_wait_ms=5,
                  speaker=SpeakerGates(encoder, db, db.test_store, settings))
        rt._booted.set()
        with db.session() as s:
            tenant = get_or_create_tenant(s, "acme")
            voice = core_voices.register_voice(s, settings, rt.store, tenant.id, name="Ann",
                                               transcript="I am Ann.", data=wav_bytes(tone(4.0, 44_100, 200)))
            voice_id = voice.id
            tasks = list(s.scalars(select(Outbox.task).where(Outbox.args == [voice_id])))
        made.append(rt)
        return rt, db, voice_id, tasks

    yield make
    for rt in made:
        rt.batcher.close()


def _render(rt, db, voice_id):
    job_id, [chunk_id] = submit_job_direct(db, "Words in a cloned voice.", webhook=None, engine="zipvoice",
                                           voice_id=voice_id)
    rt.render_chunk(chunk_id)
    with db.session() as s:
        return s.get(Job, job_id).status, chunk_resource(s.get(Chunk, chunk_id)), s.get(Job, job_id).seed


def test_registration_queues_the_embedding_and_the_task_stores_it(gated):
    rt, db, voice_id, tasks = gated(speaker_threshold=-1.0)
    assert tasks == [EMBED_TASK]
    rt.embed_voice(voice_id)
    with db.session() as s:
        voice = s.get(Voice, voice_id)
        shown = voice_resource(voice, embedding=True)
        assert len(voice.embedding) == 192 and voice.embedding_model == rt.speaker.encoder.model_id
        assert -1 <= voice.embedding_self_similarity <= 1
        first = list(voice.embedding)
    assert shown["embedding_model"] == rt.speaker.encoder.model_id and shown["embedding"] == first
    rt.embed_voice(voice_id)  # a redelivered task changes nothing
    with db.session() as s:
        assert s.get(Voice, voice_id).embedding == first


def test_every_chunk_records_its_similarity(gated):
    rt, db, voice_id, _ = gated(speaker_threshold=-1.0)  # every take passes
    status, chunk, _ = _render(rt, db, voice_id)  # the render worker embeds the voice on first use
    assert status == "succeeded"
    assert chunk["speaker_similarity"] is not None and chunk["quality_retries"] == 0
    assert chunk["take_seed"] == chunk["seed"] and chunk["speaker_flagged"] is False
    with db.session() as s:
        vec = s.get(Voice, voice_id).embedding
    want = cosine(rt.speaker.encoder.embed(take_audio(chunk["text"], chunk["seed"]), RATE), vec)
    assert chunk["speaker_similarity"] == pytest.approx(want, abs=2e-3)


def test_a_take_below_the_threshold_is_rerendered_with_a_new_seed(gated):
    """The voice's embedding is forced to the second take's: only that take reaches 0.999."""
    rt, db, voice_id, _ = gated(speaker_threshold=0.999)
    text = "Words in a cloned voice."
    rt.embed_voice(voice_id)
    job_id, [chunk_id] = submit_job_direct(db, text, webhook=None, engine="zipvoice", voice_id=voice_id)
    with db.session() as s:
        job_seed, seed = s.get(Job, job_id).seed, s.get(Chunk, chunk_id).seed
        second = derive_seed(job_seed, text, 1)
        s.get(Voice, voice_id).embedding = [float(x) for x in rt.speaker.encoder.embed(take_audio(text, second), RATE)]
    rt.render_chunk(chunk_id)
    with db.session() as s:
        chunk = chunk_resource(s.get(Chunk, chunk_id))
        assert s.get(Job, job_id).status == "succeeded"
    assert rt.engine.seen == [seed, second]
    assert chunk["take_seed"] == second != chunk["seed"] and chunk["quality_retries"] == 1
    assert chunk["speaker_similarity"] >= 0.999 and chunk["speaker_flagged"] is False


def test_out_of_retries_the_most_similar_take_is_kept_and_flagged(gated):
    rt, db, voice_id, _ = gated(speaker_threshold=1.0)  # no take can reach it
    status, chunk, job_seed = _render(rt, db, voice_id)
    assert status == "succeeded"  # similarity alone never fails a job
    seeds = [chunk["seed"], *(derive_seed(job_seed, chunk["text"], n) for n in (1, 2))]
    assert rt.engine.seen == seeds and chunk["quality_retries"] == 2 and chunk["speaker_flagged"] is True
    with db.session() as s:
        vec = s.get(Voice, voice_id).embedding
    sims = [cosine(rt.speaker.encoder.embed(take_audio(chunk["text"], sd), RATE), vec) for sd in seeds]
    assert chunk["take_seed"] == seeds[int(np.argmax(sims))]
    assert chunk["speaker_similarity"] == pytest.approx(max(sims), abs=2e-3)
