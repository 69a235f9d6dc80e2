"""Batch request and response models: bulk submit, progress, and a batch's jobs.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
)

from voxfarm.core.pagination import INDEX_CURSOR
from voxfarm.core.schemas import ListQuery, WebhookSpec, path_id


# -- bulk intake: POST /v1/batches ---------------------------------------------------
class BatchCreate(BaseModel):
    """Items are job objects (the POST /v1/jobs body); ``defaults`` is merged under each item."""

    model_config = ConfigDict(extra="forbid")
    defaults: dict[str, Any] = Field(default_factory=dict, description="Job fields every item inherits "
                                     "(params, output and metadata merge key by key)")
    items: list[dict[str, Any]] = Field(description="The jobs, as POST /v1/jobs bodies; at most "
                                        "VOXFARM_BATCH_MAX_ITEMS (413 beyond). One invalid item refuses "
                                        "the batch: error.details = {index, error}")
    metadata: dict[str, Any] = Field(default_factory=dict)
    webhook: WebhookSpec | None = Field(None, description="Where batch.completed goes (default: the "
                                        "tenant's endpoint)")


class BatchProgress(BaseModel):
    jobs_done: int
    jobs_total: int
    percent: float
    chunks_done: int
    chunks_total: int


class BatchOut(BaseModel):
    id: str
    status: Literal["queued", "running", "completed"]
    total: int
    counts: dict[str, int]
    progress: BatchProgress
    metadata: dict[str, Any]
    webhook: dict[str, Any] | None
    created_at: str | None
    cancel_requested: bool
    completed_at: str | None


class BatchPath(BaseModel):
    batch_id: str = path_id("bat")


class BatchJobsQuery(ListQuery):
    limit: int = Field(100, ge=1, le=1000)
    cursor: str | None = Field(None, pattern=INDEX_CURSOR, description="next_cursor of the previous page")

