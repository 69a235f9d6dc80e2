"""The storage sweep runs on the control worker's beat schedule against S3 and PostgreSQL."""

from __future__ import annotations

import time

from voxfarm.core.db import Database
from voxfarm.core.ids import new_id
from voxfarm.core.storage import keys, open_store
from voxfarm.core.tenants.accounts import get_or_create_tenant

from helpers import start_worker, wait_for


def test_beat_sweeps_an_orphaned_voice_folder(prod_settings, tmp_path):
    db = Database(prod_settings)
    with db.session() as s:
        tenant = get_or_create_tenant(s, "acme").id
    db.dispose()
    store = open_store(prod_settings)
    orphan = keys.voice_normalized(tenant, new_id("voice", now_ms=int(time.time() * 1000) - 7200_000))
    young = keys.voice_normalized(tenant, new_id("voice"))
    store.put_bytes(orphan, b"wav")
    store.put_bytes(young, b"wav")
    control = start_worker(prod_settings, tmp_path, engine=None, name="control", queues="control", beat=True,
                           sweep_interval_s=1)
    try:
        wait_for(lambda: not store.exists(orphan), timeout=60, what="the sweep to remove the orphan")
        assert store.exists(young)  # inside the default one-hour grace
        assert "voxfarm.sweep_storage" in control.log()
    finally:
        control.stop()
