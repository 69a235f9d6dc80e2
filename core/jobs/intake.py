"""Job intake, lookup, listing and cancellation: what the API's job views call.

``submit_job`` validates a request against the engine's capabilities, parses and plans the text,
checks the tenant's audio limits (core/tenants/limits.py) before anything is stored, and writes the
job, its chunks and one outbox message per chunk in the caller's transaction.
Nothing is published here: the unit of work publishes after the commit (core/state/outbox.py).
"""

from __future__ import annotations

import base64
import binascii
import difflib
import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from voxfarm.core.audio import formats
from voxfarm.core.audio.arrays import check_output_rate
from voxfarm.core.clock import utcnow
from voxfarm.core.db import undo_on_rollback
from voxfarm.core.engines.catalog import check_voice
from voxfarm.core.engines.languages import LANGUAGES, text_language
from voxfarm.core.engines.params import validate_params
from voxfarm.core.engines.registry import ENGINES, EngineSpec, listed_engines, served_engines
from voxfarm.core.errors import Conflict, InvalidInput, NotFound, TooLarge
from voxfarm.core.ids import looks_like_id, new_id
from voxfarm.core.jobs import dispatch
from voxfarm.core.jobs.front import check_phonemes, chunk_columns, front_source, job_front_end
from voxfarm.core.jobs.lanes import render_queue
from voxfarm.core.jobs.planning import DEFAULT_SEED, FrontEnd, Plan, cache_digest, plan_document
from voxfarm.core.jobs.schemas import JobCreate
from voxfarm.core.jobs.voice import PromptAudio, resolve_job_voice
from voxfarm.core.models import Chunk, Job
from voxfarm.core.netguard import Guard
from voxfarm.core.pagination import by_index, newest_first
from voxfarm.core.settings import Settings
from voxfarm.core.state import events, outbox
from voxfarm.core.state.lifecycle import ChunkStatus, JobStatus, set_job_chunks_status, set_job_status
from voxfarm.core.storage import ObjectStore, keys
from voxfarm.core.tenants.limits import admit_audio
from voxfarm.core.text.cover import cover_ext
from voxfarm.core.text.document import Document, from_plain
from voxfarm.core.text.epub import parse_epub
from voxfarm.core.text.markdown import has_headings, parse_markdown


@dataclass
class Intake:
    """A validated request plus the parsed document (and its raw upload, if any)."""

    request: JobCreate
    document: Document
    upload: bytes | None = None
    fmt: str = "epub"  # what the text was read as: plain | markdown | epub


def text_format(req: JobCreate) -> str:
    """The format a text is read as: ``auto`` is Markdown when the text has Markdown headings."""
    if req.text_format == "auto":
        return "markdown" if has_headings(req.text or "") else "plain"
    return req.text_format


