"""Read-back on the worker with the real recogniser: Whisper tiny.en from the asr extra (faster-whisper)
hears real piper speech.  The engine is the real piper engine behind a wrapper that drops the last two
words of chosen takes (the text it renders is cut, so the audio really lacks them): the gate must hear
that, re-render, and keep a whole take, or keep the best and flag the chunk when none is whole."""

from __future__ import annotations

import shutil
import subprocess
import sys

import numpy as np
import pytest
from sqlalchemy import select

from voxfarm.core.db import Database
from voxfarm.core.engines.hearing import asr_model_dir
from voxfarm.core.jobs.planning import derive_seed
from voxfarm.core.jobs.serialize import chunk_resource, job_resource
from voxfarm.core.models import Chunk, Job
from voxfarm.core.render.readback import judge
from voxfarm.core.settings import Settings
from voxfarm.core.storage import open_store
from voxfarm.worker.engines.base import Engine, RenderRequest, RenderResult, create_engine
from voxfarm.worker.readback import Listener, Recogniser
from voxfarm.worker.runtime import Runtime

from helpers import ROOT, ListPublisher, settings_env, submit_job_direct

TEXT = "The keeper climbed the narrow stairs and lit the lamp. The boats came home safely before the storm."


@pytest.fixture(scope="module")
def recogniser() -> Recogniser:
    return Recogniser(asr_model_dir(Settings()), threads=2).load()


@pytest.fixture(scope="module")
def piper(tmp_path_factory):
    engine = create_engine("piper", Settings(data_dir=tmp_path_factory.mktemp("var"), onnx_intra_op_threads=2))
    engine.load()
    return engine


class Dropping(Engine):
    """The real engine; a take listed in ``drop`` (by how many takes of that text came before it)
    is rendered without its last two words."""

    def __init__(self, settings, inner: Engine, drop) -> None:
        super().__init__(settings)
        self.spec, self.inner, self.drop = inner.spec, inner, drop
        self.takes: dict[str, list[int]] = {}  # text -> seeds rendered

    def load(self) -> None:
        self.loaded = True

    def generate_batch(self, requests: list[RenderRequest]) -> list[RenderResult]:
        sent = []
        for r in requests:
            seen = self.takes.setdefault(r.text, [])
            text = " ".join(r.text.split()[:-2]) if self.drop(len(seen)) else r.text
            seen.append(r.seed)
            sent.append(RenderRequest(r.key, text, r.params, r.seed, r.voice))
        return self.inner.generate_batch(sent)


@pytest.fixture
def farm(tmp_path, recogniser, piper):
    made = []

    def make(drop=lambda n: False, *, listener: bool = True, engine: Engine | None = None, **overrides):
        from voxfarm.core.migrate import upgrade

        settings = Settings(data_dir=tmp_path / "var", engines=["piper", "espeak"], readback=listener,
                            quality_retries=2, **overrides)
        upgrade(settings)
        db = Database(settings)
        db.test_settings, db.test_store = settings, open_store(settings)
        engine = engine or Dropping(settings, piper, drop)
        engine.load()
        rt = Runtime(settings, engine.spec.name, name="unit")
        rt.attach(db, db.test_store, ListPublisher(), engine, max_batch_size=4, max_wait_ms=5,
                  readback=Listener(recogniser, settings) if listener else None)
        rt._booted.set()
        made.append(rt)
        return rt, db, engine

    yield make
    for rt in made:
        rt.batcher.close()


def _run(rt, db, text=TEXT, **kw):
    kw.setdefault("engine", "piper")
    job_id, chunk_ids = submit_job_direct(db, text, webhook=None, quality={"readback": True}, **kw)
    for chunk_id in chunk_ids:
        rt.render_chunk(chunk_id)
    if len(chunk_ids) > 1:
        rt.finalize_job(job_id)
    with db.session() as s:
        job = s.get(Job, job_id)
        chunks = [chunk_resource(c) for c in s.scalars(select(Chunk).where(Chunk.job_id == job_id).order_by(Chunk.idx))]
        return job_resource(job, db.test_store, db.test_settings), chunks, job.seed


def test_the_bundled_model_hears_piper_word_for_word(recogniser, piper):
    assert recogniser.languages == frozenset({"en"}) and recogniser.model_id.startswith("whisper:model@")
    audio = piper.generate_batch([RenderRequest("k", TEXT, {}, 1)])[0].audio
    words = recogniser.transcribe(audio, piper.spec.sample_rate)
    v = judge(TEXT, words, recogniser.normalize, max_wer=0.3)
    assert v.status == "passed" and v.wer <= 0.1, v
    starts = [w.start for w in words]
    assert starts == sorted(starts) and 0 <= starts[0] < 1.0 and words[-1].end <= audio.size / 22_050 + 0.1
    cut = piper.generate_batch([RenderRequest("k", " ".join(TEXT.split()[:-2]), {}, 1)])[0].audio
    v = judge(TEXT, recogniser.transcribe(cut, 22_050), recogniser.normalize, max_wer=0.3)
    assert v.status == "failed" and v.missing["end"] == ["the", "storm"]


