"""A Japanese Markdown book for kokoro in a Japanese voice: two chapters, each cut at 。！？ with no
space added, the job's language taken from lang_code (here the voice's j), its titles announced."""

from __future__ import annotations

from sqlalchemy import select

from voxfarm.core.jobs.intake import submit_job
from voxfarm.core.jobs.schemas import JobCreate
from voxfarm.core.models import Chunk
from voxfarm.core.tenants.accounts import get_or_create_tenant

BOOK = """# 第一章

吾輩は猫である。名前はまだ無い。どこで生れたかとんと見当がつかぬ！

# 第二章

何でも薄暗いじめじめした所でニャーニャー泣いていた事だけは記憶している。本当？
"""


def _submit(db, **params):
    settings = db.test_settings.model_copy(update={"engines": ["kokoro"], "chunk_target_s": {"kokoro": 1.5}})
    with db.session() as s:
        tenant = get_or_create_tenant(s, "acme")
        job = submit_job(s, settings, db.test_store, tenant.id,
                         JobCreate(text=BOOK, engine="kokoro", voice="jf_alpha", params=params))
        rows = s.scalars(select(Chunk).where(Chunk.job_id == job.id).order_by(Chunk.idx))
        return [(c.chapter, c.text) for c in rows]


def test_a_japanese_book_plans_two_chapters_of_whole_sentences(db):
    chunks = _submit(db)
    assert [c for c in chunks if c[1].startswith("第")] == [(0, "第一章."), (1, "第二章.")]  # titles read out
    body = [text for _, text in chunks if not text.startswith("第")]
    assert body == ["吾輩は猫である。名前はまだ無い。", "どこで生れたかとんと見当がつかぬ！",
                    "何でも薄暗いじめじめした所でニャーニャー泣いていた事だけは記憶している。", "本当？"]


def test_lang_code_a_cuts_the_same_text_as_english(db):
    body = [text for _, text in _submit(db, lang_code="a") if not text.startswith("第")]
    assert "吾輩は猫である。 名前はまだ無い。" in body[0]  # English packing: sentences joined with a space