def _parse(req: JobCreate, settings: Settings, document: bytes | None) -> Intake:
    if req.document_base64 is not None:
        if document is not None:
            raise InvalidInput("send the EPUB either as a file or as document_base64, not both")
        # 4 base64 characters per 3 bytes: refuse by length before decoding megabytes for nothing
        encoded_limit = 4 * -(-settings.max_document_bytes // 3)
        if len(req.document_base64) > encoded_limit + 4:
            raise TooLarge(f"the document is about {len(req.document_base64) * 3 // 4} bytes; the limit is "
                           f"{settings.max_document_bytes} (VOXFARM_MAX_DOCUMENT_BYTES)", code="document_too_large")
        try:
            document = base64.b64decode(req.document_base64, validate=True)
        except (binascii.Error, ValueError):
            raise InvalidInput("document_base64 is not valid base64", code="invalid_base64") from None
    if document is not None and req.text is not None:
        raise InvalidInput("give either text or a document, not both", code="ambiguous_input")
    if document is not None:
        if len(document) > settings.max_document_bytes:
            raise TooLarge(f"the document is {len(document)} bytes; the limit is {settings.max_document_bytes} "
                           "(VOXFARM_MAX_DOCUMENT_BYTES)", code="document_too_large")
        doc = parse_epub(document)
    else:
        if req.text is None or not req.text.strip():
            raise InvalidInput("text must not be empty", code="empty_text")
        if len(req.text) > settings.max_text_chars:
            raise TooLarge(f"text is {len(req.text)} characters; the limit is {settings.max_text_chars} "
                           "(VOXFARM_MAX_TEXT_CHARS)", code="text_too_long")
        fmt = text_format(req)
        doc = parse_markdown(req.text, req.title) if fmt == "markdown" else from_plain(req.text, req.title)
    if doc.chars > settings.max_text_chars:
        raise TooLarge(f"the document holds {doc.chars} characters; the limit is {settings.max_text_chars}",
                       code="text_too_long")
    if doc.chars == 0:
        raise InvalidInput("the text has nothing to say", code="empty_text")
    return Intake(req, doc, document, "epub" if document is not None else fmt)


def _check_language(engine: str, language: str | None) -> None:
    """A language the engine does not know is refused now: accepted, it would fail every chunk."""
    known = LANGUAGES.get(engine)
    if language is None or known is None or language.lower() in known:
        return
    close = difflib.get_close_matches(language.lower(), sorted(known), n=4, cutoff=0.5)
    hint = f"; did you mean {', '.join(close)}?" if close else ""
    raise InvalidInput(f"engine {engine!r} has no language {language!r}{hint} (GET /v1/engines lists all "
                       f"{len(known)})", code="unknown_language")


def submit_job(session: Session, settings: Settings, store: ObjectStore, tenant_id: str,
               req: JobCreate, document: bytes | None = None, *, target_s: float | None = None,
               first_chunk_chars: int | None = None, prompts: dict[str, PromptAudio] | None = None) -> Job:
    """Validate, plan and write one job with its chunks and their outbox messages.  ``target_s``
    and ``first_chunk_chars`` shape the plan for live streams (core/speech/requests.py); ``prompts`` are its
    inline voice prompts, read beforehand by ``core.jobs.voice.read_prompts``."""
    values, chunks = prepare_job(session, settings, store, tenant_id, req, document, target_s=target_s,
                                 first_chunk_chars=first_chunk_chars, prompts=prompts)
    job = Job(**values)
    session.add(job)
    session.flush()  # the job row first: chunks reference it and there is no ORM relationship
    queue_chunks(session, settings, tenant_id, job.engine, chunks, job.priority)
    return job


def queue_chunks(session: Session, settings: Settings, tenant_id: str, engine: str,
                 chunks: list[dict[str, Any]], priority: int = 0) -> None:
    """Insert chunks (row values of one tenant and engine, in plan order, their jobs already
    flushed) and one outbox message for each chunk the tenant's dispatch window admits now, on
    the lane its priority picks (core/jobs/lanes.py); the others are held.  Plain INSERTs, no ORM
    objects: a 10,000-item batch writes them in seconds."""
    size = dispatch.window(session, settings.dispatch_window, settings.heartbeat_s, engine)
    publish = dispatch.admit_new(session, size, tenant_id, engine, chunks)  # the rest wait, held
    session.execute(insert(Chunk), chunks)
    lane = render_queue(engine, priority, settings)
    outbox.add_bulk(session, [(outbox.RENDER_TASK, [c["id"]], lane) for c in publish])


def prepare_job(session: Session, settings: Settings, store: ObjectStore, tenant_id: str, req: JobCreate,
                document: bytes | None = None, *, target_s: float | None = None,
                first_chunk_chars: int | None = None, prompts: dict[str, PromptAudio] | None = None
                ) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Validate and plan ``req``, check the tenant's audio limits, then build the job's and its
    chunks' row values (nothing is written but a one-shot voice prompt's object and row).  Raises
    the domain error that the API answers with."""
    front = job_front_end(session, settings, tenant_id, req)  # the tenant's lexicons, in its scope
    planned = plan_job(settings, req, document, target_s=target_s, first_chunk_chars=first_chunk_chars, front=front)
    admit_audio(session, settings, tenant_id, planned.plan.expected_s)  # before anything is stored
    return build_job(session, settings, store, tenant_id, planned, prompts)


@dataclass
class PlannedJob:
    """A request validated and planned, before anything is stored (its voice is not resolved yet:
    the plan's cache keys take the voice's sha256 in ``build_job``)."""

    intake: Intake
    spec: EngineSpec
    params: dict[str, Any]
    output: dict[str, Any]
    seed: int
    model: str
    plan: Plan
    front: FrontEnd | None = None


def plan_job(settings: Settings, req: JobCreate, document: bytes | None = None, *, target_s: float | None = None,
             first_chunk_chars: int | None = None, front: FrontEnd | None = None) -> PlannedJob:
    engine = req.engine or settings.default_engine
    spec = ENGINES.get(engine)
    if spec is None or engine not in listed_engines(settings):  # a test engine not served is unknown
        raise InvalidInput(f"unknown engine {engine!r}; known: {', '.join(listed_engines(settings))}",
                           code="unknown_engine")
    if engine not in served_engines(settings):
        raise InvalidInput(f"engine {engine!r} is not served by this farm "
                           f"(serving: {', '.join(served_engines(settings))})", code="engine_not_served")
    given = dict(req.params)
    if isinstance(req.voice, str):
        if given.get("voice", req.voice) != req.voice:
            raise InvalidInput("voice and params.voice disagree; give one", code="ambiguous_input")
        given["voice"] = req.voice
    if isinstance(given.get("language"), str):
        given["language"] = given["language"].lower()
    given = validate_params(engine, spec.param_specs, given, spec.defaults)
    _check_language(engine, given.get("language"))
    if spec.voices == "catalog":
        check_voice(engine, given.get("voice", spec.defaults.get("voice", "")), settings)
    check_output_rate(req.output.format, req.output.sample_rate)
    if len(json.dumps(req.metadata)) > settings.max_metadata_bytes:
        raise TooLarge(f"metadata is limited to {settings.max_metadata_bytes} bytes of JSON",
                       code="metadata_too_large")
    if req.webhook is not None:
        Guard(settings.outbound_allowlist).check_literal(req.webhook.url)

    output = req.output.model_dump()
    if formats.needs_ffmpeg(output):
        formats.codec_for(output["format"], output["preset"])  # 422 when this ffmpeg cannot write it
    intake = _parse(req, settings, document)
    params = {k: v for k, v in spec.defaults.items() if k != "model"} | given
    params, output["tempo"] = formats.engine_speed(spec, params, given, output["speed"])
    job_seed = given.get("seed", DEFAULT_SEED)
    model = spec.model_id(settings)
    plan = plan_document(intake.document, spec, settings, model=model, voice_sha256=None,
                         params=params, job_seed=job_seed, language=text_language(engine, params),
                         target_s=target_s, first_chunk_chars=first_chunk_chars, front=front)
    if not plan.chunks:
        raise InvalidInput("the text has nothing to say", code="empty_text")
    check_phonemes(plan, front, spec, settings, params)
    return PlannedJob(intake, spec, params, output, job_seed, model, plan, front)


def build_job(session: Session, settings: Settings, store: ObjectStore, tenant_id: str, planned: PlannedJob,
              prompts: dict[str, PromptAudio] | None = None) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Resolve the voice (storing a one-shot prompt), upload the EPUB and cover, and return the
    row values of the job and its chunks."""
    p, req = planned, planned.intake.request
    text = " ".join(par for c in p.intake.document.chapters for par in c.paragraphs)
    voice, dialogue = resolve_job_voice(session, settings, store, tenant_id, req, p.spec, text, prompts or {})
    voice_sha = voice.sha256 if voice else None
    digests = [c.cache_digest if voice_sha is None else
               cache_digest(engine=p.spec.name, model=p.model, voice_sha256=voice_sha, text=c.rendered,
                            params=p.params, seed=c.seed, lexicon=c.lexicon) for c in p.plan.chunks]
    job_id = new_id("job")
    source = {"type": p.intake.fmt, "chapters": p.plan.chapters,
              "expected_s": round(p.plan.expected_s, 1), **front_source(p.front)}
    if p.intake.upload is not None:
        source["document_key"] = store.put_bytes(keys.job_file(tenant_id, job_id, "source.epub"),
                                                 p.intake.upload, "application/epub+zip").key
        undo_on_rollback(session, lambda: store.delete(source["document_key"]))
    doc = p.intake.document
    ext = cover_ext(doc.cover, source)  # an unusable cover is dropped with a warning, not left to fail the book
    if ext:
        source["cover_key"] = store.put_bytes(keys.job_file(tenant_id, job_id, f"cover.{ext}"), doc.cover).key
        undo_on_rollback(session, lambda: store.delete(source["cover_key"]))
    now = utcnow()
    job = {"id": job_id, "tenant_id": tenant_id, "status": JobStatus.queued, "engine": p.spec.name, "model": p.model,
           "text": req.text, "source": source, "title": req.title or doc.title,
           "author": req.author or doc.author, "voice_id": voice.id if voice else None, "voice_sha256": voice_sha,
           "voices": dialogue, "quality": req.quality.resolved(settings.readback),
           "params": p.params, "output": p.output, "metadata_": req.metadata, "priority": req.priority,
           "webhook": req.webhook.model_dump(exclude_none=True) if req.webhook else None,
           "seed": p.seed, "progress_total": len(p.plan.chunks), "created_at": now, "updated_at": now}
    chunks = [{"id": new_id("chk"), "job_id": job_id, "tenant_id": tenant_id, "idx": c.idx, "chapter": c.chapter,
               "pause_after": c.pause_after, "text": c.text, "expected_s": c.expected_s, "seed": c.seed,
               "cache_key": keys.chunk_cache(tenant_id, digest), "enqueued_at": now, "created_at": now,
               "updated_at": now, **chunk_columns(c)}
              for c, digest in zip(p.plan.chunks, digests, strict=True)]
    return job, chunks


