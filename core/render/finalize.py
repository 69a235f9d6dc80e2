"""Finalize a job whose chunks are all rendered: encode (one chunk) or stitch (many), upload the
files under deterministic keys, and mark the job ``succeeded`` with its event, in one transaction.

Finalization runs under its own lease on the job row (like chunks), so a duplicate message or a
reconciler re-send while a stitch is running is a no-op, and a stitch that keeps dying fails the
job after ``max_attempts`` instead of looping.
"""

from __future__ import annotations

import json
import math
import tempfile
from dataclasses import dataclass, field, fields
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from voxfarm.core.audio import formats
from voxfarm.core.audio.arrays import CONTENT_TYPES, decode_bytes
from voxfarm.core.audio.arrays import encode as encode_audio
from voxfarm.core.audio.mastering import HEADROOM_DB, encode_under_ceiling
from voxfarm.core.audio.stitch import (
    Pauses,
    Piece,
    assemble,
    cue_sheet,
    encode,
    ffmetadata,
    measure_loudness,
    normalize,
    output_rate,
)
from voxfarm.core.clock import utcnow
from voxfarm.core.engines.registry import ENGINES
from voxfarm.core.models import Chunk, Job
from voxfarm.core.render.leases import fail_job, note_infra_failure
from voxfarm.core.render.readback import summarize
from voxfarm.core.render.timings import Timeline
from voxfarm.core.settings import Settings
from voxfarm.core.state import events
from voxfarm.core.state.lifecycle import JobStatus, set_job_status
from voxfarm.core.storage import ObjectStore, keys


@dataclass(frozen=True)
class FinalChunk:
    """One rendered chunk as finalization reads it (a typed row: a caller that builds these by hand,
    a bench or a test, gets a TypeError for a missing field rather than a KeyError mid-stitch)."""
    idx: int
    chapter: int
    pause_after: str
    cache_key: str
    sha256: str
    seed: int
    duration_s: float
    cache_hit: bool = False
    take_seed: int | None = None
    quality_retries: int = 0
    speaker_similarity: float | None = None
    speaker_flagged: bool = False
    text: str = ""  # the captions' words (core/render/timings.py): the text sent, spoken_text when set
    spoken_text: str | None = None
    readback: str | None = None  # core/render/readback.py: passed | flagged | skipped
    readback_wer: float | None = None
    readback_missing: dict[str, list[str]] | None = None
    readback_detail: dict[str, Any] | None = None

    def provenance(self) -> dict[str, Any]:
        """The chunk's entry in ``metadata.json``."""
        return {"index": self.idx, "seed": self.seed, "cache_key": self.cache_key, "sha256": self.sha256,
                "duration_s": self.duration_s, "take_seed": self.take_seed,
                "quality_retries": self.quality_retries, "speaker_similarity": self.speaker_similarity,
                "speaker_flagged": bool(self.speaker_flagged), "readback": self.readback,
                "readback_wer": self.readback_wer, "readback_missing": self.readback_missing}


@dataclass
class FinalizeWork:
    job_id: str
    tenant_id: str
    engine: str
    model: str
    fmt: str
    out_rate: int | None
    per_chapter: bool
    title: str | None
    author: str | None
    source: dict[str, Any]
    provenance: dict[str, Any]
    chunks: list[FinalChunk] = field(default_factory=list)
    output: dict[str, Any] = field(default_factory=dict)  # the job's output spec (preset, volume, tempo)


@dataclass
class FinalResult:
    key: str
    fmt: str
    duration_s: float
    size: int
    sha256: str
    extras: dict[str, Any]


