"""The declarative base, the enum column type and the timestamp mixin every model shares."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Enum,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from voxfarm.core.clock import utcnow
from voxfarm.core.db import UTCDateTime


def _enum(cls: type) -> Enum:
    return Enum(cls, native_enum=False, length=16, create_constraint=False,
                values_callable=lambda e: [m.value for m in e], validate_strings=True)


class Base(DeclarativeBase):
    type_annotation_map = {datetime: UTCDateTime, dict[str, Any]: JSON, list[Any]: JSON}


class Timestamps:
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

