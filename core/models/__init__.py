"""SQLAlchemy 2.0 models.  The database is the source of truth for everything accepted.

The broker only carries hints ("look at chunk X"); a lost or duplicated message is repaired by
the reconciler from these rows (core/upkeep/reconcile.py).  Migrations in ``migrations/`` must match
these models exactly (tests/core/test_migrations.py autogenerates and expects no diff).

One module per concern (base, tenancy, work, messages); import the models from here.  Imports
the kernel (db, clock, statuses) only.
"""

from voxfarm.core.models.base import Base, Timestamps
from voxfarm.core.models.lexicons import Lexicon
from voxfarm.core.models.messages import (
    IdempotencyKey,
    Outbox,
    WebhookAttempt,
    WebhookEndpoint,
    WebhookEvent,
    WorkerRow,
)
from voxfarm.core.models.tenancy import ApiKey, Tenant, Voice
from voxfarm.core.models.work import Batch, Chunk, Job

__all__ = [
    "ApiKey",
    "Base",
    "Batch",
    "Chunk",
    "IdempotencyKey",
    "Job",
    "Lexicon",
    "Outbox",
    "Tenant",
    "Timestamps",
    "Voice",
    "WebhookAttempt",
    "WebhookEndpoint",
    "WebhookEvent",
    "WorkerRow",
]
