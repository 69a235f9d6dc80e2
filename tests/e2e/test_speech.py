"""Issue 15: the OpenAI-compatible /v1/audio/speech, streamed from the farm, with the official
``openai`` SDK as the client.

Real processes: the API under gunicorn and an espeak worker (render lanes, control, webhooks) over
PostgreSQL, Redis and S3 (moto), with embedded fallbacks off-CI.  Streaming claims are checked
against the chunk records in the database, never against a timer.
"""

from __future__ import annotations

import base64
import json
import os
import signal
import subprocess
import threading

import numpy as np
import pytest
from openai import OpenAI
from sqlalchemy import select

from voxfarm.core.audio.stitch import ffmpeg_exe
from voxfarm.core.clock import utcnow
from voxfarm.core.db import Database
from voxfarm.core.models import Chunk

from helpers import ApiClient, create_key, start_api, start_worker, wait_for

QUEUES = "tts.espeak.interactive,tts.espeak,control,webhooks"
TEXT = "The farm speaks first. Then it keeps talking while the rest is rendered. Finally, it stops."
LONG = " ".join(f"Sentence number {i} is spoken while the farm renders the others." for i in range(16))
# more chunks than one espeak batch holds (8): they finish over several batches, so a stream that
# stopped after the chunks done at its first look, or after the first chunk, would come up short
MANY = " ".join(f"Part {i} of the answer is a sentence of its own." for i in range(12))
DEMUX = {"mp3": ["-f", "mp3"], "opus": ["-f", "ogg"], "aac": ["-f", "aac"], "flac": ["-f", "flac"],
         "wav": ["-f", "wav"], "pcm": ["-f", "s16le", "-ar", "24000", "-ac", "1"]}


def decode(data: bytes, fmt: str) -> np.ndarray:
    """Decode with ffmpeg, forcing the demuxer the format names, to mono float at 16 kHz."""
    out = subprocess.run([ffmpeg_exe(), "-v", "error", "-nostdin", *DEMUX[fmt], "-i", "pipe:0", "-f", "f32le",
                          "-ac", "1", "-ar", "16000", "pipe:1"], input=data, capture_output=True, check=True)
    return np.frombuffer(out.stdout, "<f4")


def seconds(audio: np.ndarray) -> float:
    return audio.size / 16000


def speechy(audio: np.ndarray) -> bool:
    return audio.size > 0 and float(np.sqrt(np.mean(audio.astype(np.float64) ** 2))) > 0.01


@pytest.fixture
def farm(prod_settings, tmp_path):
    settings = prod_settings.model_copy(update={"engines": ["espeak"]})
    api, url = start_api(settings, tmp_path)
    worker = start_worker(settings, tmp_path, name="w1", queues=QUEUES)
    key = create_key(settings, "acme")
    db = Database(settings)
    yield settings, url, key, worker, db
    db.dispose()
    for proc in (worker, api):
        proc.stop()


def sdk(url: str, key: str) -> OpenAI:
    return OpenAI(api_key=key, base_url=f"{url}/v1", max_retries=0, timeout=120)


def chunk_rows(db: Database, job_id: str) -> list[Chunk]:
    with db.session() as s:
        rows = list(s.scalars(select(Chunk).where(Chunk.job_id == job_id).order_by(Chunk.idx)))
        s.expunge_all()
        return rows


