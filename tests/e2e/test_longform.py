"""Issue 6: books as chunked, cached, resumable jobs that stitch into one audiobook file.

espeak engine through Redis, two render workers (one also runs the control queue: finalize and
stitch), PostgreSQL and S3 (moto), with embedded fallbacks off-CI.
"""

from __future__ import annotations

import io
import subprocess
import time

import pyloudnorm as pyln
import pytest
import soundfile as sf

from tests.core.render.test_finalize import decode, true_peak_db
from tests.core.text.test_epub import make_epub
from voxfarm.core.audio.stitch import ffmpeg_exe
from voxfarm.core.storage import open_store

from helpers import ROOT, ApiClient, create_key, ffprobe, start_api, start_worker, wait_for

PARAGRAPH = ("The lighthouse keeper climbed the stairs each evening. He counted every step, and the "
             "sea counted them with him. At the top he lit the lamp and watched the ships.")


UNIQUE = ("On evening {n} the keeper climbed the stairs. He counted {n} steps, and the sea counted "
          "with him. At the top of tower {n} he lit the lamp.")


def book(chapters=("Arrival", "The Storm", "Departure"), paragraphs=5, edit: str | None = None,
         unique: bool = False) -> str:
    """A Markdown book.  The default repeats sentences (identical chunks share one cache object);
    ``unique=True`` makes every sentence different."""
    parts = []
    for c, title in enumerate(chapters):
        parts.append(f"# {title}")
        for p in range(paragraphs):
            base = UNIQUE.format(n=f"{c + 1}-{p + 1}") if unique else PARAGRAPH
            text = f"{base} This is paragraph {p + 1} of chapter {c + 1}."
            if edit and c == 1 and p == 2:
                text = edit
            parts.append(text)
    return "\n\n".join(parts)


@pytest.fixture
def book_settings(prod_settings):
    # 3 s chunks: ~43 characters of espeak speech each, so the book plans to ~60 chunks
    return prod_settings.model_copy(update={"chunk_target_s": {"espeak": 3.0}, "lease_s": 8.0,
                                            "requeue_after_s": 5.0, "reconcile_interval_s": 1.0,
                                            "heartbeat_s": 1.0})


ENV = dict(chunk_target_s='{"espeak": 3.0}', lease_s=8, requeue_after_s=5, reconcile_interval_s=1, heartbeat_s=1)


def _workers(settings, tmp_path):
    """Two render workers; w1 also runs the control queue (finalize, stitch) and the beat."""
    return [start_worker(settings, tmp_path, name="w1", queues="tts.espeak,control,webhooks", beat=True, **ENV),
            start_worker(settings, tmp_path, name="w2", queues="tts.espeak", **ENV)]


@pytest.fixture
def farm(book_settings, tmp_path):
    """(api url, workers) on the book settings; stopped gracefully after the test."""
    api, url = start_api(book_settings, tmp_path, **ENV)
    workers = _workers(book_settings, tmp_path)
    yield url, workers
    for proc in [*workers, api]:
        proc.stop()


def _probe(data: bytes, tmp_path) -> tuple[list[dict], dict]:
    """The file's chapters and format tags as ffprobe reads them."""
    path = tmp_path / "book.m4b"
    path.write_bytes(data)
    info = ffprobe(path)
    return info["chapters"], {k.lower(): v for k, v in info["format"].get("tags", {}).items()}


def _loudness(data: bytes, tmp_path) -> float:
    src, wav = tmp_path / "l.m4b", tmp_path / "l.wav"
    src.write_bytes(data)
    subprocess.run([ffmpeg_exe(), "-y", "-v", "error", "-i", str(src), str(wav)], check=True)
    audio, rate = sf.read(str(wav))
    return pyln.Meter(rate).integrated_loudness(audio)


