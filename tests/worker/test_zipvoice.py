"""ZipVoice on the tiny ONNX export: file layouts, tokens, features, the sampler, batching, voices."""

from __future__ import annotations

import shutil

import numpy as np
import onnxruntime as ort
import pytest
import torch
import torchaudio

from voxfarm.core.settings import Settings
from voxfarm.core.storage import open_store
from voxfarm.worker.engines import zipvoice_audio as dsp
from voxfarm.worker.engines.base import RenderRequest, create_engine
from voxfarm.worker.engines.ipa import phonemize
from voxfarm.worker.engines.onnx_session import ModelFileMissing
from voxfarm.worker.engines.zipvoice_model import timesteps

from helpers import tone

# upstream onnx_export.py: names, dynamic axes and metadata a real export carries
ENCODER_IO = (["tokens", "prompt_tokens", "prompt_features_len", "speed"], ["text_condition"])
DECODER_IO = (["t", "x", "text_condition", "speech_condition", "guidance_scale"], ["v"])
DECODER_META = {"feat_dim": "100", "sample_rate": "24000", "n_fft": "1024", "hop_length": "256", "num_mels": "100"}


def _engine(model_dir, tmp_path, **extra):
    eng = create_engine("zipvoice", Settings(data_dir=tmp_path, zipvoice_model=str(model_dir), **extra))
    eng.load()
    return eng


@pytest.fixture(scope="module")
def zv(tiny_zipvoice, tmp_path_factory):
    return _engine(tiny_zipvoice, tmp_path_factory.mktemp("zv"))


@pytest.fixture(scope="module")
def exact(tiny_zipvoice, tmp_path_factory):
    """Grid off: every item keeps upstream's own frame count."""
    return _engine(tiny_zipvoice, tmp_path_factory.mktemp("zv0"), zipvoice_length_grid=0)


def test_tiny_model_has_the_official_names_and_metadata(tiny_zipvoice):
    for name, (inputs, outputs) in {"text_encoder.onnx": ENCODER_IO, "fm_decoder.onnx": DECODER_IO,
                                    "text_encoder_int8.onnx": ENCODER_IO, "fm_decoder_int8.onnx": DECODER_IO}.items():
        sess = ort.InferenceSession(str(tiny_zipvoice / name))
        assert [i.name for i in sess.get_inputs()] == inputs and [o.name for o in sess.get_outputs()] == outputs
    dec = ort.InferenceSession(str(tiny_zipvoice / "fm_decoder.onnx"))
    assert DECODER_META.items() <= dec.get_modelmeta().custom_metadata_map.items()
    assert [i.shape for i in dec.get_inputs()] == [[], ["N", "T", 100], ["N", "T", 100], ["N", "T", 100], []]
    voc = ort.InferenceSession(str(tiny_zipvoice / "vocos_24khz.onnx"))
    assert [i.name for i in voc.get_inputs()] == ["mels"] and [o.name for o in voc.get_outputs()] == ["mag", "x", "y"]
    assert voc.get_modelmeta().custom_metadata_map["model_type"] == "vocos"
    assert (tiny_zipvoice / "tokens.txt").read_text(encoding="utf-8").startswith("_\t0\n")


def test_text_encoder_frame_count_is_upstreams_formula(zv):
    # ceil(prompt_frames / prompt_tokens * all_tokens / speed) = ceil(40 / 3 * 8 / 1.5) = 72
    out = zv.model.encode([5, 6, 7, 8, 9], [1, 2, 3], 40, 1.5)
    assert out.shape == (72, 100)


def test_missing_files_are_named_at_load(tiny_zipvoice, tmp_path):
    with pytest.raises(ModelFileMissing, match="VOXFARM_ZIPVOICE_MODEL"):
        create_engine("zipvoice", Settings(data_dir=tmp_path)).load()
    partial = tmp_path / "partial"
    shutil.copytree(tiny_zipvoice, partial)
    (partial / "vocos_24khz.onnx").unlink()
    with pytest.raises(ModelFileMissing, match="vocos_24khz.onnx"):
        _engine(partial, tmp_path)
    for name in ("fm_decoder.onnx", "fm_decoder_int8.onnx"):
        (partial / name).unlink()
    with pytest.raises(ModelFileMissing, match="fm_decoder.onnx"):
        _engine(partial, tmp_path, zipvoice_vocoder=str(tiny_zipvoice / "vocos_24khz.onnx"))