@pytest.mark.parametrize("model,voice", [("tts-1", "alloy")])
def test_sdk_speech_in_all_six_formats(farm, model, voice):
    settings, url, key, _worker, db = farm
    client, api = sdk(url, key), ApiClient(url, key)
    for fmt in ("mp3", "opus", "aac", "flac", "wav", "pcm"):
        resp = client.audio.speech.with_raw_response.create(model=model, voice=voice, input=MANY,
                                                            response_format=fmt)
        streamed = decode(resp.content, fmt)
        job_id = resp.headers["x-job-id"]
        assert speechy(streamed), fmt
        # the job behind the stream is an ordinary job: listed, finalized into a stored file
        job = api.wait(job_id)
        assert job["status"] == "succeeded" and job["result"]["format"] == fmt, job
        assert job["priority"] == settings.speech_priority and job["progress"]["total"] > 8
        assert any(j["id"] == job_id for j in api.get("/v1/jobs").json()["data"])
        stored = decode(api.get(f"/v1/jobs/{job_id}/audio").content, fmt)
        # reference: the stored file was stitched by the control worker, independently of the
        # stream; the same chunks with the same trims and pauses last as long (within 2 x 10 ms
        # fades per chunk and the codecs' frame padding)
        assert abs(seconds(streamed) - seconds(stored)) < 0.25, (fmt, seconds(streamed), seconds(stored))
        # the whole text arrived: every chunk's audio with a sentence pause after each but the last
        # (trims and fades take under 0.1 s a chunk)
        rows = chunk_rows(db, job_id)
        whole = sum(c.duration_s for c in rows) + (len(rows) - 1) * settings.pause_sentence_ms / 1000
        assert abs(seconds(streamed) - whole) < 0.1 * len(rows), (fmt, seconds(streamed), whole)
    wav = client.audio.speech.create(model="espeak", voice="en-us", input=TEXT, response_format="wav").content
    assert wav[:4] == b"RIFF" and wav[4:8] == b"\xff\xff\xff\xff"  # a streaming header: size unknown


def test_first_audio_arrives_before_the_last_chunk_renders(farm):
    _settings, url, key, worker, db = farm
    with sdk(url, key).audio.speech.with_streaming_response.create(
            model="espeak", voice="alloy", input=LONG, response_format="opus") as resp:
        job_id = resp.headers["x-job-id"]
        wait_for(lambda: chunk_rows(db, job_id)[0].status == "done", timeout=60, interval=0.005,
                 what="the first chunk")
        os.kill(worker.pid, signal.SIGSTOP)  # hold the farm still: what the client gets now came early
        try:
            pieces = resp.iter_bytes()
            first = next(pieces)
            first_at = utcnow()
            at_first = chunk_rows(db, job_id)
        finally:
            os.kill(worker.pid, signal.SIGCONT)
        rest = b"".join(pieces)
    assert first and at_first[0].idx == 0 and len(at_first) >= 10
    assert at_first[0].text.count(".") == 1  # the first chunk was planned as one short sentence
    pending = [c.idx for c in at_first if c.status != "done"]
    assert pending, "every chunk had rendered before the first byte: nothing was streamed early"
    ApiClient(url, key).wait(job_id)
    finished = chunk_rows(db, job_id)
    assert all(c.status == "done" for c in finished)
    assert max(c.finished_at for c in finished) > first_at  # the last chunk rendered after the first byte
    audio = decode(first + rest, "opus")  # one continuous Ogg stream, whole
    assert speechy(audio) and seconds(audio) > 0.8 * sum(c.duration_s for c in finished)


def test_sse_stream_carries_base64_deltas_and_a_done_event(farm):
    _settings, url, key, _worker, _db = farm
    with sdk(url, key).audio.speech.with_streaming_response.create(
            model="tts-1-hd", voice="echo", input=TEXT, response_format="mp3", stream_format="sse") as resp:
        assert resp.headers["content-type"].startswith("text/event-stream")
        events = [json.loads(line[5:]) for line in resp.iter_lines() if line.startswith("data:")]
    deltas = [e for e in events if e["type"] == "speech.audio.delta"]
    assert deltas and events[-1]["type"] == "speech.audio.done" and events[-1]["usage"]["input_tokens"] == len(TEXT)
    assert speechy(decode(b"".join(base64.b64decode(e["audio"]) for e in deltas), "mp3"))


def test_client_that_leaves_cancels_the_remaining_chunks(farm):
    _settings, url, key, worker, db = farm
    text = " ".join(f"Sentence number {i} is spoken while the farm renders the others." for i in range(40))
    with sdk(url, key).audio.speech.with_streaming_response.create(
            model="espeak", voice="alloy", input=text, response_format="mp3") as resp:
        job_id = resp.headers["x-job-id"]
        wait_for(lambda: chunk_rows(db, job_id)[0].status == "done", timeout=60, interval=0.005,
                 what="the first chunk")
        # no worker from here on (a killed one holds no row locks, unlike a stopped one), so
        # whatever is not done now can only end canceled
        worker.kill()
        next(resp.iter_bytes())
    # the connection is closed; the API notices while it waits for the next chunk
    job = ApiClient(url, key).wait(job_id, timeout=30)
    rows = chunk_rows(db, job_id)
    assert job["status"] == "canceled" and job["error"]["code"] == "canceled"
    assert {c.status for c in rows} <= {"done", "canceled"} and any(c.status == "canceled" for c in rows)


