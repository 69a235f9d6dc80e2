"""A real-sized book: a 10 MB EPUB (a big incompressible cover, a short text) uploaded as a
multipart file renders to an m4b that carries the cover; one over the limit is refused with 413.

API, an espeak worker (also on the control queue) through Redis, PostgreSQL and S3 (moto), with
embedded fallbacks off-CI.
"""

from __future__ import annotations

import json

import mutagen.mp4

from tests.core.text.test_epub import make_epub, noise_png

from helpers import ApiClient, create_key, start_api, start_worker

CHAPTERS = [("Cover Story", "A large cover does not make a long book."),
            ("Afterword", "The text stays short, so the test stays quick.")]


def test_a_10_mb_epub_renders_and_an_oversized_one_is_413(prod_settings, tmp_path):
    cover = noise_png(3200)  # 10.2 MB of random pixels: zip cannot shrink it
    epub = make_epub(CHAPTERS, title="Heavy Cover", cover=cover)
    assert len(epub) > 10_000_000
    api, url = start_api(prod_settings, tmp_path, max_document_bytes=12_000_000)
    worker = start_worker(prod_settings, tmp_path, queues="tts.espeak,control,webhooks")
    try:
        client = ApiClient(url, create_key(prod_settings, "reader"))
        resp = client.post("/v1/jobs/upload", files={"document": ("heavy.epub", epub, "application/epub+zip")},
                           data={"job": json.dumps({"output": {"format": "m4b"}})})
        assert resp.status_code == 202, resp.text[:500]
        job = client.wait(resp.json()["id"], timeout=240)
        assert job["status"] == "succeeded", job["error"]
        path = tmp_path / "heavy.m4b"
        path.write_bytes(client.get(f"/v1/jobs/{job['id']}/audio").content)
        m4b = mutagen.mp4.MP4(str(path))
        assert m4b.tags["\xa9nam"] == ["Heavy Cover"] and m4b.info.length > 3.0
        assert bytes(m4b.tags["covr"][0])[:8] == b"\x89PNG\r\n\x1a\n"  # the cover came through

        too_big = make_epub(CHAPTERS, cover=noise_png(3600))  # ~13 MB, over the 12 MB set above
        refused = client.post("/v1/jobs/upload", files={"document": ("huge.epub", too_big)})
        assert refused.status_code == 413, refused.text[:300]
        assert str(len(too_big)) in refused.json()["error"]["message"]
    finally:
        worker.stop()
        api.stop()