def test_int8_and_the_sherpa_onnx_layout_load(zv, tiny_zipvoice, tmp_path):
    from scripts.make_tiny_zipvoice import make_tiny_zipvoice

    int8 = _engine(tiny_zipvoice, tmp_path, zipvoice_precision="int8")
    assert int8.model.files.decoder.name == "fm_decoder_int8.onnx" and int8.model.files.precision == "int8"
    assert int8.fingerprint == zv.fingerprint  # cached prompts do not depend on the weights' precision
    assert _engine(tiny_zipvoice, tmp_path, zipvoice_language="en").fingerprint != zv.fingerprint
    sherpa = make_tiny_zipvoice(tmp_path / "sherpa-onnx-zipvoice-distill-int8-zh-en-emilia", layout="sherpa")
    eng = _engine(sherpa, tmp_path, zipvoice_vocoder=str(tmp_path / f"{sherpa.name}-vocos_24khz.onnx"))
    assert (eng.model.files.encoder.name, eng.model.files.decoder.name) == ("encoder.int8.onnx", "decoder.int8.onnx")
    assert eng.generate_batch([RenderRequest("s", "Hello there.", {"num_steps": 4}, seed=1)])[0].ok


def test_tokens_are_espeak_ipa_code_points(zv):
    assert phonemize("Hello, world.") == "həlˈoʊ, wˈɜːld."  # piper_phonemize's output for en-us
    table = zv.table
    assert list(zv.tokenize("Hello, world")) == [table[c] for c in "həlˈoʊ, wˈɜːld."]  # final "." added


def test_prompt_features_match_torchaudio(zv):
    audio = np.random.default_rng(0).normal(0, 0.1, 24000 * 2).astype(np.float32)
    ours = dsp.log_features(dsp.mel_magnitudes(audio, 24000, 1024, 256, 100), gain=2.0)
    fbank = torchaudio.transforms.MelSpectrogram(sample_rate=24000, n_fft=1024, hop_length=256, n_mels=100,
                                                 center=True, power=1)
    ref = fbank(torch.from_numpy(audio * 2.0)[None])[0].T.clamp(min=1e-7).log().numpy() * 0.1
    assert ours.shape == (round(2 * 24000 / 256), 100)  # lhotse's frame count: (n + hop / 2) // hop
    assert np.allclose(ours, ref[:ours.shape[0]], atol=1e-4)


def test_istft_matches_torch():
    rng = np.random.default_rng(1)
    mag, phase = np.exp(rng.normal(size=(2, 513, 30))), rng.normal(size=(2, 513, 30))
    ours = dsp.istft(mag, np.cos(phase), np.sin(phase), 1024, 256)
    ref = torch.istft(torch.from_numpy(mag * np.exp(1j * phase)), n_fft=1024, hop_length=256,
                      window=torch.hann_window(1024), center=True).numpy()
    assert ours.shape == ref.shape == (2, 29 * 256) and np.allclose(ours, ref, atol=1e-5)


def test_timesteps_are_shifted_toward_zero():
    assert np.allclose(timesteps(4, 0.5), [0, 1 / 7, 1 / 3, 0.6, 1])
    assert np.allclose(timesteps(4, 1.0), [0, 0.25, 0.5, 0.75, 1])


