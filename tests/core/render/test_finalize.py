"""What a finished book really contains, read back the way a player reads it.

A book of real espeak-ng speech (the audio that measured -2.9 dBTP after AAC before headroom was
added) is stitched by ``build_stitched`` into every mastered format.  Each check decodes the
stored files with ffmpeg and measures them here, independently of the system's own figures:

* true peak (4x oversampled with soxr, not ffmpeg's resampler) <= the -3 dBFS ceiling, for the
  book and every per-chapter file;
* per-chapter files decode and their durations add up to the book's;
* per-chapter tags: the book is the album, the chapter the title, track n/N, the book's cover;
* the .cue sheet says what chapters.json says.
"""

from __future__ import annotations

import json
import re
import subprocess

import mutagen
import numpy as np
import pytest
import soxr

from voxfarm.core.audio import formats, mastering
from voxfarm.core.audio.arrays import encode as encode_audio
from voxfarm.core.audio.stitch import ffmpeg_exe
from voxfarm.core.render.finalize import FinalChunk, FinalizeWork, build_stitched
from voxfarm.core.settings import Settings
from voxfarm.core.storage.local import LocalStore
from voxfarm.worker.engines.base import RenderRequest, create_engine

SR = 22050
TITLES = ["Arrival", "The Storm", "Departure"]
SENTENCES = ["The lighthouse keeper climbed the stairs each evening.",
             "He counted every step, and the sea counted them with him.",
             "At the top he lit the lamp and watched the ships go by."]


def decode(path) -> tuple[np.ndarray, int]:
    """Decode any of our outputs to float32 mono with ffmpeg, as a player would."""
    probe = subprocess.run([ffmpeg_exe(), "-hide_banner", "-i", str(path)], capture_output=True, text=True,
                           check=False).stderr  # ffmpeg without an output exits 1 after printing the info
    rate = int(re.search(r"Audio: .*?(\d+) Hz", probe).group(1))
    raw = subprocess.run([ffmpeg_exe(), "-v", "error", "-i", str(path), "-map", "0:a:0", "-ac", "1",
                          "-f", "f32le", "-c:a", "pcm_f32le", "-"], capture_output=True, check=True).stdout
    return np.frombuffer(raw, np.float32), rate


def true_peak_db(audio: np.ndarray, rate: int) -> float:
    """ITU-R BS.1770-style true peak: the peak of the signal oversampled 4x (soxr, very high quality)."""
    up = soxr.resample(audio.astype(np.float32), rate, 4 * rate, quality="VHQ")
    return float(20 * np.log10(max(float(np.abs(up).max()), 1e-12)))


@pytest.fixture(scope="module")
def speech() -> list[np.ndarray]:
    engine = create_engine("espeak", Settings())
    engine.load()
    texts = [f"{s} Chapter {c + 1}, part {i + 1}." for c in range(3) for i, s in enumerate(SENTENCES[:2])]
    return [r.audio for r in engine.generate_batch([RenderRequest(str(i), t, {"pitch": 30}, i)
                                                    for i, t in enumerate(texts)])]


