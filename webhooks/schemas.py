"""Webhook settings and delivery-history models: the signing secret, the default endpoint, attempts.
"""

from __future__ import annotations

from pydantic import (
    BaseModel,
    Field,
)

from voxfarm.core.schemas import HTTP_URL, STRICT, path_id


class WebhookSecretOut(BaseModel):
    secret: str
    previous_secret_valid_until: str | None


class WebhookEndpointIn(BaseModel):
    model_config = STRICT
    url: str | None = Field(None, min_length=1, max_length=2048,
                            json_schema_extra=HTTP_URL)


class DeliveryAttemptOut(BaseModel):
    attempt: int
    url: str
    status_code: int | None
    latency_ms: float | None
    error: str | None
    next_attempt_at: str | None
    created_at: str


class DeliveryOut(BaseModel):
    id: str
    type: str
    status: str
    attempts: list[DeliveryAttemptOut]
    next_attempt_at: str | None
    delivered_at: str | None


class DeliveryList(BaseModel):
    data: list[DeliveryOut]


class DeliveryPath(BaseModel):
    delivery_id: str = path_id("msg")

