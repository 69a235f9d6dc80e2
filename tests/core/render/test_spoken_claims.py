"""The worker renders a chunk's spoken text (issue 28), never its source text."""

from __future__ import annotations

from voxfarm.core.models import Chunk
from voxfarm.core.render.leases import claim_chunk

from helpers import submit_job_direct as _job


def test_a_claim_carries_the_spoken_text(db):
    _, (chunk,) = _job(db, text="Chapter IV: St. Louis in 1847.")
    with db.session() as s:
        work = claim_chunk(s, chunk, "w1#a", lease_s=30, max_attempts=3)
        row = s.get(Chunk, chunk)
        assert row.text == "Chapter IV: St. Louis in 1847."
        assert work.text == row.spoken_text == "Chapter Four: Saint Louis in eighteen forty-seven."


def test_with_normalisation_off_the_source_text_is_rendered(db):
    _, (chunk,) = _job(db, text="Chapter IV: St. Louis in 1847.", text_normalization="off")
    with db.session() as s:
        work = claim_chunk(s, chunk, "w1#a", lease_s=30, max_attempts=3)
        assert s.get(Chunk, chunk).spoken_text is None and work.text == "Chapter IV: St. Louis in 1847."