def claim_finalize(session: Session, job_id: str, worker: str, *, lease_s: float,
                   max_attempts: int) -> FinalizeWork | None:
    now = utcnow()
    # our own lease (this boot), left behind when an outage kept us from releasing it: re-take it
    # without counting an attempt
    got = session.execute(
        update(Job).where(Job.id == job_id, Job.status == JobStatus.running, Job.finalize_owner == worker)
        .values(finalize_expires_at=now + timedelta(seconds=lease_s))
        .execution_options(synchronize_session=False)).rowcount
    got = got or session.execute(
        update(Job).where(Job.id == job_id, Job.status == JobStatus.running,
                          Job.progress_done >= Job.progress_total, Job.finalize_attempts < max_attempts,
                          or_(Job.finalize_owner.is_(None), Job.finalize_expires_at < now))
        .values(finalize_owner=worker, finalize_expires_at=now + timedelta(seconds=lease_s),
                finalize_attempts=Job.finalize_attempts + 1)
        .execution_options(synchronize_session=False)).rowcount
    job = session.get(Job, job_id, populate_existing=True)
    if job is None:
        return None
    if not got:
        stale = job.finalize_owner is None or (job.finalize_expires_at and job.finalize_expires_at < now)
        if job.status == JobStatus.running and job.progress_done >= job.progress_total and stale \
                and job.finalize_attempts >= max_attempts:
            fail_job(session, job, None, "finalize_failed",
                     f"assembling the output failed {job.finalize_attempts} times")
        return None
    columns = [getattr(Chunk, f.name) for f in fields(FinalChunk)]
    chunks = session.execute(select(*columns).where(Chunk.job_id == job_id).order_by(Chunk.idx)).all()
    return FinalizeWork(
        job.id, job.tenant_id, job.engine, job.model, job.output.get("format", "wav"),
        job.output.get("sample_rate"), bool(job.output.get("per_chapter")), job.title, job.author,
        dict(job.source or {}),
        {"job_id": job.id, "engine": job.engine, "model": job.model, "voice_id": job.voice_id,
         "voice_sha256": job.voice_sha256, "params": job.params, "seed": job.seed},
        [FinalChunk(**r._mapping) for r in chunks], dict(job.output or {}))


def release_finalize(session: Session, job_id: str, worker: str) -> None:
    session.execute(update(Job).where(Job.id == job_id, Job.finalize_owner == worker)
                    .values(finalize_owner=None, finalize_expires_at=None)
                    .execution_options(synchronize_session=False))


def defer_finalize(session: Session, job_id: str, worker: str, *, error: str, deadline_s: float) -> bool:
    """Give the finalize lease back after an infrastructure error without using an attempt.
    Returns True when the job has now failed ``infrastructure_unavailable`` (core/render/failures.py)."""
    session.execute(update(Job).where(Job.id == job_id, Job.finalize_owner == worker)
                    .values(finalize_owner=None, finalize_expires_at=None,
                            finalize_attempts=Job.finalize_attempts - 1)
                    .execution_options(synchronize_session=False))
    return note_infra_failure(session, job_id, deadline_s, error)


def succeed_job(session: Session, job_id: str, worker: str, result: FinalResult) -> bool:
    ok = set_job_status(session, job_id, JobStatus.succeeded, allowed_from=[JobStatus.running],
                        where=[Job.finalize_owner == worker], result_key=result.key,
                        result_format=result.fmt, result_duration_s=round(result.duration_s, 3),
                        result_bytes=result.size, result_sha256=result.sha256,
                        result_extras=result.extras, finalize_owner=None, error_code=None,
                        error_message=None)
    if ok:
        events.emit(session, session.get(Job, job_id, populate_existing=True), "job.succeeded")
    return ok


def _fetch(store: ObjectStore, chunk: FinalChunk, rate: int) -> np.ndarray:
    audio, sr = decode_bytes(store.get_bytes(chunk.cache_key, expect_sha256=chunk.sha256))
    if sr != rate:
        raise ValueError(f"chunk {chunk.idx} is at {sr} Hz, expected {rate} Hz")
    return audio


def _generic(work: FinalizeWork) -> dict:
    """The output spec as core/audio/formats.py judges it; m4b is the stitch encoder's own format too
    (chapters, tags, cover art), so it takes ffmpeg's generic path only for a preset, gain or
    time-stretch."""
    return {**work.output, "format": "wav"} if work.fmt == "m4b" else work.output