@pytest.fixture(scope="module")
def book(tmp_path_factory, speech):
    """``book(fmt)`` stitches the book into ``fmt`` (once per format; ``fresh=True`` builds again)."""
    tmp_path = tmp_path_factory.mktemp("book")
    store = LocalStore(tmp_path / "objects")
    chunks = []
    for i, audio in enumerate(speech):
        info = store.put_bytes(f"tenants/t1/chunks/{i}.flac", encode_audio(audio, SR, "flac")[0])
        pause = "end" if i == len(speech) - 1 else "chapter" if i % 2 else "sentence"
        chunks.append(FinalChunk(i, i // 2, pause, info.key, info.sha256, seed=i, duration_s=audio.size / SR))
    cover = tmp_path / "cover.png"
    subprocess.run([ffmpeg_exe(), "-v", "error", "-f", "lavfi", "-i", "color=c=red:s=32x32", "-frames:v", "1",
                    str(cover)], check=True)
    cover_key = store.put_bytes("tenants/t1/jobs/job_1/cover.png", cover.read_bytes()).key

    built: dict[str, dict] = {}

    def build(fmt: str, fresh: bool = False, preset: str | None = None) -> tuple[dict, LocalStore]:
        name = preset or fmt
        if name in built and not fresh:
            return built[name], store
        job_id = f"job_{name}{'_again' if fresh else ''}"  # each build its own keys
        output = {"format": fmt, **({"preset": preset} if preset else {})}
        work = FinalizeWork(job_id, "t1", "espeak", "espeak-ng", fmt, None, True, "The Keeper", "A. Writer",
                            {"chapters": [{"title": t} for t in TITLES], "cover_key": cover_key}, {"job_id": job_id},
                            chunks, output)
        scratch = tmp_path_factory.mktemp(f"scratch-{name}")
        result = build_stitched(work, store, Settings(data_dir=tmp_path / "var"), scratch)
        built[name] = {"key": result.key, **result.extras}
        return built[name], store

    return build


FORMATS = ["wav", "flac", "mp3", "ogg", "m4b"]
# every other file format and every preset this ffmpeg can write (its encoders, core/audio/formats.py); pcm is
# the wav samples without a header
FFMPEG_OUTPUTS = [(c.fmt, None) for name, c in formats.CODECS.items() if name not in FORMATS and name != "pcm"] + [
    (c.fmt, name) for name, c in formats.PRESETS.items() if c.encoder in formats.encoders()]


@pytest.mark.parametrize(("fmt", "preset"), [(f, None) for f in FORMATS] + FFMPEG_OUTPUTS,
                         ids=lambda v: v or "")
def test_every_mastered_output_stays_under_the_true_peak_ceiling(book, fmt, preset):
    result, store = book(fmt, preset=preset)
    paths = [store.path(result["key"])] + [store.path(k) for n, k in result["files"].items()
                                           if n.startswith("chapter-")]
    assert len(paths) == 4
    for path in paths:
        audio, rate = decode(path)
        assert true_peak_db(audio, rate) <= -3.0, path.name
    recorded = json.loads(store.path(result["files"]["metadata.json"]).read_text())["loudness"]
    assert recorded["true_peak_dbfs"] == -3.0 and max(recorded["output_true_peak_dbfs"].values()) <= -3.0


def test_the_ceiling_holds_by_measurement_alone(book, monkeypatch):
    """With no headroom the master is normalized right at -3 dBTP and Vorbis overshoots it; the
    post-encode measurement must catch that and re-encode lower."""
    monkeypatch.setattr("voxfarm.core.render.finalize.HEADROOM_DB", 0.0)
    encodes = []
    real = mastering.true_peak_dbfs
    monkeypatch.setattr(mastering, "true_peak_dbfs", lambda p, rate=None: encodes.append(p.name) or real(p, rate))
    result, store = book("ogg", fresh=True)
    audio, rate = decode(store.path(result["key"]))
    assert true_peak_db(audio, rate) <= -3.0
    assert len(encodes) > 4  # at least one file needed a second encode


@pytest.mark.parametrize("fmt", FORMATS)
def test_per_chapter_files_decode_carry_book_tags_and_add_up(book, fmt):
    result, store = book(fmt)
    total = len(decode(store.path(result["key"]))[0])
    rate = decode(store.path(result["key"]))[1]
    parts = sorted(n for n in result["files"] if n.startswith("chapter-"))
    assert parts == [f"chapter-00{i}.{fmt}" for i in (1, 2, 3)]
    lengths = [len(decode(store.path(result["files"][n]))[0]) for n in parts]
    # lossless cuts are sample exact; lossy decoders may differ by a codec frame per file
    slack = 0 if fmt in ("wav", "flac") else int(0.03 * rate)
    assert abs(sum(lengths) - total) <= slack * len(parts), (lengths, total)
    if fmt == "wav":
        return  # RIFF INFO has no album/track fields players agree on
    for n, name in enumerate(parts, 1):
        tags = mutagen.File(store.path(result["files"][name]), easy=True)
        assert tags["album"] == ["The Keeper"] and tags["title"] == [TITLES[n - 1]]
        assert tags["tracknumber"] == [f"{n}/3"]
        assert tags["artist"] == ["A. Writer"]
        if fmt in ("mp3", "m4b", "flac"):
            full = mutagen.File(store.path(result["files"][name]))
            pictures = {"mp3": lambda f: f.tags.getall("APIC"), "m4b": lambda f: f.tags.get("covr", []),
                        "flac": lambda f: f.pictures}[fmt](full)
            assert len(pictures) == 1


def test_the_cue_sheet_matches_chapters_json(book):
    result, store = book("mp3")
    chapters = json.loads(store.path(result["files"]["chapters.json"]).read_text())
    cue = store.path(result["files"]["chapters.cue"]).read_text()
    assert re.search(r'^FILE "job_mp3\.mp3" MP3$', cue, re.M) and 'TITLE "The Keeper"' in cue
    tracks = re.findall(r'TRACK (\d+) AUDIO\n\s+TITLE "([^"]*)"\n\s+INDEX 01 (\d+):(\d+):(\d+)', cue)
    assert [int(t[0]) for t in tracks] == [1, 2, 3]
    assert [t[1] for t in tracks] == [c["title"] for c in chapters] == TITLES
    for (_, _, mm, ss, ff), chapter in zip(tracks, chapters, strict=True):
        assert abs(int(mm) * 60 + int(ss) + int(ff) / 75 - chapter["start_s"]) <= 1 / 75
    # and chapters.json describes the audio itself: it ends where the decoded book ends
    audio, rate = decode(store.path(result["key"]))
    assert abs(chapters[-1]["end_s"] - audio.size / rate) < 0.06


@pytest.mark.parametrize("fmt", FORMATS)
def test_the_book_is_loudness_normalized_to_the_target(book, fmt):
    """The whole book, decoded as a player would, measures the -20 LUFS audiobook target (BS.1770,
    measured here with pyloudnorm, not with the system's own ffmpeg loudnorm figures); the lossless
    formats too, which need no encoder and could skip the master."""
    import pyloudnorm as pyln

    result, store = book(fmt)
    audio, rate = decode(store.path(result["key"]))
    target = Settings().loudness_target_lufs
    assert target == -20.0
    assert abs(pyln.Meter(rate).integrated_loudness(audio.astype(np.float64)) - target) <= 1.0
