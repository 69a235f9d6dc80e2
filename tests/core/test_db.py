"""Objects uploaded for rows in a transaction are removed when that transaction does not commit."""

from __future__ import annotations

import base64

import pytest
from sqlalchemy import select

from tests.core.text.test_epub import make_epub
from voxfarm.core.jobs.intake import submit_job
from voxfarm.core.jobs.schemas import JobCreate
from voxfarm.core.models import Job, Voice
from voxfarm.core.state.outbox import unit_of_work
from voxfarm.core.tenants.accounts import get_or_create_tenant
from voxfarm.core.voices.registry import register_voice

from helpers import tone, wav_bytes


class Boom(Exception):
    pass


def _stored(db) -> set[str]:
    root = db.test_settings.data_dir / "objects"
    return {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()} if root.exists() else set()


def _submit_epub(s, db):
    tenant = get_or_create_tenant(s, "acme").id
    epub = base64.b64encode(make_epub([("One", "A short chapter. It ends here.")], cover=True)).decode()
    return submit_job(s, db.test_settings, db.test_store, tenant, JobCreate(document_base64=epub))


def test_epub_and_cover_survive_a_commit(db):
    with db.session() as s:
        job = _submit_epub(s, db)
    assert {job.source["document_key"], job.source["cover_key"]} <= _stored(db)


def test_epub_and_cover_are_removed_when_the_transaction_fails_after_the_upload(db):
    with pytest.raises(Boom), unit_of_work(db, None) as s:
        job = _submit_epub(s, db)
        assert {job.source["document_key"], job.source["cover_key"]} <= _stored(db)
        raise Boom  # anything later in the request: an idempotency conflict, a dropped connection
    assert _stored(db) == set()
    with db.session() as s:
        assert s.scalars(select(Job)).all() == []


@pytest.mark.filterwarnings("ignore:New instance")  # the duplicate row below is the point
def test_voice_objects_are_removed_when_the_commit_itself_fails(db):
    data = wav_bytes(tone(2.0))
    with pytest.raises(Exception, match="(?i)unique|duplicate|integrity"), db.session() as s:
        tenant = get_or_create_tenant(s, "acme").id
        voice = register_voice(s, db.test_settings, db.test_store, tenant, name="v", transcript="hello", data=data)
        assert len(_stored(db)) == 2  # the original and the normalized copy
        # a second row with the same primary key: the flush inside commit fails, not our code
        s.add(Voice(**{c.key: getattr(voice, c.key) for c in Voice.__table__.columns}))
    assert _stored(db) == set()
    with db.session() as s:
        assert s.scalars(select(Voice)).all() == []


def test_a_committed_voice_keeps_its_objects(db):
    with db.session() as s:
        tenant = get_or_create_tenant(s, "acme").id
        voice = register_voice(s, db.test_settings, db.test_store, tenant, name="v", transcript="hello",
                               data=wav_bytes(tone(2.0)))
    assert {voice.original_key, voice.normalized_key} <= _stored(db)
