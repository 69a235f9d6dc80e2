"""`voxfarm book --per-chapter` downloads the chapter files beside the book; an EPUB goes up as a
multipart file (POST /v1/jobs/upload)."""

from __future__ import annotations

import subprocess
import sys

import soundfile as sf

from tests.core.text.test_epub import make_epub

from helpers import ROOT, create_key, start_api, start_worker

BOOK = "\n\n".join(f"# Part {i}\n\nThe tide came in at dawn on day {i}. It went out again at dusk." for i in (1, 2, 3))


def test_book_per_chapter_downloads_every_chapter(prod_settings, tmp_path):
    api, url = start_api(prod_settings, tmp_path)
    worker = start_worker(prod_settings, tmp_path, queues="tts.espeak,control,webhooks")
    try:
        source = tmp_path / "tides.md"
        source.write_text(BOOK)
        out = tmp_path / "tides.wav"
        proc = subprocess.run([sys.executable, "-m", "voxfarm", "book", str(source), "-o", str(out), "--per-chapter",
                               "--url", url, "--key", create_key(prod_settings, "reader")],
                              capture_output=True, text=True, timeout=300, cwd=ROOT)
        assert proc.returncode == 0, proc.stderr[-2000:]
        epub = tmp_path / "tides.epub"
        epub.write_bytes(make_epub([("Dawn", "The tide came in at dawn."), ("Dusk", "It went out at dusk.")]))
        from_epub = subprocess.run([sys.executable, "-m", "voxfarm", "book", str(epub), "-o", str(tmp_path / "e.mp3"),
                                    "--url", url, "--key", create_key(prod_settings, "reader")],
                                   capture_output=True, text=True, timeout=300, cwd=ROOT)
        assert from_epub.returncode == 0, from_epub.stderr[-2000:]
        assert sf.info(str(tmp_path / "e.mp3")).duration > 1.5
    finally:
        worker.stop()
        api.stop()
    folder = tmp_path / "tides-chapters"
    parts = sorted(folder.glob("chapter-*.wav"))
    assert [p.name for p in parts] == ["chapter-001.wav", "chapter-002.wav", "chapter-003.wav"]
    assert proc.stdout.strip().splitlines()[-3:] == [str(p.resolve()) for p in parts]
    whole = sf.info(str(out)).duration
    lengths = [sf.info(str(p)).duration for p in parts]
    assert all(n > 1.0 for n in lengths)
    assert abs(sum(lengths) - whole) < 0.1 * whole  # the chapters add up to the book
