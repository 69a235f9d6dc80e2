"""Job routes: submit, read, list, cancel, chunks, audio and result files."""

from __future__ import annotations

from flask import Response, g, redirect, stream_with_context
from flask_openapi3 import APIBlueprint, FileStorage, Tag
from pydantic import BaseModel, ConfigDict, Field, field_validator
from werkzeug.datastructures import FileStorage as UploadedFile

from voxfarm.api import idempotency as idem
from voxfarm.api.contract import IDEMPOTENT
from voxfarm.api.hygiene import read_upload
from voxfarm.api.services import services
from voxfarm.core.audio.arrays import CONTENT_TYPES
from voxfarm.core.errors import Conflict, NotFound
from voxfarm.core.fleet.workers import LiveWorkers
from voxfarm.core.ids import id_pattern
from voxfarm.core.jobs import intake as core_jobs
from voxfarm.core.jobs import rerender
from voxfarm.core.jobs.schemas import (
    ChunkListQuery,
    ChunkPlanOut,
    JobCreate,
    JobList,
    JobListQuery,
    JobOut,
    JobPath,
)
from voxfarm.core.jobs.serialize import chunk_resource, job_resource
from voxfarm.core.jobs.voice import read_prompts
from voxfarm.core.schemas import ErrorResponse

bp = APIBlueprint("jobs", __name__, url_prefix="/v1", abp_tags=[Tag(name="jobs")],
                  abp_security=[{"bearer": []}],
                  abp_responses={401: ErrorResponse, 404: ErrorResponse, 422: ErrorResponse})


