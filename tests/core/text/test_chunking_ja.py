"""Japanese is cut into sentences at 。！？ and packed without spaces; a sentence over the cap is cut
after 、 (the text is never altered: the chunks joined give it back)."""

from __future__ import annotations

from voxfarm.core.text.chunking import chunk_paragraphs

NEKO = ("吾輩は猫である。名前はまだ無い。どこで生れたかとんと見当がつかぬ！何でも薄暗いじめじめした所で"
        "ニャーニャー泣いていた事だけは記憶している、吾輩はここで始めて人間というものを見た、しかもあとで聞くと"
        "それは書生という人間中で一番獰悪な種族であったそうだ。本当？")


def _chunks(text, language="ja", max_chars=40, target=30):
    return [c.text for c in chunk_paragraphs([text], max_chars=max_chars, target_chars=target,
                                             dialogue_tags=False, language=language)]


def test_sentences_end_at_japanese_marks_and_pack_without_spaces():
    chunks = _chunks(NEKO)
    assert "".join(chunks) == NEKO  # nothing added (no spaces), nothing lost
    assert chunks[0] == "吾輩は猫である。名前はまだ無い。"  # two sentences packed under the target
    assert all(" " not in c for c in chunks)
    assert all(c[-1] in "。！？、" for c in chunks)


def test_a_long_sentence_is_cut_after_a_comma_within_the_cap():
    chunks = _chunks(NEKO)
    assert max(len(c) for c in chunks) <= 40
    assert "何でも薄暗いじめじめした所でニャーニャー泣いていた事だけは記憶している、" in chunks


def test_a_run_without_any_mark_is_cut_at_the_cap():
    run = "あ" * 95 + "。"
    chunks = _chunks(run)
    assert "".join(chunks) == run and max(len(c) for c in chunks) <= 40


def test_english_still_packs_with_spaces():
    assert _chunks("One. Two. Three.", language="en", target=100) == ["One. Two. Three."]
