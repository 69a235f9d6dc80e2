"""GET /v1/engines and per-engine param validation at submit, over real HTTP."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from scripts.make_tiny_kokoro import VOICES
from voxfarm.core.engines.catalog import BUNDLED_PIPER
from voxfarm.core.models import Job

ALL = ["espeak", "dia", "piper", "kokoro"]


@pytest.fixture
def onnx_api(make_api, tiny_kokoro):
    return make_api(engines=ALL, kokoro_model=str(tiny_kokoro))


def test_engines_list_voices_params_and_capabilities(onnx_api):
    resp = onnx_api.client().get("/v1/engines")
    assert resp.status_code == 200
    engines = {e["name"]: e for e in resp.json()["data"]}
    assert sorted(engines) == sorted(ALL)
    piper, kokoro = engines["piper"], engines["kokoro"]
    assert [v["name"] for v in piper["voices"]] == [BUNDLED_PIPER] and piper["voices"][0]["sample_rate"] == 22050
    assert [v["name"] for v in kokoro["voices"]] == sorted(VOICES) and kokoro["sample_rate"] == 24000
    speed = next(p for p in piper["params"] if p["name"] == "speed")
    assert speed == {"name": "speed", "type": "float", "default": 1.0, "minimum": 0.25, "maximum": 4.0,
                     "description": speed["description"]}
    assert {p["name"] for p in kokoro["params"]} == {"seed", "voice", "speed", "lang_code"}
    assert [c["lang_code"] for c in kokoro["lang_codes"]] == list("abefhijpz") and piper["lang_codes"] is None
    assert piper["deterministic"] and not engines["espeak"]["deterministic"]
    assert engines["espeak"]["voices"] is None and engines["dia"]["clones_voices"]


@pytest.mark.parametrize("body,code,fragment", [
    ({"engine": "piper", "params": {"temperature": 1.0}}, "unsupported_param", "speed (float >=0.25 <=4)"),
    ({"engine": "piper", "params": {"speed": 9}}, "invalid_param", "speed must be float >=0.25 <=4"),
    ({"engine": "kokoro", "params": {"speed": "fast"}}, "invalid_param", "speed must be a number"),
    ({"engine": "kokoro", "voice": "af_bella:0.5,af_nobody:0.5"}, "unknown_voice", "af_nobody"),
    ({"engine": "piper", "voice": "af_bella"}, "unknown_voice", BUNDLED_PIPER),
    ({"engine": "espeak", "params": {"speed": 1000}}, "invalid_param", "speed must be int >=80 <=450"),
    ({"engine": "kokoro", "voice": "af_bella", "params": {"voice": "af_sky"}}, "ambiguous_input", "voice"),
    ({"engine": "piper", "params": {"speed": [1]}}, "validation_error", ""),
])
def test_bad_params_are_422_listing_what_is_allowed(onnx_api, body, code, fragment):
    client = onnx_api.client()
    resp = client.post("/v1/jobs", json={"text": "Hello.", **body})
    assert resp.status_code == 422, resp.text
    error = resp.json()["error"]
    assert error["code"] == code and fragment in error["message"]
    if code in ("unsupported_param", "invalid_param"):
        assert {a["name"] for a in error["details"]["allowed"]} >= {"seed", "speed"}
    with onnx_api.db.session() as s:
        assert s.scalar(select(func.count()).select_from(Job)) == 0


def test_a_good_job_keeps_its_voice_and_params(onnx_api):
    client = onnx_api.client()
    resp = client.post("/v1/jobs", json={"text": "Hello.", "engine": "kokoro", "voice": "af_bella:0.7,af_sky:0.3",
                                         "params": {"speed": 1}})
    assert resp.status_code == 202, resp.text
    job = resp.json()
    assert job["params"] == {"voice": "af_bella:0.7,af_sky:0.3", "speed": 1.0}
    assert isinstance(job["params"]["speed"], float)
    piper = client.post("/v1/jobs", json={"text": "Hello.", "engine": "piper"}).json()
    assert piper["params"]["voice"] == BUNDLED_PIPER and piper["model"] == "piper"
