from __future__ import annotations

import pytest
from sqlalchemy import create_engine, text

from voxfarm.core.db import Database
from voxfarm.core.migrate import upgrade
from voxfarm.core.settings import Settings
from voxfarm.core.storage import open_store


@pytest.fixture(params=["sqlite", "postgresql"])
def db(request, tmp_path, pg_url):
    """A migrated database of each kind (PostgreSQL is skipped off-CI when unreachable)."""
    settings = Settings(data_dir=tmp_path / "var", lease_s=30, max_attempts=3, outbound_allowlist=["127.0.0.1/32"])
    url = None
    if request.param == "postgresql":
        if pg_url is None:
            pytest.skip("PostgreSQL unreachable outside CI (CI fails instead)")
        url = pg_url
        engine = create_engine(url)
        with engine.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public;"))
        engine.dispose()
        settings = settings.model_copy(update={"database_url": url})
    upgrade(settings)
    database = Database(settings)
    database.test_settings = settings
    database.test_store = open_store(settings)
    yield database
    database.dispose()