def build_single(work: FinalizeWork, store: ObjectStore, audio: np.ndarray | None) -> FinalResult:
    """One chunk: encode it as requested (no loudness pass: there is nothing to level against)."""
    spec = ENGINES[work.engine]
    if audio is None:
        audio = _fetch(store, work.chunks[0], spec.sample_rate)
    key = keys.job_result(work.tenant_id, work.job_id, work.fmt)
    if formats.needs_ffmpeg(_generic(work)):
        data, _rate = formats.encode_array(audio, spec.sample_rate, work.output, spec.sample_rate)
        info = store.put_bytes(key, data, CONTENT_TYPES[work.fmt])
    elif work.fmt == "m4b":
        with tempfile.TemporaryDirectory(prefix="vf-final-") as tmp:
            master = Path(tmp) / "master.flac"
            master.write_bytes(encode_audio(audio, spec.sample_rate, "flac", work.out_rate)[0])
            dest = Path(tmp) / "out.m4b"
            encode(master, dest, "m4b", metadata=ffmetadata(work.title, work.author, []))
            info = store.put_file(key, dest, CONTENT_TYPES["m4b"])
    else:
        data, _rate = encode_audio(audio, spec.sample_rate, work.fmt, work.out_rate)
        info = store.put_bytes(key, data, CONTENT_TYPES[work.fmt])
    tempo = float(work.output.get("tempo") or 1.0)
    timeline = Timeline(spec.sample_rate)
    timeline.add(work.chunks[0], audio, 0, 0)  # the file is the chunk as rendered: nothing trimmed
    files = {n: store.put_bytes(keys.job_file(work.tenant_id, work.job_id, n), text.encode(),
                                CONTENT_TYPES[n.rsplit(".", 1)[1]]).key for n, text in timeline.files(tempo).items()}
    return FinalResult(key, work.fmt, audio.size / spec.sample_rate / tempo, info.size, info.sha256,
                       {"files": files, "readback": summarize(work.chunks)})


