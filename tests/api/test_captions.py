"""Issue 27 through the API: captions for every book, read-back with the real recogniser (Whisper tiny.en,
asr extra) on a piper book, and what GET /v1/engines says.  Renders in process (helpers.render_in_process).

Independent references: chapter marks as ffprobe reads them from the m4b, caption files read by a strict
parser written from the formats (tests/captions_check.py), and the engine-alone WER scored by jiwer.
"""

from __future__ import annotations

import jiwer
import numpy as np
import soundfile as sf
from whisper_normalizer.english import EnglishTextNormalizer

from tests.captions_check import parse_srt, parse_vtt
from voxfarm.core.engines.hearing import asr_model_dir
from voxfarm.core.settings import Settings
from voxfarm.core.text.chunking import sentences
from voxfarm.worker.engines.base import RenderRequest, create_engine
from voxfarm.worker.readback import Recogniser

from helpers import ffprobe, render_in_process

BOOK = ("# The Harbour\n\nThe keeper climbed the narrow stairs and lit the lamp. The boats came home safely before "
        "the storm.\n\nShe opened the window and looked out at the garden. The birds were singing in the trees.\n\n"
        "# The Storm\n\nThe wind rose in the evening and the sea grew dark. Every window in the village was shut "
        "against the rain.\n\n# The Morning\n\nWhen the sun came up the harbour was quiet again. The children ran "
        "down to the water to look for shells.")


def _file(client, job: dict, name: str) -> bytes:
    resp = client.get(f"/v1/jobs/{job['id']}/files/{name}", allow_redirects=True)
    assert resp.status_code == 200, resp.text[:300]
    return resp.content


def test_a_three_chapter_book_gets_captions_that_a_strict_parser_reads(make_api, tmp_path):
    api = make_api()
    client = api.client()
    job = client.post("/v1/jobs", json={"text": BOOK, "output": {"format": "m4b", "per_chapter": True}}).json()
    render_in_process(api.settings, job["id"])
    job = client.get(f"/v1/jobs/{job['id']}").json()
    assert job["status"] == "succeeded" and job["quality"] == {"readback": False} and job["readback"] is None
    files = job["result"]["files"]
    assert {"captions.vtt", "captions.srt", "captions-chapter-001.vtt", "captions-chapter-003.srt"} <= set(files)
    assert "words.json" not in files  # word times come from read-back only
    path = tmp_path / "book.m4b"
    path.write_bytes(client.get(f"/v1/jobs/{job['id']}/audio", allow_redirects=True).content)
    probe = ffprobe(path)
    duration = float(probe["format"]["duration"])
    marks = [float(c["start_time"]) for c in probe["chapters"]]
    cues = parse_vtt(_file(client, job, "captions.vtt").decode())
    assert len(marks) == 3 and len(cues) >= 9
    assert all(a.start <= b.start for a, b in zip(cues, cues[1:], strict=False))
    assert all(0 <= c.start < c.end <= duration + 0.05 for c in cues)
    for title, mark in zip(["The Harbour", "The Storm", "The Morning"], marks, strict=True):
        first = next(c for c in cues if c.start >= mark - 0.05)
        assert abs(first.start - mark) <= 0.05 and title in first.text, (first, mark)
    assert [c.text for c in parse_srt(_file(client, job, "captions.srt").decode())] == [c.text for c in cues]
    second = parse_vtt(_file(client, job, "captions-chapter-002.vtt").decode())
    assert second[0].start <= 0.05 and "The Storm" in second[0].text
    assert second[-1].end <= marks[2] - marks[1] + 0.05


def test_a_piper_book_read_back_scores_like_the_engine_alone(make_api):
    api = make_api(engines=["espeak", "piper"], readback=True)
    client = api.client()
    engines = {e["name"]: e["readback"] for e in client.get("/v1/engines").json()["data"]}
    assert engines["piper"]["enabled"] and engines["piper"]["languages"] == ["en"] and engines["piper"]["default"]
    job = client.post("/v1/jobs", json={"text": BOOK, "engine": "piper"}).json()
    assert job["quality"] == {"readback": True}  # the farm's default, decided at submit
    render_in_process(api.settings, job["id"], "piper")
    job = client.get(f"/v1/jobs/{job['id']}").json()
    assert job["status"] == "succeeded"
    chunks = client.get(f"/v1/jobs/{job['id']}/chunks").json()["chunks"]
    assert chunks and all(c["readback"] in ("passed", "flagged") and c["readback_wer"] is not None for c in chunks)
    words = __import__("json").loads(_file(client, job, "words.json"))
    assert len(words) == sum(len((c.get("spoken_text") or c["text"]).split()) for c in chunks)
    assert all(a["start"] <= b["start"] for a, b in zip(words, words[1:], strict=False))
    # the engine alone, sentence by sentence, heard by the same recogniser and scored by jiwer
    piper = create_engine("piper", Settings(onnx_intra_op_threads=2))
    piper.load()
    recogniser = Recogniser(asr_model_dir(Settings()), threads=2).load()
    norm = EnglishTextNormalizer()
    refs, hyps = [], []
    for line in BOOK.splitlines():
        for sentence in sentences(line.lstrip("# ")) if line.strip() else []:
            audio = piper.generate_batch([RenderRequest("k", sentence, {}, 1)])[0].audio
            refs.append(norm(sentence))
            hyps.append(norm(" ".join(w.word for w in recogniser.transcribe(audio, 22_050))))
    alone = jiwer.wer(refs, hyps)
    assert job["readback"]["words"] == sum(len(r.split()) for r in refs)
    assert abs(job["readback"]["wer"] - alone) <= 0.01, (job["readback"], alone)
    audio, rate = sf.read(__import__("io").BytesIO(client.get(f"/v1/jobs/{job['id']}/audio",
                                                              allow_redirects=True).content))
    assert words[-1]["end"] <= audio.size / rate + 0.05 and np.isfinite(audio).all()


def test_engines_say_where_read_back_applies(make_api):
    off = {e["name"]: e["readback"] for e in make_api(engines=["espeak", "piper"]).client().get(
        "/v1/engines").json()["data"]}
    assert not off["piper"]["enabled"] and "VOXFARM_READBACK" in off["piper"]["reason"]
    on = {e["name"]: e["readback"] for e in make_api(engines=["espeak", "piper", "tone"], readback=True).client().get(
        "/v1/engines").json()["data"]}
    assert on["piper"]["enabled"] and on["espeak"]["enabled"] and on["piper"]["max_wer"] == 0.3
    assert not on["tone"]["enabled"] and "no speech" in on["tone"]["reason"]
