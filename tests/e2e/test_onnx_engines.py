"""Issue 13: piper and kokoro jobs through the REST API and real Celery workers, and a book with piper.

PostgreSQL + Redis + S3 (moto) with embedded fallbacks off-CI; kokoro runs the tiny look-alike model.
"""

from __future__ import annotations

import hashlib
import io

import pytest
import soundfile as sf

from voxfarm.core.engines.catalog import BUNDLED_PIPER

from helpers import ApiClient, create_key, ffprobe, start_api, start_worker

SENTENCE = "The quick brown fox jumps over the lazy dog, then it naps in the warm afternoon sun."


@pytest.fixture
def onnx_farm(prod_settings, tmp_path, tiny_kokoro):
    settings = prod_settings.model_copy(update={"engines": ["piper", "kokoro"], "kokoro_model": str(tiny_kokoro),
                                                "chunk_target_s": {"piper": 4.0}})
    env = {"kokoro_model": str(tiny_kokoro), "chunk_target_s": '{"piper": 4.0}', "onnx_intra_op_threads": 1}
    api, url = start_api(settings, tmp_path, **env)
    workers = [start_worker(settings, tmp_path, engine="piper", name="wp", queues="tts.piper,control,webhooks",
                            **env),
               start_worker(settings, tmp_path, engine="kokoro", name="wk", queues="tts.kokoro", **env)]
    yield settings, ApiClient(url, create_key(settings, "acme")), workers
    for proc in [*workers, api]:
        proc.stop()


def _audio(client: ApiClient, job: dict) -> tuple[object, int, bytes]:
    data = client.get(f"/v1/jobs/{job['id']}/audio").content
    assert hashlib.sha256(data).hexdigest() == job["result"]["sha256"]
    samples, rate = sf.read(io.BytesIO(data))
    return samples, rate, data


def test_piper_and_kokoro_jobs_render_through_the_api(onnx_farm):
    _, client, workers = onnx_farm
    engines = {e["name"]: e for e in client.get("/v1/engines").json()["data"]}
    assert BUNDLED_PIPER in [v["name"] for v in engines["piper"]["voices"]]
    assert "af_sky" in [v["name"] for v in engines["kokoro"]["voices"]]
    piper = client.post("/v1/jobs", json={"text": SENTENCE, "engine": "piper", "params": {"speed": 1.2, "seed": 3}})
    kokoro = client.post("/v1/jobs", json={"text": SENTENCE, "engine": "kokoro", "voice": "af_bella:0.7,af_sky:0.3"})
    assert piper.status_code == 202 and kokoro.status_code == 202, (piper.text, kokoro.text)
    piper, kokoro = (client.wait(r.json()["id"], timeout=180) for r in (piper, kokoro))
    assert piper["status"] == "succeeded", (piper["error"], workers[0].log()[-2000:])
    assert kokoro["status"] == "succeeded", (kokoro["error"], workers[1].log()[-2000:])
    samples, rate, _ = _audio(client, piper)
    assert rate == 22050 and 3.0 < len(samples) / rate < 9.0  # 84 characters of speech at 1.2x
    assert piper["render"]["worker"].startswith("wp#") and piper["params"]["voice"] == BUNDLED_PIPER
    samples, rate, _ = _audio(client, kokoro)
    assert rate == 24000 and len(samples) > 0 and kokoro["render"]["worker"].startswith("wk#")
    # the same request again is a cache hit: same text, params and seed, same audio
    again = client.wait(client.post("/v1/jobs", json={"text": SENTENCE, "engine": "piper",
                                                      "params": {"speed": 1.2, "seed": 3}}).json()["id"])
    assert again["progress"]["cache_hits"] == 1 and again["result"]["sha256"] == piper["result"]["sha256"]


def test_a_book_renders_with_piper(onnx_farm, tmp_path):
    _, client, _ = onnx_farm
    text = "\n\n".join([
        "# Arrival", "The keeper climbed the stairs each evening. He counted every step.",
        "At the top he lit the lamp and watched the ships pass in the dark.",
        "# Departure", "In the morning the fog lifted. The ships were gone, and the sea was calm again.",
    ])
    resp = client.post("/v1/jobs", json={"text": text, "text_format": "markdown", "engine": "piper",
                                         "title": "The Keeper", "output": {"format": "m4b"}})
    assert resp.status_code == 202, resp.text
    job = resp.json()
    assert job["progress"]["total"] >= 4  # 4 s chunks: the book is cut into several renders
    job = client.wait(job["id"], timeout=300)
    assert job["status"] == "succeeded", job["error"]
    path = tmp_path / "book.m4b"
    path.write_bytes(client.get(f"/v1/jobs/{job['id']}/audio").content)
    info = ffprobe(path)
    assert [c["tags"]["title"] for c in info["chapters"]] == ["Arrival", "Departure"]
    assert 8.0 < float(info["format"]["duration"]) < 30.0  # ~200 characters of speech plus pauses
