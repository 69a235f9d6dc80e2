"""GET /v1/voices/{id}/audio: the prompt as it was uploaded (what the console's voices page plays)."""

from __future__ import annotations

from helpers import tone, wav_bytes


def test_a_voice_plays_back_as_uploaded_and_only_for_its_tenant(api):
    owner, other = api.client("owner"), api.client("other")
    data = wav_bytes(tone(2.0))
    voice = owner.post("/v1/voices", data={"name": "v", "transcript": "A passage."},
                       files={"audio_file": ("v.wav", data)}).json()
    resp = owner.get(f"/v1/voices/{voice['id']}/audio")  # S3: a presigned redirect, followed; disk: streamed
    assert resp.status_code == 200 and resp.content == data
    assert owner.get(f"/v1/voices/{voice['name']}/audio").content == data  # by name too
    assert other.get(f"/v1/voices/{voice['id']}/audio").status_code == 404
    assert owner.delete(f"/v1/voices/{voice['id']}").status_code == 204
    assert owner.get(f"/v1/voices/{voice['id']}/audio").status_code == 404