def test_markdown_book_to_m4b_with_chapters_and_loudness(farm, book_settings, tmp_path):
    url, workers = farm
    client = ApiClient(url, create_key(book_settings, "reader"))
    resp = client.post("/v1/jobs", json={"text": book(), "text_format": "markdown", "title": "The Keeper",
                                         "author": "A. Writer", "params": {"seed": 7},
                                         "output": {"format": "m4b", "per_chapter": True}})
    assert resp.status_code == 202, resp.text
    job = resp.json()
    assert 50 <= job["progress"]["total"] <= 75
    plan = client.get(f"/v1/jobs/{job['id']}/chunks").json()
    assert [c["title"] for c in plan["chapters"]] == ["Arrival", "The Storm", "Departure"]
    assert len({c["seed"] for c in plan["chunks"]}) > 1 and all(c["expected_s"] > 0 for c in plan["chunks"])
    job = client.wait(job["id"], timeout=300)
    assert job["status"] == "succeeded", job["error"]
    data = client.get(f"/v1/jobs/{job['id']}/audio").content
    probed, tags = _probe(data, tmp_path)
    assert tags["title"] == "The Keeper" and tags["artist"] == "A. Writer"
    assert [c["tags"]["title"] for c in probed] == ["Arrival", "The Storm", "Departure"]
    assert abs(_loudness(data, tmp_path) - book_settings.loudness_target_lufs) < 1.0
    files = job["result"]["files"]
    assert {"chapters.json", "chapters.cue", "metadata.json", "chapter-001.m4b"} <= set(files)
    chapters = client.get(f"/v1/jobs/{job['id']}/files/chapters.json").json()
    assert [c["title"] for c in chapters] == ["Arrival", "The Storm", "Departure"]
    assert abs(chapters[-1]["end_s"] - job["result"]["duration_s"]) < 0.5
    # the file's chapter marks sit where the sidecar says (m4b chapter times are in 1/1000 s)
    for mark, entry in zip(probed, chapters, strict=True):
        assert abs(float(mark["start_time"]) - entry["start_s"]) < 0.01
        assert abs(float(mark["end_time"]) - entry["end_s"]) < 0.01
    sidecar = client.get(f"/v1/jobs/{job['id']}/files/metadata.json").json()
    assert sidecar["seed"] == 7 and len(sidecar["chunks"]) == job["progress"]["total"]
    assert job["render"]["batch_size"] is not None
    # both workers took chunks of the one book: the queue spread it across them
    rendered_by = {c["worker"] for c in client.get(f"/v1/jobs/{job['id']}/chunks",
                                                   params={"limit": 2000}).json()["chunks"]}
    assert {owner.split("#")[0] for owner in rendered_by} == {"w1", "w2"}, rendered_by  # name#boot


def test_kill_both_workers_halfway_and_resume(farm, book_settings, tmp_path):
    url, workers = farm
    client = ApiClient(url, create_key(book_settings, "reader"))
    job = client.post("/v1/jobs", json={"text": book(paragraphs=6, unique=True), "text_format": "markdown",
                                        "output": {"format": "mp3"}}).json()
    total = job["progress"]["total"]
    store = open_store(book_settings)

    def chunks():
        return client.get(f"/v1/jobs/{job['id']}/chunks", params={"limit": 2000}).json()["chunks"]

    wait_for(lambda: client.get(f"/v1/jobs/{job['id']}").json()["progress"]["done"] >= total // 3, timeout=180,
             interval=0.05, what="a third of the book")
    for w in workers:
        w.kill()
    time.sleep(0.5)
    before = chunks()
    done_before = {c["index"]: c for c in before if c["status"] == "done"}
    assert 0 < len(done_before) < total
    # "rendered before the kill": every chunk whose audio reached the cache, recorded or not
    rendered_before = {c["index"] for c in before if store.exists(c["cache_key"])}
    assert set(done_before) <= rendered_before
    workers[:] = _workers(book_settings, tmp_path)  # the fixture stops these ones
    finished = client.wait(job["id"], timeout=300)
    after = chunks()
    assert finished["status"] == "succeeded", finished["error"]
    # nothing finished before the kill was touched again: its record (attempts, whether it was a
    # cache hit, duration, batch) is exactly what it was at the kill
    fields = ("status", "attempts", "cache_hit", "duration_s", "batch_size")
    for c in after:
        if c["index"] in done_before:
            assert {f: c[f] for f in fields} == {f: done_before[c["index"]][f] for f in fields}
    # everything rendered before the kill was reused, nothing rendered twice: the chunks recorded
    # before the kill plus the cache hits after the restart are exactly the chunks rendered before
    hits = finished["progress"]["cache_hits"]
    assert len(done_before) + hits == len(rendered_before)
    assert {c["index"] for c in after if c["cache_hit"]} == rendered_before - set(done_before)
    assert finished["progress"]["done"] == total


def test_resubmitting_an_edited_book_renders_only_the_changed_chunks(farm, book_settings, tmp_path):
    url, workers = farm
    client = ApiClient(url, create_key(book_settings, "reader"))
    first = client.wait(client.post("/v1/jobs", json={"text": book(unique=True), "text_format": "markdown",
                                                      "params": {"seed": 3}}).json()["id"], timeout=300)
    assert first["status"] == "succeeded" and first["progress"]["cache_hits"] == 0
    edited = book(edit="An entirely new paragraph replaces the old one, with different words in it.", unique=True)
    second = client.post("/v1/jobs", json={"text": edited, "text_format": "markdown", "params": {"seed": 3}}).json()
    plan_a = client.get(f"/v1/jobs/{first['id']}/chunks").json()["chunks"]
    plan_b = client.get(f"/v1/jobs/{second['id']}/chunks").json()["chunks"]
    changed = {c["cache_key"] for c in plan_b} - {c["cache_key"] for c in plan_a}
    assert len(changed) >= 1 and len(changed) <= 4
    second = client.wait(second["id"], timeout=300)
    assert second["status"] == "succeeded"
    assert second["progress"]["cache_hits"] == second["progress"]["total"] - len(changed)
    rendered = [c for c in client.get(f"/v1/jobs/{second['id']}/chunks").json()["chunks"] if not c["cache_hit"]]
    assert {c["cache_key"] for c in rendered} == changed


