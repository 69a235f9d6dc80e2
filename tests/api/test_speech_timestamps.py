"""Issue 27: ``POST /v1/audio/speech`` with the voxfarm ``timestamps`` extension.  The API streams over real
HTTP while the job renders in this process (helpers.render_in_process); the reference for each sentence's
start is where sound begins after a pause in the decoded audio itself."""

from __future__ import annotations

import base64
import json
import subprocess
import threading

import numpy as np
from sqlalchemy import select

from voxfarm.core.audio.stitch import ffmpeg_exe
from voxfarm.core.models import Job

from helpers import render_in_process, wait_for

TEXT = "The farm speaks first. Then it keeps talking while the rest is rendered. Finally, it stops."


def decode(data: bytes) -> np.ndarray:
    out = subprocess.run([ffmpeg_exe(), "-v", "error", "-nostdin", "-f", "wav", "-i", "pipe:0", "-f", "f32le",
                          "-ac", "1", "-ar", "16000", "pipe:1"], input=data, capture_output=True, check=True)
    return np.frombuffer(out.stdout, "<f4")


def onsets(audio: np.ndarray) -> list[float]:
    """Starts of sound after at least 150 ms of quiet."""
    win = 160
    loud = np.sqrt(np.mean(audio[: audio.size // win * win].reshape(-1, win) ** 2, axis=1)) > 0.01
    out, quiet = [], 99
    for i, on in enumerate(loud):
        if on and quiet >= 15:
            out.append(i / 100)
        quiet = 0 if on else quiet + 1
    return out


def _render_newest_job(api) -> None:
    def newest():
        with api.db.session() as s:
            return s.scalar(select(Job.id).where(Job.status == "queued").order_by(Job.created_at.desc()))
    render_in_process(api.settings, wait_for(newest, timeout=60, what="the speech job"))


def _check(segments: list[dict], audio: np.ndarray) -> None:
    assert [s["text"] for s in segments] == ["The farm speaks first.", "Then it keeps talking while the rest is "
                                             "rendered.", "Finally, it stops."]
    heard = onsets(audio)
    assert all(a["start"] <= b["start"] for a, b in zip(segments, segments[1:], strict=False))
    assert segments[-1]["end"] <= audio.size / 16000 + 0.05
    for seg in segments:
        assert min(abs(seg["start"] - t) for t in heard) < 0.2, (seg, heard)


def test_sse_sends_each_chunks_times_before_its_audio(api):
    client = api.client()
    body = {"model": "tts-1", "voice": "alloy", "input": TEXT, "stream_format": "sse", "response_format": "wav",
            "timestamps": True}
    renderer = threading.Thread(target=_render_newest_job, args=(api,))
    renderer.start()
    with client.session.post(f"{api.url}/v1/audio/speech", json=body, stream=True, timeout=120) as resp:
        assert resp.status_code == 200 and resp.headers["Content-Type"].startswith("text/event-stream")
        events = [json.loads(line[6:]) for line in resp.iter_lines(decode_unicode=True) if line.startswith("data: ")]
    renderer.join(timeout=120)
    assert events[-1]["type"] == "speech.audio.done"
    sent, segments = b"", []
    for e in events:
        if e["type"] == "speech.audio.delta":
            sent += base64.b64decode(e["audio"])
        elif e["type"] == "speech.timestamps.delta":  # announced before the audio they time
            rate = int.from_bytes(sent[24:28], "little") if len(sent) >= 44 else 22_050
            played = max(0, len(sent) - 44) / 2 / rate
            assert all(seg["start"] >= played - 0.02 for seg in e["segments"]), (e, played)
            segments += e["segments"]
    _check(segments, decode(sent))


def test_without_sse_the_answer_is_one_json_document(api):
    client = api.client()
    body = {"model": "tts-1", "voice": "alloy", "input": TEXT, "response_format": "wav", "timestamps": True}
    renderer = threading.Thread(target=_render_newest_job, args=(api,))
    renderer.start()
    resp = client.session.post(f"{api.url}/v1/audio/speech", json=body, timeout=120)
    renderer.join(timeout=120)
    assert resp.status_code == 200 and resp.headers["Content-Type"].startswith("application/json")
    doc = resp.json()
    assert doc["job_id"] == resp.headers["X-Job-Id"] and doc["content_type"] == "audio/wav" and doc["words"] == []
    _check(doc["segments"], decode(base64.b64decode(doc["audio"])))
    plain = client.session.post(f"{api.url}/v1/audio/speech", json={**body, "timestamps": False}, stream=True,
                                timeout=30)
    assert plain.headers["Content-Type"] == "audio/wav"  # the OpenAI default is untouched
    plain.close()
