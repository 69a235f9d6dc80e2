"""Chunking and planning: sentence-aware, never cutting a word, chapters and speaker tags kept."""

from __future__ import annotations

from hypothesis import given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from voxfarm.core.engines.registry import ENGINES
from voxfarm.core.jobs.planning import plan_document
from voxfarm.core.settings import Settings
from voxfarm.core.text.chunking import chunk_paragraphs
from voxfarm.core.text.document import from_plain
from voxfarm.core.text.markdown import parse_markdown

MD = """Preface text before any heading.

# The Beginning
It was a **dark** and stormy night. Dr. Watson arrived at 5 p.m. with a [map](http://x).

The rain fell. It fell for hours, and hours, and hours.

## A Second Part
[S1] Where were you? [S2] Out. [S1] Out where?

```
code is not read aloud
```
"""


def test_markdown_headings_start_chapters_and_formatting_is_stripped():
    doc = parse_markdown(MD, title="Book")
    # '#' starts chapters; the deeper '##' is a section whose title is spoken in its chapter
    assert [c.title for c in doc.chapters] == ["Book", "The Beginning"]
    assert doc.chapters[1].paragraphs[0] == "It was a dark and stormy night. Dr. Watson arrived at 5 p.m. with a map."
    assert doc.chapters[1].paragraphs[2:] == ["A Second Part", "[S1] Where were you? [S2] Out. [S1] Out where?"]
    assert all("code is not read" not in p for c in doc.chapters for p in c.paragraphs)


def test_sentences_are_not_split_at_abbreviations():
    chunks = chunk_paragraphs(["Dr. Watson arrived at 5 p.m. today. Then he left."], max_chars=600,
                              target_chars=40, dialogue_tags=False)
    assert [c.text for c in chunks] == ["Dr. Watson arrived at 5 p.m. today.", "Then he left."]


def test_speaker_carries_into_the_next_chunk_for_dialogue_engines():
    chunks = chunk_paragraphs(["[S1] One two three. Four five six. [S2] Seven."], max_chars=600,
                              target_chars=20, dialogue_tags=True)
    assert [c.text for c in chunks] == ["[S1] One two three.", "[S1] Four five six.", "[S2] Seven."]


def test_tags_are_stripped_for_engines_without_dialogue():
    chunks = chunk_paragraphs(["[S1] Hello. [S2] Hi."], max_chars=600, target_chars=200, dialogue_tags=False)
    assert [c.text for c in chunks] == ["Hello. Hi."]


words = st.text(alphabet="abcdefghij", min_size=1, max_size=30)


@given(st.lists(st.lists(words, min_size=1, max_size=40).map(" ".join).map(lambda s: s + "."), min_size=1,
                max_size=6), st.integers(min_value=20, max_value=300))
@hsettings(max_examples=60, deadline=None)
def test_chunking_never_cuts_a_word_and_loses_nothing(paragraphs, target):
    chunks = chunk_paragraphs(paragraphs, max_chars=target + 50, target_chars=target, dialogue_tags=False)
    assert " ".join(c.text for c in chunks).split() == " ".join(paragraphs).split()
    assert all(len(c.text) <= target + 50 for c in chunks)


def _plan(text: str, seed: int = 0, engine: str = "espeak"):
    return plan_document(parse_markdown(text), ENGINES[engine], Settings(chunk_target_s={engine: 3.0}),
                         model="m", voice_sha256=None, params={"speed": 175}, job_seed=seed)


def test_plan_records_chapters_pauses_and_expected_durations():
    plan = _plan(MD)
    assert [c["title"] for c in plan.chapters] == ["Introduction", "The Beginning"]
    assert plan.chunks[-1].pause_after == "end"
    kinds = {c.pause_after for c in plan.chunks}
    assert {"chapter", "paragraph", "end"} <= kinds
    assert all(c.expected_s > 0 for c in plan.chunks)
    assert sum(ch["chunks"] for ch in plan.chapters) == len(plan.chunks)


def test_editing_one_paragraph_changes_only_its_chunks_keys():
    base = "# A\n" + "\n\n".join(f"Paragraph {i} has a few words in it. It ends here." for i in range(8))
    edited = base.replace("Paragraph 3 has", "Paragraph three, edited, has")
    before, after = _plan(base, seed=5), _plan(edited, seed=5)
    changed = {c.cache_digest for c in after.chunks} - {c.cache_digest for c in before.chunks}
    assert len(changed) in (1, 2) and len(after.chunks) == len(before.chunks)
    assert _plan(base, seed=6).chunks[0].cache_digest != before.chunks[0].cache_digest  # seed matters


def test_plain_text_is_one_chapter():
    doc = from_plain("One.\n\nTwo.", title="T")
    assert len(doc.chapters) == 1 and doc.chapters[0].paragraphs == ["One.", "Two."]
