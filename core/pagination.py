"""Cursors over time-ordered ids (core/ids.py): newest first, stable under inserts.

A cursor is the last id of the page (or, for a job's chunks, the last index), which clients pass
back unchanged.  Its format is exactly what the OpenAPI document declares (``id_pattern``), so a
cursor that matches the published pattern is always a usable cursor.
"""

from __future__ import annotations

import re

from sqlalchemy import Select
from sqlalchemy.orm import Session

from voxfarm.core.errors import InvalidInput
from voxfarm.core.ids import looks_like_id

INDEX_CURSOR = r"^[0-9]{1,9}$"  # a chunk index: plans hold far fewer than 10**9 chunks


def newest_first(session: Session, query: Select, id_column, prefix: str, *, limit: int,
                 cursor: str | None) -> tuple[list, str | None]:
    """One page of ``query`` ordered by id descending, and the cursor of the next page."""
    if cursor:
        if not looks_like_id(cursor, prefix):
            raise InvalidInput("malformed cursor", code="invalid_cursor")
        query = query.where(id_column < cursor)
    rows = list(session.scalars(query.order_by(id_column.desc()).limit(limit + 1)))
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, (rows[-1].id if more and rows else None)


def by_index(session: Session, query: Select, index_column, *, limit: int,
             cursor: str | None) -> tuple[list, str | None]:
    """One page of ``query`` in ascending index order (a job's chunks, a batch's items); the
    cursor is the last index of the page."""
    if cursor and not re.match(INDEX_CURSOR, cursor):
        raise InvalidInput("malformed cursor", code="invalid_cursor")
    start = int(cursor) if cursor else -1
    rows = list(session.scalars(query.where(index_column > start).order_by(index_column).limit(limit + 1)))
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, (str(getattr(rows[-1], index_column.key)) if more and rows else None)
