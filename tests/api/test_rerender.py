"""POST /v1/jobs/{id}/rerender: one chunk (or a chapter, or all) of a succeeded job again with a new
seed, as a new job that takes every other chunk from the cache and stitches again."""

from __future__ import annotations

from voxfarm.core.tenants.limits import set_tenant_limits

from helpers import render_in_process

BOOK = "# One\n\nThe first chapter has words.\n\n# Two\n\nThe second chapter has more words in it."


def _chunks(client, job_id: str) -> list[dict]:
    return client.get(f"/v1/jobs/{job_id}/chunks").json()["chunks"]


def _finished(api, client, text: str = BOOK) -> dict:
    job = client.post("/v1/jobs", json={"text": text, "engine": "tone"}).json()
    render_in_process(api.settings, job["id"], engine="tone")
    job = client.get(f"/v1/jobs/{job['id']}").json()
    assert job["status"] == "succeeded", job
    return job


def test_a_rerendered_chunk_renders_alone_and_the_job_is_stitched_again(make_api):
    api = make_api(engines=["espeak", "tone"])
    client = api.client()
    old = _finished(api, client)
    before = _chunks(client, old["id"])
    assert len(before) >= 3  # the two announced titles and the text

    resp = client.post(f"/v1/jobs/{old['id']}/rerender", json={"chunk": 1, "seed": 7})
    assert resp.status_code == 202, resp.text
    new = resp.json()
    assert new["id"] != old["id"] and new["status"] == "queued" and resp.headers["Location"].endswith(new["id"])
    assert new["progress"]["total"] == old["progress"]["total"]
    for name in ("title", "engine", "model", "params", "output", "quality", "metadata", "priority", "voice_id"):
        assert new[name] == old[name], name  # the plan is copied; the render's state is not
    after = _chunks(client, new["id"])
    assert [c["text"] for c in after] == [c["text"] for c in before]
    assert [c["index"] for c, b in zip(after, before, strict=True) if c["seed"] != b["seed"]] == [1]
    assert [c["index"] for c, b in zip(after, before, strict=True) if c["cache_key"] != b["cache_key"]] == [1]

    render_in_process(api.settings, new["id"], engine="tone")
    done = client.get(f"/v1/jobs/{new['id']}").json()
    assert done["status"] == "succeeded", done
    rendered = _chunks(client, new["id"])
    assert [c["index"] for c in rendered if not c["cache_hit"]] == [1]  # the others came from the cache
    assert done["progress"]["cache_hits"] == len(rendered) - 1
    assert done["result"]["sha256"] != old["result"]["sha256"]  # a new take of chunk 1, stitched in
    assert [c["title"] for c in done["result"]["chapters"]] == [c["title"] for c in old["result"]["chapters"]]
    assert abs(done["result"]["duration_s"] - old["result"]["duration_s"]) < 1.0
    kept = client.get(f"/v1/jobs/{old['id']}").json()["result"]  # the old result stays as it was
    assert (kept["sha256"], kept["duration_s"], sorted(kept["files"])) == \
        (old["result"]["sha256"], old["result"]["duration_s"], sorted(old["result"]["files"]))


def test_a_chapter_or_the_whole_job_takes_the_seed_a_submitted_job_would_give(make_api):
    api = make_api(engines=["espeak", "tone"])
    client = api.client()
    old = _finished(api, client)
    before = _chunks(client, old["id"])
    # the same book submitted with params.seed 99 plans every chunk with the seed a re-render with 99 gives
    fresh = client.post("/v1/jobs", json={"text": BOOK, "engine": "tone", "params": {"seed": 99}}).json()
    expected = _chunks(client, fresh["id"])
    chapter = client.post(f"/v1/jobs/{old['id']}/rerender", json={"chapter": 1, "seed": 99}).json()
    got = _chunks(client, chapter["id"])
    for c, b, e in zip(got, before, expected, strict=True):
        want = e if c["chapter"] == 1 else b
        assert (c["seed"], c["cache_key"]) == (want["seed"], want["cache_key"]), c["index"]
    assert any(c["chapter"] == 0 for c in got) and any(c["chapter"] == 1 for c in got)
    everything = client.post(f"/v1/jobs/{old['id']}/rerender", json={"seed": 99}).json()
    assert [(c["seed"], c["cache_key"]) for c in _chunks(client, everything["id"])] == \
        [(e["seed"], e["cache_key"]) for e in expected]


def test_refusals(make_api):
    api = make_api(engines=["espeak", "tone"])
    client, other = api.client(), api.client("other")
    queued = client.post("/v1/jobs", json={"text": "Not rendered yet.", "engine": "tone"}).json()
    resp = client.post(f"/v1/jobs/{queued['id']}/rerender", json={"chunk": 0})
    assert resp.status_code == 409 and resp.json()["error"]["code"] == "result_not_ready"
    old = _finished(api, client)
    cases = [
        (other, {"chunk": 0}, 404, "not_found"),  # another tenant's job does not exist for it
        (client, {"chunk": 999}, 404, "chunk_not_found"),
        (client, {"chapter": 5}, 404, "chunk_not_found"),
        (client, {"chunk": 0, "chapter": 0}, 422, "ambiguous_input"),
        (client, {"chunk": -1}, 422, None),
        (client, {"chunk": 0, "seed": old["params"].get("seed", 0)}, 422, "same_seed"),
        (client, {"chunk": 0, "colour": "red"}, 422, None),
    ]
    for who, body, status, code in cases:
        resp = who.post(f"/v1/jobs/{old['id']}/rerender", json=body)
        assert resp.status_code == status, (body, resp.text)
        if code:
            assert resp.json()["error"]["code"] == code, (body, resp.text)
    jobs = client.get("/v1/jobs").json()["data"]
    assert len(jobs) == 2  # nothing was written by any refusal


def test_the_tenants_audio_limits_apply_to_a_rerender(make_api):
    api = make_api(engines=["espeak", "tone"])
    client = api.client()
    old = _finished(api, client)
    with api.db.session() as s:  # less than the book: it could never be queued again
        set_tenant_limits(s, "acme", {"queued_audio_s": 1.0})
    resp = client.post(f"/v1/jobs/{old['id']}/rerender", json={"chunk": 0})
    assert resp.status_code == 413 and resp.json()["error"]["code"] == "over_queued_audio_s", resp.text
    assert len(client.get("/v1/jobs").json()["data"]) == 1
