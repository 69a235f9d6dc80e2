"""Opaque cursors over time-ordered ids (core/ids.py): newest first, stable under inserts."""

from __future__ import annotations

import base64
import binascii

from sqlalchemy import Select
from sqlalchemy.orm import Session

from core.errors import InvalidInput
from core.ids import looks_like_id


def encode_cursor(value: str) -> str:
    return base64.urlsafe_b64encode(value.encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> str | None:
    if not cursor:
        return None
    try:
        value = base64.urlsafe_b64decode(cursor.encode() + b"==").decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise InvalidInput("malformed cursor", code="invalid_cursor") from None
    if not value.isascii() or not value.isprintable() or len(value) > 64:
        raise InvalidInput("malformed cursor", code="invalid_cursor")
    return value


def newest_first(session: Session, query: Select, id_column, prefix: str, *, limit: int,
                 cursor: str | None) -> tuple[list, str | None]:
    """One page of ``query`` ordered by id descending, and the cursor of the next page."""
    after = decode_cursor(cursor)
    if after:
        if not looks_like_id(after, prefix):
            raise InvalidInput("malformed cursor", code="invalid_cursor")
        query = query.where(id_column < after)
    rows = list(session.scalars(query.order_by(id_column.desc()).limit(limit + 1)))
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, (encode_cursor(rows[-1].id) if more and rows else None)