def build_stitched(work: FinalizeWork, store: ObjectStore, settings: Settings, tmpdir: Path) -> FinalResult:
    """Many chunks: stitch, loudness-normalize, encode with chapters, plus sidecars."""
    spec = ENGINES[work.engine]
    rate = spec.sample_rate
    by_idx = {c.idx: c for c in work.chunks}
    pieces = [Piece(c.idx, c.chapter, c.pause_after) for c in work.chunks]
    pauses = Pauses(settings.pause_sentence_ms, settings.pause_paragraph_ms, settings.pause_chapter_ms,
                    settings.crossfade_ms, settings.pause_title_ms)
    timeline = Timeline(rate)  # where each chunk lands: the captions' times (core/render/timings.py)
    raw = assemble(pieces, lambda p: _fetch(store, by_idx[p.idx], rate), rate, pauses, tmpdir / "raw.flac",
                   on_piece=lambda p, audio, start, head: timeline.add(by_idx[p.idx], audio, start, head))
    via_ffmpeg = formats.needs_ffmpeg(_generic(work))
    out_rate = (formats.output_rate(formats.codec_for(work.fmt, work.output.get("preset")),
                                    work.out_rate or settings.stitch_sample_rate, rate)
                if via_ffmpeg else output_rate(work.fmt, work.out_rate or settings.stitch_sample_rate, rate))
    ceiling = settings.true_peak_dbfs
    measured = measure_loudness(raw.path, settings.loudness_target_lufs, ceiling - HEADROOM_DB)
    master = tmpdir / "master.flac"
    normalize(raw.path, master, measured, target_lufs=settings.loudness_target_lufs,
              true_peak=ceiling - HEADROOM_DB, out_rate=out_rate)
    total_s = raw.samples / rate
    titles = [c["title"] for c in work.source.get("chapters", [])]
    starts = [s / rate for s in raw.chapter_starts]
    chapters = [(titles[i] if i < len(titles) else f"Chapter {i + 1}", start,
                 starts[i + 1] if i + 1 < len(starts) else total_s) for i, start in enumerate(starts)]
    cover = None
    if work.source.get("cover_key"):
        cover = tmpdir / Path(work.source["cover_key"]).name
        store.download(work.source["cover_key"], cover)
    # a time-stretch moves every mark: chapters are cut from the master in its own time, and
    # reported (tags, chapters.json, cue) in the output's
    tempo = float(work.output.get("tempo") or 1.0)
    shown = [(n, s / tempo, e / tempo) for n, s, e in chapters]
    dest = tmpdir / f"audio.{work.fmt}"

    def mastered(path: Path, metadata: str, **cut: int) -> float:
        """Encode ``path`` from the master, under the true-peak ceiling as decoded; its true peak."""
        def write(gain: float) -> None:
            if via_ffmpeg:  # presets, opus, aac, pcm: the output's own volume carries the gain
                out = {**work.output, "volume": float(work.output.get("volume") or 1.0) * 10 ** (gain / 20)}
                formats.transcode(master, path, out, rate, metadata=metadata, **cut)
            else:
                encode(master, path, work.fmt, metadata=metadata, cover=cover, gain_db=gain, **cut)

        if work.fmt == "pcm":  # headerless samples: nothing to decode them by; the master is under it
            write(0.0)
            return math.nan
        return encode_under_ceiling(write, path, ceiling, rate=out_rate)

    peaks = {dest.name: mastered(dest, ffmetadata(work.title, work.author, shown))}
    key = keys.job_result(work.tenant_id, work.job_id, work.fmt)
    files: dict[str, str] = {}
    if work.per_chapter:
        for i, (name, start, end) in enumerate(chapters, 1):
            # the chapter is the title, the book the album, track n/N, the book's cover
            part = tmpdir / f"chapter-{i:03d}.{work.fmt}"
            peaks[part.name] = mastered(part, ffmetadata(name, work.author, [], album=work.title,
                                                         track=(i, len(chapters))),
                                        start_sample=int(start * out_rate), end_sample=int(end * out_rate))
            files[part.name] = store.put_file(keys.job_file(work.tenant_id, work.job_id, part.name), part,
                                              CONTENT_TYPES[work.fmt]).key
    out_peaks = {name: round(p, 2) if math.isfinite(p) else None for name, p in peaks.items()}  # -inf: silence
    chapter_list = [{"title": n, "start_s": round(s, 3), "end_s": round(e, 3)} for n, s, e in shown]
    sidecars = {
        "chapters.json": json.dumps(chapter_list, indent=2),
        "chapters.cue": cue_sheet(f"{work.job_id}.{work.fmt}", work.fmt, work.title, work.author, shown),
        "metadata.json": json.dumps({**work.provenance, "format": work.fmt, "sample_rate": out_rate,
                                     "loudness": {"target_lufs": settings.loudness_target_lufs,
                                                  "true_peak_dbfs": ceiling,
                                                  "measured_input": measured,
                                                  "output_true_peak_dbfs": out_peaks},
                                     "readback": summarize(work.chunks),
                                     "chunks": [c.provenance() for c in work.chunks]},
                                    indent=2),
        **timeline.files(tempo, [(s, e) for _, s, e in chapters] if work.per_chapter else None),
    }
    for name, text in sidecars.items():
        files[name] = store.put_bytes(keys.job_file(work.tenant_id, work.job_id, name), text.encode(),
                                      CONTENT_TYPES[name.rsplit(".", 1)[1]]).key
    info = store.put_file(key, dest, CONTENT_TYPES[work.fmt])
    return FinalResult(key, work.fmt, total_s / tempo, info.size, info.sha256,
                       {"files": files, "chapters": chapter_list, "readback": summarize(work.chunks)})
