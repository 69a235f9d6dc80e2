"""Issue 15: /v1/audio/speech's errors in OpenAI's shape (read by the official SDK), the format
catalogue, and the route's place in the OpenAPI document.  No worker: nothing here renders."""

from __future__ import annotations

import openai
import pytest
from openai import OpenAI

from voxfarm.core.audio import formats


def sdk(api, key: str | None) -> OpenAI:
    return OpenAI(api_key=key or "not-a-key", base_url=f"{api.url}/v1", max_retries=0, timeout=30)


def openai_error(exc: openai.APIStatusError) -> dict:
    body = exc.response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"message", "type", "param", "code"}, body
    return body["error"]


@pytest.mark.parametrize("fields,status,param,code", [
    ({"voice": "no such voice!"}, 422, "voice", "voice_not_found"),
    ({"model": "gpt-9"}, 422, "model", "model_not_found"),
    ({"response_format": "ogg"}, 422, "response_format", "validation_error"),
    ({"speed": 9}, 422, "speed", "validation_error"),
    ({"input": "x" * 5000}, 413, "input", "input_too_long"),
])
def test_bad_requests_answer_in_openais_shape(api, fields, status, param, code):
    client = sdk(api, api.client().session.headers["Authorization"].split()[1])
    body = {"model": "tts-1", "voice": "alloy", "input": "Hello.", **fields}
    with pytest.raises(openai.APIStatusError) as exc:
        client.audio.speech.create(**body)
    err = openai_error(exc.value)
    assert exc.value.status_code == status and err["param"] == param and err["code"] == code
    assert err["type"] == "invalid_request_error" and err["message"]
    assert exc.value.code == code  # the SDK reads it where OpenAI's own errors put it


def test_a_bad_key_is_an_openai_authentication_error(api):
    with pytest.raises(openai.AuthenticationError) as exc:
        sdk(api, "vf_wrong").audio.speech.create(model="tts-1", voice="alloy", input="Hello.")
    assert openai_error(exc.value)["code"] == "invalid_api_key"


# what each response_format must be served as (OpenAI's types; written out here, not read from the code)
SPEECH_TYPES = {"mp3": "audio/mpeg", "opus": "audio/ogg", "aac": "audio/aac", "flac": "audio/flac",
                "wav": "audio/wav", "pcm": "audio/pcm"}


def test_each_response_format_streams_under_its_own_content_type(api):
    """The headers go out before any chunk renders (no worker here): each format's Content-Type, and
    the SSE stream's; closing the stream early leaves the job canceled, not rendering for nobody."""
    client = api.client()
    for fmt, ctype in [*SPEECH_TYPES.items(), ("sse", "text/event-stream")]:
        body = {"model": "tts-1", "voice": "alloy", "input": "Hello there.",
                **({"stream_format": "sse"} if fmt == "sse" else {"response_format": fmt})}
        with client.session.post(f"{api.url}/v1/audio/speech", json=body, stream=True, timeout=30) as resp:
            assert resp.status_code == 200, resp.text
            assert resp.headers["Content-Type"].split(";")[0].strip() == ctype, fmt
            assert resp.headers["X-Job-Id"].startswith("job_")


def test_formats_are_listed_with_their_availability(api):
    resp = api.client().get("/v1/formats")
    assert resp.status_code == 200
    listed = {f["name"]: f for f in resp.json()["data"]}
    assert {"mp3", "opus", "aac", "flac", "wav", "pcm", "mp3_v0", "mp3_320k", "mp3_128k",
            "m4a_aac_he_v2_32k", "m4a_aac_he_v2_64k"} <= set(listed)
    assert listed["m4a_aac_he_v2_32k"]["available"] == ("libfdk_aac" in formats.encoders())


def test_jobs_refuse_a_preset_this_ffmpeg_cannot_write(api):
    if "libfdk_aac" in formats.encoders():
        pytest.skip("this ffmpeg has libfdk_aac")
    resp = api.client().post("/v1/jobs", json={"text": "Hi.", "output": {"preset": "m4a_aac_he_v2_64k"}})
    assert resp.status_code == 422 and resp.json()["error"]["code"] == "format_unavailable"
    assert "mp3_v0" in resp.json()["error"]["details"]["available"]
    resp = api.client().post("/v1/jobs", json={"text": "Hi.", "output": {"format": "wav", "preset": "mp3_v0"}})
    assert resp.status_code == 422  # a preset names its container: wav is a contradiction
    ok = api.client().post("/v1/jobs", json={"text": "Hi.", "output": {"preset": "mp3_320k", "volume": 0.5}})
    assert ok.status_code == 202 and ok.json()["output"]["format"] == "mp3"


def test_openapi_declares_streamed_audio_and_openai_errors(api):
    doc = api.client().get("/openapi.json").json()
    op = doc["paths"]["/v1/audio/speech"]["post"]
    media = set(op["responses"]["200"]["content"])
    assert {"audio/mpeg", "audio/ogg", "audio/aac", "audio/flac", "audio/wav", "audio/pcm",
            "text/event-stream"} <= media
    assert op["responses"]["422"]["content"]["application/json"]["schema"]["$ref"].endswith("/OpenAIError")
