"""Database engine and sessions for SQLite (embedded) and PostgreSQL (production).

SQLite runs in WAL mode with a long busy timeout: the API process and a worker's 16 threads write
to one file, and WAL lets readers proceed while one writer commits.  PostgreSQL connections get a
3 s connect timeout and a statement timeout so a database restart makes the API answer 503 within
seconds instead of hanging a request thread (bench/reliability.md, scenario g).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import DateTime, create_engine, event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.types import TypeDecorator

from voxfarm.core.settings import Settings

log = logging.getLogger(__name__)
_UNDO = "undo_on_rollback"


class UTCDateTime(TypeDecorator):
    """Aware UTC datetimes in Python; timestamptz on PostgreSQL, naive-UTC text on SQLite."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def make_engine(settings: Settings, url: str | None = None) -> Engine:
    url = url or settings.resolved_database_url
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False},
                               pool_pre_ping=True)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record):  # pragma: no branch - runs per connection
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.close()

        return engine
    return create_engine(
        url,
        pool_pre_ping=True,
        # per process: 8 workers x (10 + 20) would pass PostgreSQL's default 100 connections;
        # the scale benchmark runs workers with 4 + 4 (VOXFARM_DB_POOL_SIZE / DB_MAX_OVERFLOW)
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_max_overflow,
        pool_timeout=5,
        connect_args={"connect_timeout": 3, "options": "-c statement_timeout=30000"},
    )


class Database:
    """An engine plus a session factory; one per process, passed to whoever needs it."""

    def __init__(self, settings: Settings, url: str | None = None) -> None:
        self.settings = settings
        self.engine = make_engine(settings, url)
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A unit of work: commits on success, rolls back on any exception."""
        with self.sessions() as session:
            with session.begin():
                yield session

    def dispose(self) -> None:
        self.engine.dispose()


def undo_on_rollback(session: Session, undo: Callable[[], None]) -> None:
    """Run ``undo`` if this session's transaction ends without committing.

    For side effects outside the database made on behalf of rows in the transaction: an EPUB or a
    voice prompt is uploaded before its row is inserted, and if the commit then fails (a database
    outage, an idempotency conflict) the object would be an orphan no row points to.
    """
    session.info.setdefault(_UNDO, []).append(undo)


@event.listens_for(Session, "after_commit")
def _committed(session: Session) -> None:
    session.info.pop(_UNDO, None)


@event.listens_for(Session, "after_transaction_end")
def _ended(session: Session, transaction) -> None:
    # after_commit has already cleared the list when the outermost transaction committed; anything
    # left when it ends was written for rows that never landed (rollback, failed commit, close)
    if transaction.parent is not None:
        return
    for undo in reversed(session.info.pop(_UNDO, [])):
        try:
            undo()
        except Exception:  # best effort: the database, not the store, is the source of truth
            log.warning("could not undo an object written in a rolled-back transaction", exc_info=True)