def test_epub_to_m4b_keeps_titles_and_tags(farm, book_settings, tmp_path):
    import base64

    epub = make_epub([("Prologue", "It began quietly. Nobody noticed."),
                      ("The Middle", "Then it grew loud.\n\nVery loud."),
                      ("Epilogue", "And then it was quiet again.")], title="Quiet Loud Quiet", author="E. Pubb")
    url, workers = farm
    client = ApiClient(url, create_key(book_settings, "reader"))
    job = client.post("/v1/jobs", json={"document_base64": base64.b64encode(epub).decode(),
                                        "output": {"format": "m4b"}}).json()
    assert job["title"] == "Quiet Loud Quiet"
    job = client.wait(job["id"], timeout=300)
    assert job["status"] == "succeeded", job["error"]
    chapters, tags = _probe(client.get(f"/v1/jobs/{job['id']}/audio").content, tmp_path)
    assert tags["title"] == "Quiet Loud Quiet" and tags["artist"] == "E. Pubb"
    assert [c["tags"]["title"] for c in chapters][-3:] == ["Prologue", "The Middle", "Epilogue"]
    import mutagen.mp4

    path = tmp_path / "e.m4b"
    path.write_bytes(client.get(f"/v1/jobs/{job['id']}/audio").content)
    tags = mutagen.mp4.MP4(str(path))
    assert tags.tags["\xa9nam"] == ["Quiet Loud Quiet"] and tags.tags["\xa9ART"] == ["E. Pubb"]
    assert "covr" in tags.tags  # the EPUB's cover became the cover art


def test_cli_book_command(farm, book_settings, tmp_path):
    import sys

    url, workers = farm
    key = create_key(book_settings, "reader")
    source = tmp_path / "story.md"
    source.write_text(book(paragraphs=1))
    out = tmp_path / "story.mp3"
    proc = subprocess.run([sys.executable, "-m", "voxfarm", "book", str(source), "-o", str(out), "--url", url,
                           "--key", key, "--title", "Story"], capture_output=True, text=True, timeout=300,
                          cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip().splitlines()[-1] == str(out.resolve())
    assert "chunk" in proc.stderr  # the progress bar
    info = sf.info(io.BytesIO(out.read_bytes()))
    assert info.duration > 20


MARKDOWN_BOOK = """# Arrival

The keeper came to the island in spring. He read the [logbook](https://example.com/log) twice.

```
print("code is never read aloud")
```

# The Storm
<div>no html either</div>

The storm came at night. The lamp held, and the ships saw it.

# Departure

In autumn he left the island. See <https://example.com/bye> for nothing spoken.
"""


def test_markdown_without_text_format_becomes_a_chaptered_m4b(book_settings, tmp_path):
    """Acceptance (issue 11): Markdown with '#' headings, sent without text_format, is read as
    Markdown: a 3-chapter m4b whose chapter marks are the headings, with no markup spoken."""
    api, url = start_api(book_settings, tmp_path, **ENV)
    worker = start_worker(book_settings, tmp_path, name="w1", queues="tts.espeak,control,webhooks", **ENV)
    try:
        client = ApiClient(url, create_key(book_settings, "reader"))
        resp = client.post("/v1/jobs", json={"text": MARKDOWN_BOOK, "output": {"format": "m4b"}})
        assert resp.status_code == 202, resp.text
        plan = client.get(f"/v1/jobs/{resp.json()['id']}/chunks").json()
        spoken = " ".join(c["text"] for c in plan["chunks"])
        assert not any(mark in spoken for mark in ("#", "http", "print", "<", "html", "```")), spoken
        assert "logbook" in spoken  # link text is spoken
        job = client.wait(resp.json()["id"], timeout=300)
        assert job["status"] == "succeeded", job["error"]
        data = client.get(f"/v1/jobs/{job['id']}/audio").content
    finally:
        worker.stop()
        api.stop()
    chapters, _tags = _probe(data, tmp_path)
    assert true_peak_db(*decode(tmp_path / "book.m4b")) <= book_settings.true_peak_dbfs  # as a player decodes it
    assert [c["tags"]["title"] for c in chapters] == ["Arrival", "The Storm", "Departure"]
    assert [c["title"] for c in job["result"]["chapters"]] == ["Arrival", "The Storm", "Departure"]
    assert all(float(c["end_time"]) > float(c["start_time"]) for c in chapters)
