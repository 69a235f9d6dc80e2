"""Alembic environment: the URL comes from voxfarm's settings, the target from core.models."""

from __future__ import annotations

from alembic import context

from voxfarm.core.db import make_engine
from voxfarm.core.models import Base
from voxfarm.core.settings import load_settings

config = context.config
target_metadata = Base.metadata


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    url = config.get_main_option("sqlalchemy.url") or None
    engine = make_engine(load_settings(), url)
    with engine.connect() as conn:
        _run(conn)
    engine.dispose()


def _run(connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",  # SQLite cannot ALTER most things
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


run_migrations_online()
