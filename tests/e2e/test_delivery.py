"""Issue #29 item 3, end to end: an EPUB whose cover image cannot be decoded renders, succeeds and
says on the job that the cover was dropped (it used to render every chunk, then fail finalisation)."""

from __future__ import annotations

import base64

from tests.core.text.test_epub import make_epub
from tests.e2e.test_longform import _probe, book_settings, farm  # noqa: F401 - fixtures

from helpers import ApiClient, create_key


def test_epub_with_corrupt_cover_renders_and_says_so(farm, book_settings, tmp_path):  # noqa: F811
    epub = make_epub([("One", "It began quietly."), ("Two", "Then it ended.")], title="Coverless",
                     cover=b"\x89PNG\r\n\x1a\n" + b"\x00" * 64)
    url, _workers = farm
    client = ApiClient(url, create_key(book_settings, "reader"))
    job = client.post("/v1/jobs", json={"document_base64": base64.b64encode(epub).decode(),
                                        "output": {"format": "m4b"}}).json()
    assert any("cover" in w for w in job["warnings"]), job
    job = client.wait(job["id"], timeout=300)
    assert job["status"] == "succeeded", job["error"]
    assert any("cover" in w for w in job["warnings"])
    chapters, tags = _probe(client.get(f"/v1/jobs/{job['id']}/audio").content, tmp_path)
    assert tags["title"] == "Coverless" and len(chapters) >= 2
