"""Apply Alembic migrations programmatically (``voxfarm migrate``, ``voxfarm up``, tests)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

import migrations
from core.settings import Settings


def alembic_config(settings: Settings, url: str | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(Path(migrations.__file__).parent))
    # '%' must be escaped for ConfigParser interpolation (passwords in URLs)
    cfg.set_main_option("sqlalchemy.url", (url or settings.resolved_database_url).replace("%", "%%"))
    return cfg


def upgrade(settings: Settings, url: str | None = None, revision: str = "head") -> None:
    if (url or settings.resolved_database_url).startswith("sqlite"):
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    command.upgrade(alembic_config(settings, url), revision)
