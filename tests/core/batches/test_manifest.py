"""The batch manifest pages through the batch's jobs: every item exactly once, in item order,
whatever the page size (a pager that restarts one past the last row of a page loses an item at
every page boundary)."""

from __future__ import annotations

import pytest

from voxfarm.core.batches.intake import manifest, submit_batch
from voxfarm.core.tenants.accounts import get_or_create_tenant

ITEMS = 11


@pytest.fixture
def batch_id(db):
    with db.session() as s:
        tenant = get_or_create_tenant(s, "acme").id
        items = [{"text": f"Item number {i}.", "metadata": {"line": i}} for i in range(ITEMS)]
        return submit_batch(s, db.test_settings, db.test_store, tenant, {"engine": "espeak"}, items).id


@pytest.mark.parametrize("page", [1, 2, 3, 5, 10, 11, 12, 1000])
def test_the_manifest_lists_every_item_once_at_any_page_size(db, batch_id, page):
    from voxfarm.core.models import Batch

    with db.session() as s:
        records = list(manifest(s, db.test_store, db.test_settings, s.get(Batch, batch_id), page=page))
    assert [r["index"] for r in records] == list(range(ITEMS))
    assert [r["metadata"]["line"] for r in records] == list(range(ITEMS))
    assert len({r["job_id"] for r in records}) == ITEMS