def _reference(eng, text: str, voice, seed: int, steps: int, guidance: float, t_shift: float = 0.5) -> np.ndarray:
    """Upstream's sample() + Vocos, written independently with torch (no engine code but the
    sessions and the token table): what one item must sound like."""
    m, prompt = eng.model, voice.data
    tokens = [eng.table[c] for c in phonemize(text) if c in eng.table]
    tc = m.encoder.run(None, {"tokens": np.array([tokens]), "prompt_tokens": prompt.tokens[None],
                              "prompt_features_len": np.array(voice.frames), "speed": np.array(1.0, np.float32)})[0]
    frames = tc.shape[1]
    feats = torch.from_numpy(prompt.mel * (0.1 / prompt.rms if prompt.rms < 0.1 else 1)).clamp(min=1e-7).log() * 0.1
    speech = torch.nn.functional.pad(feats[None], (0, 0, 0, frames - voice.frames)).numpy()
    x = np.random.default_rng(seed).standard_normal((1, frames, 100), dtype=np.float32)
    ts = torch.linspace(0, 1, steps + 1)
    ts = (t_shift * ts / (1 + (t_shift - 1) * ts)).numpy()
    for i in range(steps):
        v = m.decoder.run(None, {"t": np.array(ts[i], np.float32), "x": x, "text_condition": tc,
                                 "speech_condition": speech, "guidance_scale": np.array(guidance, np.float32)})[0]
        x = x + v * (ts[i + 1] - ts[i])
    mag, cos, sin = m.vocoder.run(None, {"mels": np.ascontiguousarray((x[:, voice.frames:] / 0.1).transpose(0, 2, 1))})
    wav = torch.istft(torch.from_numpy(mag * (cos + 1j * sin)), 1024, 256, window=torch.hann_window(1024),
                      center=True).clamp(-1, 1).numpy()[0]
    return wav * (prompt.rms / 0.1) if prompt.rms < 0.1 else wav


def test_one_item_equals_upstreams_sampler(exact):
    voice = exact.prepare_voice(tone(2.0, 44100, 330) * 0.2, 44100, "My reference words.")
    out = exact.generate_batch([RenderRequest("r", "Something new to say.", {"num_steps": 6, "guidance_scale": 2.0},
                                              seed=11, voice=voice)])[0]
    ref = _reference(exact, "Something new to say.", voice, seed=11, steps=6, guidance=2.0)
    assert out.ok and out.audio.shape == ref.shape  # the tiny model's noise never trips the edge trim
    assert np.allclose(out.audio, ref, atol=1e-5)


def _voices(zv, n: int = 3) -> list:
    """``n`` voices of one prompt length and transcript (so their items can share a frame count), each
    its own tone: distinct speech conditions."""
    return [zv.prepare_voice(tone(1.5, 44100, 180 + 70 * i, amp=0.2 + 0.05 * i), 44100, "Reference words here.")
            for i in range(n)]


def test_equal_length_items_share_every_decoder_call(zv):
    voices = _voices(zv)
    plan = [("Line number one is here.", voices[0]), ("Line number two is here.", voices[1]),
            ("A very different and much longer line, which cannot share the same frame count.", voices[0]),
            ("Line number one is here.", voices[2])]
    reqs = [RenderRequest(f"r{i}", t, {"num_steps": 5}, seed=i, voice=v) for i, (t, v) in enumerate(plan)]
    keys = [zv.batch_key(r) for r in reqs]
    assert keys[0] == keys[1] == keys[3] != keys[2]  # one group holds three items in three voices
    batched = zv.generate_batch(reqs)
    assert zv.last_stats.steps == 10  # two groups x 5 steps, not four items x 5
    for i, req in enumerate(reqs):  # each item renders the same alone as in the shared call
        alone = zv.generate_batch([req])[0]
        assert alone.audio.shape == batched[i].audio.shape and np.allclose(alone.audio, batched[i].audio, atol=1e-5)
    assert not np.allclose(batched[0].audio[:1000], batched[1].audio[:1000])  # the seeds differ


def test_items_of_one_decoder_group_keep_their_own_voices(zv):
    """Several voices in one equal-length group: each item sounds like its own prompt, not a
    batch-mate's (a group whose speech conditions were stacked in another order than its noise and
    text conditions would hand each item another item's voice)."""
    voices = _voices(zv, 4)
    reqs = [RenderRequest(f"v{i}", "The same words in four voices.", {"num_steps": 4}, seed=7, voice=v)
            for i, v in enumerate(voices)]
    assert len({zv.batch_key(r) for r in reqs}) == 1
    alone = [zv.generate_batch([r])[0].audio for r in reqs]
    for i in range(len(alone)):  # same text and seed: only the voice tells the items apart
        for j in range(i):
            assert alone[i].shape != alone[j].shape or not np.allclose(alone[i], alone[j], atol=1e-3), (i, j)
    batched = zv.generate_batch(reqs)
    assert zv.last_stats.steps == 4  # one decoder group
    for i, (got, solo) in enumerate(zip(batched, alone, strict=True)):
        assert got.ok and got.audio.shape == solo.shape and np.allclose(got.audio, solo, atol=1e-5), i