class FilePath(BaseModel):
    job_id: str = Field(max_length=64, json_schema_extra={"pattern": id_pattern("job")})
    name: str = Field(max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


@bp.post("/jobs", responses={202: JobOut, 400: ErrorResponse, 409: ErrorResponse, 413: ErrorResponse,
                             415: ErrorResponse}, openapi_extensions=IDEMPOTENT)
def create_job(body: JobCreate):
    """Submit text (or an EPUB) for synthesis; answers 202 with the queued job."""
    svc = services()

    def build(session, prompts):
        job = core_jobs.submit_job(session, svc.settings, svc.store, g.tenant.id, body, prompts=prompts)
        session.flush()
        return job_resource(job, svc.store, svc.settings, LiveWorkers.load(session, svc.settings))

    # inline voice prompts are decoded (or downloaded) before the transaction opens
    return idem.create("POST /v1/jobs", 202, build, prepare=lambda: read_prompts(svc.settings, body),
                       location=lambda job: f"/v1/jobs/{job['id']}")


class JobUpload(BaseModel):
    """multipart/form-data: the EPUB and/or a one-shot voice prompt as file parts, the rest of the job
    as a JSON part (with the prompt's transcript in ``voice: {"transcript": ...}``)."""

    model_config = ConfigDict(extra="forbid", arbitrary_types_allowed=True)
    document: FileStorage | None = Field(None, description="The EPUB file (at most VOXFARM_MAX_DOCUMENT_BYTES; "
                                         "413 beyond); without it, job.text is rendered")
    voice_file: FileStorage | None = Field(None, description="A one-shot voice prompt (checked like "
                                           "POST /v1/voices)")
    job: JobCreate | None = Field(None, description="JSON: the job's other fields (engine, output, ...)")

    @field_validator("document", "voice_file", mode="before")
    @classmethod
    def _file_part(cls, value: object) -> object:
        # a plain form field of that name (no filename) reaches here as a str
        if value is not None and not isinstance(value, UploadedFile):
            raise ValueError("must be a file part")
        return value


@bp.post("/jobs/upload", responses={202: JobOut, 400: ErrorResponse, 409: ErrorResponse, 413: ErrorResponse,
                                    415: ErrorResponse}, openapi_extensions=IDEMPOTENT)
def upload_job(form: JobUpload):
    """Submit an EPUB and/or a voice prompt as file uploads (no base64 inflation); answers 202."""
    svc = services()
    req = form.job or JobCreate()

    def read() -> tuple[bytes | None, dict]:
        document = read_upload(form.document.stream, svc.settings.max_document_bytes, "document",
                               "VOXFARM_MAX_DOCUMENT_BYTES") if form.document else None
        voice = read_upload(form.voice_file.stream, svc.settings.voice_max_bytes, "voice file",
                            "VOXFARM_VOICE_MAX_BYTES") if form.voice_file else None
        return document, read_prompts(svc.settings, req, voice)

    def build(session, parts):
        document, prompts = parts
        job = core_jobs.submit_job(session, svc.settings, svc.store, g.tenant.id, req, document=document,
                                   prompts=prompts)
        session.flush()
        return job_resource(job, svc.store, svc.settings, LiveWorkers.load(session, svc.settings))

    return idem.create("POST /v1/jobs/upload", 202, build, prepare=read,
                       location=lambda job: f"/v1/jobs/{job['id']}")


@bp.get("/jobs", responses={200: JobList})
def list_jobs(query: JobListQuery):
    """The tenant's jobs, newest first, with cursor pagination."""
    svc = services()
    with svc.db.session() as s:
        rows, cursor = core_jobs.list_jobs(s, g.tenant.id, status=query.status, limit=query.limit,
                                           cursor=query.cursor)
        live = LiveWorkers.load(s, svc.settings)
        return {"data": [job_resource(j, svc.store, svc.settings, live) for j in rows], "next_cursor": cursor}


# the id converter keeps /jobs/upload from matching here too; the operation id stays what it was
@bp.get('/jobs/<id("job"):job_id>', responses={200: JobOut}, operation_id="jobs_get_job_jobs__job_id__get")
def get_job(path: JobPath):
    svc = services()
    with svc.db.session() as s:
        job = core_jobs.get_job(s, g.tenant.id, path.job_id)
        return job_resource(job, svc.store, svc.settings, LiveWorkers.load(s, svc.settings))


@bp.post("/jobs/<job_id>/cancel", responses={200: JobOut, 409: ErrorResponse})
def cancel_job(path: JobPath):
    """Cancel a queued or running job (running chunks stop at the next batch boundary)."""
    svc = services()
    with svc.uow() as s:
        job = core_jobs.cancel_job(s, g.tenant.id, path.job_id)
        return job_resource(job, svc.store, svc.settings)


@bp.post("/jobs/<job_id>/rerender", responses={202: JobOut, 409: ErrorResponse}, openapi_extensions=IDEMPOTENT)
def rerender_job(path: JobPath, body: rerender.RerenderRequest):
    """Re-render one chunk (or a chapter's chunks) of a succeeded job with a new seed: answers 202 with a
    new job (``source.rerender_of``) that takes every other chunk from the cache and stitches again."""
    svc = services()

    def build(session, _):
        job = rerender.rerender_job(session, svc.settings, g.tenant.id, path.job_id, body)
        session.flush()
        return job_resource(job, svc.store, svc.settings, LiveWorkers.load(session, svc.settings))

    return idem.create("POST /v1/jobs/rerender", 202, build, location=lambda job: f"/v1/jobs/{job['id']}")


@bp.get("/jobs/<job_id>/chunks", responses={200: ChunkPlanOut})
def list_chunks(path: JobPath, query: ChunkListQuery):
    """The render plan: chapters and chunks with their status, seeds and cache keys."""
    svc = services()
    with svc.db.session() as s:
        job, rows, cursor = core_jobs.list_chunks(s, g.tenant.id, path.job_id, limit=query.limit,
                                                  cursor=query.cursor)
        return {"job_id": job.id, "chapters": job.source.get("chapters", []),
                "chunks": [chunk_resource(c) for c in rows], "next_cursor": cursor}


def _serve(key: str, filename: str):
    svc = services()
    url = svc.store.presigned_url(key, svc.settings.presign_expiry_s, filename=filename)
    if url:
        return redirect(url, code=302)
    if not svc.store.exists(key):
        raise NotFound("the stored file is missing", code="file_missing")
    ext = filename.rsplit(".", 1)[-1]
    resp = Response(stream_with_context(svc.store.iter_chunks(key)),
                    mimetype=CONTENT_TYPES.get(ext, "application/octet-stream"))
    resp.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    return resp


@bp.get("/jobs/<job_id>/audio", responses={200: None, 302: None, 409: ErrorResponse})
def get_audio(path: JobPath):
    """The rendered audio: 302 to a presigned URL (S3), or streamed (local disk)."""
    svc = services()
    with svc.db.session() as s:
        job = core_jobs.get_job(s, g.tenant.id, path.job_id)
    if job.status != "succeeded" or not job.result_key:
        raise Conflict(f"job {job.id} is {job.status}; audio exists once it has succeeded",
                       code="result_not_ready")
    return _serve(job.result_key, f"{job.id}.{job.result_format}")


@bp.get("/jobs/<job_id>/files/<name>", responses={200: None, 302: None, 409: ErrorResponse})
def get_file(path: FilePath):
    """A result sidecar: chapters.json, chapters.cue, metadata.json or a per-chapter file."""
    svc = services()
    with svc.db.session() as s:
        job = core_jobs.get_job(s, g.tenant.id, path.job_id)
    if job.status != "succeeded":  # as for /audio: the files come with the result
        raise Conflict(f"job {job.id} is {job.status}; its files exist once it has succeeded",
                       code="result_not_ready")
    files = (job.result_extras or {}).get("files", {})
    if path.name not in files:
        raise NotFound(f"job {job.id} has no file {path.name!r}", code="file_not_found")
    return _serve(files[path.name], path.name)
