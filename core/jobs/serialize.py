"""Rows to the JSON resources the API returns (and webhooks carry)."""

from __future__ import annotations

from typing import Any

from voxfarm.core.clock import iso, utcnow
from voxfarm.core.fleet.workers import LiveWorkers
from voxfarm.core.models import Chunk, Job, Voice
from voxfarm.core.settings import Settings
from voxfarm.core.storage import ObjectStore


def result_url(job: Job, store: ObjectStore, settings: Settings) -> str | None:
    if not job.result_key:
        return None
    url = store.presigned_url(job.result_key, settings.presign_expiry_s,
                              filename=f"{job.id}.{job.result_format}")
    return url or f"{settings.public_url.rstrip('/')}/v1/jobs/{job.id}/audio"


def file_url(job: Job, name: str, key: str, store: ObjectStore, settings: Settings) -> str:
    url = store.presigned_url(key, settings.presign_expiry_s, filename=name)
    return url or f"{settings.public_url.rstrip('/')}/v1/jobs/{job.id}/files/{name}"


def eta_seconds(job: Job) -> float | None:
    if job.status != "running" or not job.started_at or job.progress_done == 0:
        return None
    remaining = job.progress_total - job.progress_done
    elapsed = (utcnow() - job.started_at).total_seconds()
    return round(elapsed / job.progress_done * remaining, 1)


def job_resource(job: Job, store: ObjectStore, settings: Settings,
                 live: LiveWorkers | None = None) -> dict[str, Any]:
    """The job as the API shows it; with ``live`` (a worker snapshot) it also says what an
    unfinished job waits for (``waiting_for``: ``worker`` or ``control_worker``)."""
    result = None
    if job.status == "succeeded":
        extras = job.result_extras or {}
        result = {"url": result_url(job, store, settings), "format": job.result_format,
                  "duration_s": job.result_duration_s, "bytes": job.result_bytes,
                  "sha256": job.result_sha256, "chapters": extras.get("chapters"),
                  "files": {name: file_url(job, name, key, store, settings)
                            for name, key in extras.get("files", {}).items()}}
    error = {"code": job.error_code, "message": job.error_message or ""} if job.error_code else None
    waiting = live.waiting_for(job) if live is not None else None
    return {
        "id": job.id,
        "status": str(job.status),
        "engine": job.engine,
        "model": job.model,
        "voice_id": job.voice_id,
        "voice_sha256": job.voice_sha256,
        "voices": job.voices,
        "params": job.params,
        "output": job.output,
        "quality": job.quality or {"readback": False},
        "readback": (job.result_extras or {}).get("readback"),
        "metadata": job.metadata_,
        "priority": job.priority,
        "title": job.title,
        "created_at": iso(job.created_at),
        "updated_at": iso(job.updated_at),
        "cancel_requested": job.cancel_requested_at is not None,
        "progress": {"done": job.progress_done, "total": job.progress_total,
                     "cache_hits": job.cache_hits, "eta_s": eta_seconds(job)},
        "result": result,
        "error": error,
        "render": {"worker": job.render_worker, "batch_size": job.render_batch_size,
                   "attempts": job.attempts, "started_at": iso(job.started_at),
                   "finished_at": iso(job.finished_at)},
        "webhook": job.webhook,
        "waiting_for": waiting[0] if waiting else None,
        "waiting_message": waiting[1] if waiting else None,
        "warnings": list((job.source or {}).get("warnings", [])),
        **front_end_resource(job),
    }


def front_end_resource(job: Job) -> dict[str, Any]:
    """How the job's text became speech (core/jobs/planning.py FrontEnd), as submitted."""
    front = (job.source or {}).get("front_end") or {}
    return {"text_normalization": front.get("text_normalization", "off"),
            "announce_chapters": bool(front.get("announce_chapters", False)),
            "lexicons": list(front.get("lexicons", []))}


def chunk_resource(chunk: Chunk) -> dict[str, Any]:
    return {
        "index": chunk.idx, "chapter": chunk.chapter, "text": chunk.text,
        "spoken_text": chunk.spoken_text if chunk.spoken_text is not None else chunk.text,
        "lexicon_matches": [{"lexicon": m[0], "grapheme": m[1], "version": m[2]} for m in chunk.lexicon_matches or []],
        "expected_s": chunk.expected_s, "status": str(chunk.status), "seed": chunk.seed,
        "cache_key": chunk.cache_key, "cache_hit": chunk.cache_hit, "duration_s": chunk.duration_s,
        "attempts": chunk.attempts, "batch_size": chunk.batch_size, "worker": chunk.worker,
        "started_at": iso(chunk.started_at), "finished_at": iso(chunk.finished_at),
        "engine_s": round(chunk.engine_s, 4) if chunk.engine_s is not None else None,
        "quality_retries": chunk.quality_retries, "take_seed": chunk.take_seed,
        "speaker_similarity": chunk.speaker_similarity, "speaker_flagged": bool(chunk.speaker_flagged),
        "readback": chunk.readback, "readback_wer": chunk.readback_wer, "readback_missing": chunk.readback_missing,
        "readback_text": chunk.readback_text, "readback_flagged": chunk.readback == "flagged",
        "readback_reason": (chunk.readback_detail or {}).get("reason"),
        "error": {"code": chunk.error_code, "message": chunk.error_message or ""} if chunk.error_code else None,
    }


def voice_resource(voice: Voice, *, embedding: bool = False) -> dict[str, Any]:
    extra = {"embedding": voice.embedding} if embedding else {}
    return {**extra, "id": voice.id, "name": voice.name, "transcript": voice.transcript,
            "format": voice.original_format, "sample_rate": voice.sample_rate,
            "channels": voice.channels, "duration_s": round(voice.duration_s, 3),
            "bytes": voice.bytes, "sha256": voice.sha256, "speech_s": voice.speech_s, "snr_db": voice.snr_db,
            "registered": voice.registered, "embedding_model": voice.embedding_model,
            "embedding_self_similarity": voice.embedding_self_similarity,
            "created_at": iso(voice.created_at)}