def test_padding_would_change_an_item(zv):
    """Why only equal lengths share a call: this decoder, like ZipVoice's, has no padding mask."""
    rng = np.random.default_rng(0)
    x, tc = rng.normal(size=(1, 50, 100)).astype(np.float32), rng.normal(size=(1, 50, 100)).astype(np.float32)

    def run(x, tc):
        return zv.model.sample(x, tc, np.zeros_like(tc), 3, 0.5, 1.0)

    padded = run(np.pad(x, ((0, 0), (0, 20), (0, 0))), np.pad(tc, ((0, 0), (0, 20), (0, 0))))
    assert not np.allclose(run(x, tc), padded[:, :50], atol=1e-3)


def test_length_grid_rounds_up_by_at_most_three_percent(zv, exact):
    voice = zv.prepare_voice(tone(2.0, 44100), 44100, "Reference words here.")
    for text in ["Hi.", "A medium sized sentence for the grid.", "A long sentence " * 12]:
        req = RenderRequest("g", text, voice=voice)
        natural, rounded = exact.plan(req)[2], zv.plan(req)[2]
        assert natural <= rounded <= natural * 1.03 + 1


def test_bad_items_fail_alone(zv):
    good = RenderRequest("g", "Fine words.", {"num_steps": 3}, seed=1)
    bad = [RenderRequest("u", "Fine words.", {"num_steps": 3, "top_k": 5}, seed=1),
           RenderRequest("r", "Fine words.", {"num_steps": 300}, seed=1),
           RenderRequest("e", "   ", {"num_steps": 3}, seed=1)]
    results = zv.generate_batch([good, *bad])
    assert results[0].ok and [r.error is not None for r in results[1:]] == [True, True, True]
    assert "top_k" in results[1].error and "num_steps" in results[2].error


def test_prepared_prompt_is_cached_beside_the_voice(zv, tmp_path):
    from voxfarm.core.audio.arrays import encode
    from voxfarm.core.render.leases import VoiceRef
    from voxfarm.worker.voices import VoiceCache

    store = open_store(Settings(data_dir=tmp_path))
    data, _ = encode(tone(2.0), 44100, "wav")
    info = store.put_bytes("tenants/t1/voices/voice_1/normalized.wav", data)
    ref = VoiceRef("voice_1", "t1", info.key, info.sha256, "s" * 64, "These are my words.")
    first = VoiceCache(zv, store)
    v1 = first.get(ref)
    assert first.encoded == 1
    stored = list((store.root / "tenants/t1/voices/voice_1/prepared").iterdir())
    assert len(stored) == 1 and stored[0].name.startswith("zipvoice-")
    fresh = VoiceCache(zv, store)
    v2 = fresh.get(ref)
    assert fresh.encoded == 0 and v2.data == v1.data and v2.frames == v1.frames
    assert v1.data.tokens.tolist() == list(zv.tokenize("These are my words."))


def test_the_seed_picks_the_take(zv):
    def req(seed):
        return RenderRequest("s", "Same words again.", {"num_steps": 4}, seed=seed)

    a, b, c = zv.generate_batch([req(1), req(2), req(1)])
    assert np.array_equal(a.audio, c.audio) and not np.allclose(a.audio, b.audio)


def test_a_damaged_cached_prompt_is_prepared_again(zv):
    voice = zv.prepare_voice(tone(1.5, 44100), 44100, "Reference words.")
    data = zv.voice_to_bytes(voice)
    for broken in (b"", b"not a zip", data[: len(data) // 2]):
        with pytest.raises(ValueError):
            zv.voice_from_bytes(broken, "Reference words.")
