"""Apply Alembic migrations programmatically (``voxfarm migrate``, ``voxfarm up``, tests).

The migration scripts are data to this module: Alembic runs ``migrations/env.py`` (which imports
core.models) from the folder named here, so core imports nothing from ``voxfarm.migrations``.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import create_engine, inspect, make_url
from sqlalchemy.exc import OperationalError

from voxfarm.core.errors import VoxfarmError
from voxfarm.core.settings import Settings

# voxfarm/core/migrate.py -> voxfarm/migrations, the same in the repository and in site-packages
MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"


def alembic_config(settings: Settings, url: str | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    # '%' must be escaped for ConfigParser interpolation (passwords in URLs)
    cfg.set_main_option("sqlalchemy.url", (url or settings.resolved_database_url).replace("%", "%%"))
    return cfg


def upgrade(settings: Settings, url: str | None = None, revision: str = "head") -> None:
    if (url or settings.resolved_database_url).startswith("sqlite"):
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    command.upgrade(alembic_config(settings, url), revision)


class SchemaMissing(VoxfarmError):
    status = 503
    code = "schema_missing"


def database_label(settings: Settings) -> str:
    """The database URL as a person should see it (no password)."""
    return make_url(settings.resolved_database_url).render_as_string(hide_password=True)


def require_schema(settings: Settings) -> None:
    """Raise ``SchemaMissing`` naming the database unless it holds voxfarm's tables.

    Admin commands call this before anything else, so running one against the wrong data dir
    prints one line instead of a SQL traceback, and never leaves an empty SQLite file behind
    (the file's existence is checked before anything connects, since connecting creates it)."""
    url = settings.resolved_database_url
    label = database_label(settings)
    hint = ("run `voxfarm migrate` (or `voxfarm up`) against it first, or point --data-dir, VOXFARM_DATA_DIR "
            "or VOXFARM_DATABASE_URL at the farm's database")
    sqlite_path = make_url(url).database if url.startswith("sqlite") else None
    if sqlite_path and sqlite_path != ":memory:" and not Path(sqlite_path).is_file():
        raise SchemaMissing(f"no voxfarm database at {label}: {hint}")
    engine = create_engine(url, **({} if sqlite_path else {"connect_args": {"connect_timeout": 5}}))
    try:
        with engine.connect() as conn:
            present = inspect(conn).has_table("alembic_version") and inspect(conn).has_table("tenants")
    except OperationalError as exc:
        first = str(exc.orig or exc).strip().splitlines()[0]
        raise SchemaMissing(f"cannot open the database at {label}: {first}") from None
    finally:
        engine.dispose()
    if not present:
        raise SchemaMissing(f"the database at {label} has no voxfarm schema: {hint}")