def test_a_take_missing_its_last_words_is_rendered_again_with_a_new_seed(farm):
    rt, db, engine = farm(drop=lambda n: n % 2 == 0)  # the first take of each text drops two words
    job, chunks, job_seed = _run(rt, db)
    assert job["status"] == "succeeded"
    [chunk] = chunks
    assert engine.takes[chunk["text"]] == [chunk["seed"], derive_seed(job_seed, chunk["text"], 1)]
    assert chunk["quality_retries"] == 1 and chunk["take_seed"] == derive_seed(job_seed, chunk["text"], 1)
    assert chunk["readback"] == "passed" and not chunk["readback_flagged"] and chunk["readback_wer"] <= 0.1
    assert chunk["readback_missing"]["end"] == [] and "storm" in chunk["readback_text"].lower()


def test_a_job_whose_every_take_drops_words_succeeds_with_its_chunks_flagged(farm):
    rt, db, engine = farm(drop=lambda n: True, chunk_target_s={"piper": 4.0})
    job, chunks, _ = _run(rt, db)
    assert job["status"] == "succeeded" and len(chunks) == 2
    for chunk in chunks:
        assert len(engine.takes[chunk["text"]]) == 3  # 1 + quality_retries takes, then the best is kept
        assert chunk["readback"] == "flagged" and chunk["readback_flagged"] and chunk["quality_retries"] == 2
        assert len(chunk["readback_missing"]["end"]) == 2
    assert job["readback"]["flagged_chunks"] == [0, 1] and job["readback"]["chunks"] == 2
    assert job["readback"]["words"] == len(TEXT.split()) and job["readback"]["wer"] >= 4 / len(TEXT.split()) - 1e-3
    assert "words.json" in job["result"]["files"] and "captions.vtt" in job["result"]["files"]


def test_a_cache_hit_is_heard_and_recorded_not_rerendered(farm):
    rt, db, engine = farm()
    _run(rt, db)
    job, [chunk], _ = _run(rt, db)
    assert chunk["cache_hit"] and len(engine.takes[TEXT]) == 1
    assert chunk["readback"] == "passed" and chunk["readback_wer"] is not None


def test_a_take_heard_as_empty_is_a_failed_take_not_a_crash(farm, piper):
    class SilentFirst(Dropping):
        def generate_batch(self, requests):
            out = super().generate_batch(requests)
            for r, res in zip(requests, out, strict=True):
                if len(self.takes[r.text]) == 1:
                    res.audio = np.zeros_like(res.audio)
            return out

    settings = Settings(onnx_intra_op_threads=2)
    rt, db, engine = farm(engine=SilentFirst(settings, piper, lambda n: False), quality_gate=False)
    job, [chunk], _ = _run(rt, db)
    assert job["status"] == "succeeded" and chunk["quality_retries"] == 1 and chunk["readback"] == "passed"


def test_a_worker_without_a_recogniser_renders_the_job_and_says_it_was_not_heard(farm):
    rt, db, engine = farm(listener=False)
    job, [chunk], _ = _run(rt, db)
    assert job["status"] == "succeeded" and job["quality"] == {"readback": True}
    assert chunk["readback"] == "skipped" and not chunk["readback_flagged"] and chunk["readback_wer"] is None
    assert "no recogniser" in chunk["readback_reason"]
    assert job["readback"] is None or job["readback"]["skipped_chunks"] == 1


def test_speech_in_a_language_the_recogniser_cannot_hear_is_skipped(farm, tmp_path):
    espeak = create_engine("espeak", Settings(data_dir=tmp_path / "e"))
    rt, db, _ = farm(engine=espeak)
    job, [chunk], _ = _run(rt, db, "Bonjour tout le monde.", engine="espeak", params={"language": "fr"})
    assert job["status"] == "succeeded" and chunk["readback"] == "skipped" and "'fr'" in chunk["readback_reason"]


def test_a_worker_whose_model_is_missing_or_corrupt_exits_at_boot_naming_it(settings, tmp_path):
    corrupt = tmp_path / "corrupt-whisper"
    shutil.copytree(asr_model_dir(Settings()), corrupt)
    (corrupt / "model.bin").write_bytes(b"\0" * 4096)
    for model, says in ((tmp_path / "no-such-model", "no model.bin, config.json"), (corrupt, "does not load")):
        env = settings_env(settings, readback="true", asr_model=str(model), engines="espeak")
        done = subprocess.run([sys.executable, "-m", "voxfarm", "worker", "--engine", "espeak", "--name", "rb"],
                              env=env, cwd=ROOT, capture_output=True, text=True, timeout=300)
        out = done.stdout + done.stderr
        assert done.returncode == 3 and str(model) in out and says in out, out[-3000:]
        assert " ready." not in out
