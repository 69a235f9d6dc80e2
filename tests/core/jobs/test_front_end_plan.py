"""Planning with the text front end: spoken text within the engine's cap, titles announced, keys."""

from __future__ import annotations

from voxfarm.core.engines.registry import ENGINES
from voxfarm.core.jobs.planning import FrontEnd, plan_document
from voxfarm.core.settings import Settings
from voxfarm.core.text.document import from_plain
from voxfarm.core.text.lexicon import CompiledLexicon, Rule
from voxfarm.core.text.markdown import parse_markdown


def _plan(doc, front, engine="kokoro"):
    return plan_document(doc, ENGINES[engine], Settings(), model="m", voice_sha256=None, params={}, job_seed=0,
                         front=front)


def test_numbers_read_out_never_push_a_chunk_past_the_engines_cap():
    text = " ".join(f"Row {i}: 1,234,567.89 and 8,765,432.10." for i in range(40))
    plan = _plan(from_plain(text), FrontEnd())
    cap = ENGINES["kokoro"].chunk_max_chars
    assert len(plan.chunks) > 1 and all(len(c.spoken) <= cap for c in plan.chunks)
    assert " ".join(c.text for c in plan.chunks) == text  # the source is cut, never lost
    assert plan.chapters[0]["chunks"] == len(plan.chunks)


def test_titles_come_first_with_the_title_pause_and_made_up_titles_are_not_read():
    doc = parse_markdown("Before any heading.\n\n# Chapter IV\n\nIt rained in 1847.")
    plan = _plan(doc, FrontEnd(announce=True), "espeak")
    assert [(c.text, c.spoken, c.pause_after) for c in plan.chunks] == [
        ("Before any heading.", "Before any heading.", "chapter"),
        ("Chapter IV.", "Chapter Four.", "title"),
        ("It rained in 1847.", "It rained in eighteen forty-seven.", "end")]
    assert [(c["first_chunk"], c["chunks"]) for c in plan.chapters] == [(0, 1), (1, 2)]


def test_a_lexicon_rule_joins_only_the_keys_of_the_chunks_it_matched():
    doc = from_plain("Anne came home.\n\nThe dog slept.")
    one = CompiledLexicon("lex_a", [Rule("Anne", alias="Ann", version=1), Rule("dog", alias="hound", version=1)],
                          "ipa")
    two = CompiledLexicon("lex_a", [Rule("Anne", alias="Ann", version=3), Rule("dog", alias="hound", version=1)],
                          "ipa")
    before, after = _plan(doc, FrontEnd(lexicons=[one]), "espeak"), _plan(doc, FrontEnd(lexicons=[two]), "espeak")
    assert before.chunks[0].lexicon == (("lex_a", "Anne", 1),)
    assert before.chunks[0].cache_digest != after.chunks[0].cache_digest  # its rule's version changed
    assert before.chunks[1].cache_digest == after.chunks[1].cache_digest  # a rule it matched did not