def test_job_survives_the_api_dying_mid_stream(farm, tmp_path):
    settings, url, key, _worker, _db = farm
    api2, url2 = start_api(settings, tmp_path)
    with sdk(url2, key).audio.speech.with_streaming_response.create(
            model="espeak", voice="alloy", input=LONG, response_format="flac") as resp:
        job_id = resp.headers["x-job-id"]
        next(resp.iter_bytes())
        api2.kill()  # SIGKILL: no cleanup, no cancel
    job = ApiClient(url, key).wait(job_id)  # the other API process answers for the same farm
    assert job["status"] == "succeeded"
    assert speechy(decode(ApiClient(url, key).get(f"/v1/jobs/{job_id}/audio").content, "flac"))


def test_idempotent_replay_streams_the_same_job(farm):
    _settings, url, key, _worker, _db = farm
    client = sdk(url, key)
    first = client.audio.speech.with_raw_response.create(model="espeak", voice="alloy", input=TEXT,
                                                         extra_headers={"Idempotency-Key": "speech-1"})
    again = client.audio.speech.with_raw_response.create(model="espeak", voice="alloy", input=TEXT,
                                                         extra_headers={"Idempotency-Key": "speech-1"})
    assert first.headers["x-job-id"] == again.headers["x-job-id"]
    assert abs(seconds(decode(first.content, "mp3")) - seconds(decode(again.content, "mp3"))) < 0.05


BULK = " ".join(f"Bulk line {i}." for i in range(120))


@pytest.mark.parametrize("shape", ["distributed", "embedded"])
def test_interactive_request_overtakes_a_bulk_backlog(shape, request, tmp_path):
    """120 bulk chunks are queued on the engine before the interactive request; it must finish
    while most of the backlog is still waiting (from the chunk records).  Both brokers: Redis,
    and kombu's filesystem transport of the embedded farm."""
    base = request.getfixturevalue("prod_settings" if shape == "distributed" else "settings")
    settings = base.model_copy(update={"engines": ["espeak"], "chunk_target_s": {"espeak": 0.5}})
    env = {"chunk_target_s": '{"espeak": 0.5}'}
    api, url = start_api(settings, tmp_path, **env)
    key = create_key(settings, "acme")
    http = ApiClient(url, key)
    bulk = http.post("/v1/jobs", json={"text": BULK}).json()
    assert bulk["progress"]["total"] >= 100
    got: dict = {}

    def listen():
        with sdk(url, key).audio.speech.with_streaming_response.create(
                model="espeak", voice="alloy", input=TEXT, response_format="pcm") as resp:
            got["job_id"] = resp.headers["x-job-id"]
            got["audio"] = resp.read()

    listener = threading.Thread(target=listen)
    listener.start()
    wait_for(lambda: "job_id" in got, timeout=30, what="the speech job")
    worker = start_worker(settings, tmp_path, name="w1", queues=QUEUES, **env)  # the backlog is in front
    db = Database(settings)
    try:
        listener.join(timeout=120)
        http.wait(bulk["id"], timeout=300)
        interactive = chunk_rows(db, got["job_id"])
        backlog = chunk_rows(db, bulk["id"])
    finally:
        db.dispose()
        worker.stop()
        api.stop()
    assert speechy(decode(got["audio"], "pcm"))
    done_at = max(c.finished_at for c in interactive)
    before = sum(c.finished_at <= done_at for c in backlog)
    # FIFO renders all 120 first (the reference this bound tells apart); with the lanes only what
    # was already prefetched or published in the dispatch window (32) gets by -- up to 46 of 120
    # on the embedded filesystem broker on a loaded 2-core CI box, whose polling is slower
    assert before <= len(backlog) // 2, (before, len(backlog))
    assert max(c.finished_at for c in backlog) > done_at
