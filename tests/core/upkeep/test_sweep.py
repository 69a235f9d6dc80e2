"""The storage sweep removes job and voice folders with no live row, and nothing else."""

from __future__ import annotations

import base64
import time

import pytest

from tests.core.text.test_epub import make_epub
from voxfarm.core.ids import created_ms, new_id
from voxfarm.core.jobs.intake import submit_job
from voxfarm.core.jobs.schemas import JobCreate
from voxfarm.core.settings import Settings
from voxfarm.core.storage import keys, open_store
from voxfarm.core.tenants.accounts import get_or_create_tenant
from voxfarm.core.upkeep.sweep import sweep_orphans
from voxfarm.core.voices.registry import delete_voice, register_voice

from helpers import tone, wav_bytes

HOUR_MS = 3600 * 1000


@pytest.fixture(params=["local", "s3"])
def store(request, tmp_path):
    if request.param == "local":
        return open_store(Settings(data_dir=tmp_path / "objects-root"))
    return open_store(Settings(data_dir=tmp_path), f"s3://{request.getfixturevalue('s3_bucket')}/farm")


def test_created_ms_reads_the_time_back():
    assert created_ms(new_id("job", now_ms=1_700_000_000_123)) == 1_700_000_000_123


def _farm_with_orphans(db, store):
    settings = db.test_settings
    voice_audio = wav_bytes(tone(2.0))
    epub = base64.b64encode(make_epub([("One", "A short chapter. It ends here.")])).decode()
    with db.session() as s:
        tenant = get_or_create_tenant(s, "acme").id
        live_voice = register_voice(s, settings, store, tenant, name="kept", transcript="hi", data=voice_audio)
        live_job = submit_job(s, settings, store, tenant, JobCreate(document_base64=epub))
        gone_voice = register_voice(s, settings, store, tenant, name="gone", transcript="hi", data=voice_audio)
    with db.session() as s:
        delete_voice(s, tenant, gone_voice.id)  # committed, then "the process died" before removing objects
    orphan_job, orphan_voice = new_id("job"), new_id("voice")  # uploaded, then died before the commit
    store.put_bytes(keys.job_file(tenant, orphan_job, "source.epub"), b"epub")
    store.put_bytes(keys.job_file(tenant, orphan_job, "cover.jpg"), b"jpg")
    store.put_bytes(keys.voice_normalized(tenant, orphan_voice), b"wav")
    young_job = new_id("job", now_ms=int(time.time() * 1000) + 2 * HOUR_MS)  # still committing
    store.put_bytes(keys.job_file(tenant, young_job, "source.epub"), b"epub")
    store.put_bytes(f"tenants/{tenant}/jobs/not-ours/readme.txt", b"someone else's")
    store.put_bytes(keys.chunk_cache(tenant, "ab" * 32), b"flac")  # shared cache: never swept
    return tenant, live_voice, live_job, gone_voice, orphan_job, orphan_voice, young_job


def test_sweep_removes_only_folders_without_a_live_row(db, store):
    tenant, live_voice, live_job, gone_voice, orphan_job, orphan_voice, young_job = _farm_with_orphans(db, store)
    later = int(time.time() * 1000) + 2 * HOUR_MS  # everything but young_job is past the 1 h grace

    orphan_voices = sorted([gone_voice.id, orphan_voice])
    dry = sweep_orphans(db, store, grace_s=3600, now_ms=later, dry_run=True)
    assert dry.removed_jobs == [orphan_job] and sorted(dry.removed_voices) == orphan_voices
    assert dry.objects_removed == 0 and store.exists(keys.voice_normalized(tenant, orphan_voice))

    report = sweep_orphans(db, store, grace_s=3600, now_ms=later)
    assert report.removed_jobs == [orphan_job] and sorted(report.removed_voices) == orphan_voices
    assert report.examined == 6 and report.too_young == 1  # jobs: live, orphan, young; voices: live, gone, orphan
    assert report.objects_removed == 2 + 1 + 2  # orphan job's two files, orphan voice, gone voice's two
    assert not store.exists(keys.job_file(tenant, orphan_job, "source.epub"))
    assert not store.exists(keys.voice_normalized(tenant, orphan_voice))
    assert not store.exists(gone_voice.normalized_key) and not store.exists(gone_voice.original_key)
    # kept: live rows, an id too young to judge, a folder that is not one of our ids, the cache
    assert store.exists(live_voice.original_key) and store.exists(live_voice.normalized_key)
    assert store.exists(live_job.source["document_key"])
    assert store.exists(keys.job_file(tenant, young_job, "source.epub"))
    assert store.exists(f"tenants/{tenant}/jobs/not-ours/readme.txt")
    assert store.exists(keys.chunk_cache(tenant, "ab" * 32))

    again = sweep_orphans(db, store, grace_s=3600, now_ms=later)
    assert again.removed_jobs == [] and again.removed_voices == [] and again.objects_removed == 0


def test_within_the_grace_period_nothing_is_removed(db, store):
    _farm_with_orphans(db, store)
    report = sweep_orphans(db, store, grace_s=3600)  # now: every id is minutes old at most
    assert report.removed_jobs == [] and report.removed_voices == [] and report.too_young == report.examined == 6