def get_job(session: Session, tenant_id: str, job_id: str) -> Job:
    if not looks_like_id(job_id, "job"):
        raise NotFound(f"job {job_id[:64]!r} not found")
    job = session.scalar(select(Job).where(Job.id == job_id, Job.tenant_id == tenant_id))
    if job is None:
        raise NotFound(f"job {job_id} not found")
    return job


def list_jobs(session: Session, tenant_id: str, *, status: str | None, limit: int,
              cursor: str | None) -> tuple[list[Job], str | None]:
    """Newest first.  Ids sort by creation time (core/ids.py), so the cursor is the last id."""
    q = select(Job).where(Job.tenant_id == tenant_id)
    if status:
        q = q.where(Job.status == status)
    return newest_first(session, q, Job.id, "job", limit=limit, cursor=cursor)


def cancel_job(session: Session, tenant_id: str, job_id: str) -> Job:
    """Queued and running jobs end ``canceled`` now.  Chunks not yet rendering never will; a batch
    already on the GPU finishes, and its results are dropped at the batch boundary."""
    job = get_job(session, tenant_id, job_id)
    if job.status == JobStatus.canceled:
        return job
    if job.status.terminal:
        raise Conflict(f"job {job_id} already {job.status}; only queued or running jobs can be canceled",
                       code="job_not_cancelable")
    now = utcnow()
    if not set_job_status(session, job.id, JobStatus.canceled, cancel_requested_at=now,
                          error_code="canceled", error_message="canceled by the client"):
        session.refresh(job)
        raise Conflict(f"job {job_id} finished while canceling ({job.status})", code="job_not_cancelable")
    set_job_chunks_status(session, job.id, ChunkStatus.canceled,
                          allowed_from=(ChunkStatus.pending, ChunkStatus.running), lease_owner=None)
    session.refresh(job)
    events.emit(session, job, "job.canceled")
    return job


def list_chunks(session: Session, tenant_id: str, job_id: str, *, limit: int,
                cursor: str | None) -> tuple[Job, list[Chunk], str | None]:
    job = get_job(session, tenant_id, job_id)
    rows, next_cursor = by_index(session, select(Chunk).where(Chunk.job_id == job.id), Chunk.idx, limit=limit,
                                 cursor=cursor)
    return job, rows, next_cursor

