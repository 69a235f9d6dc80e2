"""Dia specifics on the tiny checkpoint: real loading, cached prompts, only-new audio, seeds."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from voxfarm.core.settings import Settings
from voxfarm.core.storage import open_store
from voxfarm.worker.engines.base import RenderRequest, create_engine
from voxfarm.worker.engines.dia import HOP
from voxfarm.worker.engines.dia_inputs import build_decoder_inputs

from helpers import tone


def test_cached_prompt_inputs_equal_the_processors(dia):
    a1, a2 = tone(1.0, 44100), tone(0.6, 44100, 330)
    ref = dia.processor(text=["[S1] x", "[S1] y"], audio=[a1, a2], padding=True, return_tensors="pt")
    codes = [torch.as_tensor(dia.prepare_voice(a, 44100, "t").data, dtype=torch.long) for a in (a1, a2)]
    ids, mask = build_decoder_inputs(codes, dia.delay_pattern, dia.bos, dia.pad, dia.channels)
    assert torch.equal(ids, ref["decoder_input_ids"].long()) and torch.equal(mask, ref["decoder_attention_mask"].long())
    plain = dia.processor(text=["[S1] x", "[S1] y"], padding=True, return_tensors="pt")
    ids0, mask0 = build_decoder_inputs([None, None], dia.delay_pattern, dia.bos, dia.pad, dia.channels)
    assert torch.equal(ids0, plain["decoder_input_ids"].long())
    assert torch.equal(mask0, plain["decoder_attention_mask"].long())


def test_cloning_returns_only_the_new_audio(dia):
    voice = dia.prepare_voice(tone(3.0, 44100), 44100, "[S1] My reference words.")
    assert voice.frames == -(-3 * 44100 // HOP)  # 86 codec frames per second, last one zero-padded
    dia.suppress_eos = True
    try:
        out = dia.generate_batch([RenderRequest("v", "Hello.", {"max_new_tokens": 50}, seed=1, voice=voice)])[0]
    finally:
        dia.suppress_eos = False
    # 50 steps minus the 15-step codebook delay and EOS: never the 258 prompt frames
    assert out.audio.size == out.steps * HOP and out.steps <= 50
    assert out.steps < voice.frames


def test_seeds_change_the_take_and_transcripts_are_prepended(dia):
    def r(seed):
        return RenderRequest("s", "Same words.", {"max_new_tokens": 60}, seed=seed)

    a, b = dia.generate_batch([r(1), r(2)])
    assert not (a.audio.shape == b.audio.shape and np.allclose(a.audio, b.audio))
    voice = dia.prepare_voice(tone(1.0, 44100), 44100, "[S1] Prompt words.")
    assert dia.script(RenderRequest("x", "next", voice=voice)) == "[S1] Prompt words. next"
    assert dia.script(RenderRequest("x", "no tag")) == "[S1] no tag"


@pytest.mark.parametrize("dtype", ["bfloat16", "float16"])
def test_compute_dtype_option(tiny_dia, tmp_path, dtype):
    eng = create_engine("dia", Settings(data_dir=tmp_path, dia_model=str(tiny_dia), dia_dtype=dtype))
    eng.load()
    assert str(eng.model.dtype) == f"torch.{dtype}"
    assert eng.generate_batch([RenderRequest("d", "Hi there.", {"max_new_tokens": 40}, seed=1)])[0].ok


def test_loading_is_offline_only(tiny_dia, tmp_path, monkeypatch):
    """The loader itself keeps weights offline: the test lifts the environment's offline switch
    (conftest sets HF_HUB_OFFLINE), forbids every name lookup and connection, and spies on the
    ``from_pretrained`` calls.  Loading a local directory must pass ``local_files_only`` on every
    call, and a model that is not local must fail without trying the hub."""
    import socket

    import huggingface_hub.constants
    import transformers

    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("TRANSFORMERS_OFFLINE", raising=False)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)
    reached: list[object] = []

    def no_network(*args, **kwargs):
        reached.append(args[1] if len(args) > 1 else args[0])
        raise OSError("this test forbids network access")

    real_getaddrinfo = socket.getaddrinfo
    monkeypatch.setattr(socket, "getaddrinfo", lambda host, *a, **k: real_getaddrinfo(host, *a, **k)
                        if host in ("localhost", "127.0.0.1", "::1") else no_network(None, host))
    monkeypatch.setattr(socket.socket, "connect", no_network)
    monkeypatch.setattr(socket.socket, "connect_ex", no_network)
    offline_flags = []
    for name in ("DiaForConditionalGeneration", "DacModel", "DiaFeatureExtractor", "DiaTokenizer"):
        cls = getattr(transformers, name)
        real = cls.from_pretrained.__func__

        def spy(klass, *args, _real=real, **kwargs):
            offline_flags.append((klass.__name__, kwargs.get("local_files_only")))
            return _real(klass, *args, **kwargs)

        monkeypatch.setattr(cls, "from_pretrained", classmethod(spy))

    eng = create_engine("dia", Settings(data_dir=tmp_path, dia_model=str(tiny_dia)))
    eng.load()
    assert eng.loaded and len(offline_flags) == 4
    assert all(flag is True for _, flag in offline_flags), offline_flags
    missing = create_engine("dia", Settings(data_dir=tmp_path, dia_model="nari-labs/not-in-any-cache"))
    with pytest.raises(OSError, match="not in the Hugging Face cache"):
        missing.load()  # a model that is not local fails fast, never downloads
    assert reached == []  # nothing looked up a host or opened a connection (huggingface_hub would)


def test_prepared_voice_is_cached_beside_the_voice(dia, tmp_path):
    from voxfarm.core.audio.arrays import encode
    from voxfarm.core.render.leases import VoiceRef
    from voxfarm.worker.voices import VoiceCache

    store = open_store(Settings(data_dir=tmp_path))
    data, _ = encode(tone(2.0), 44100, "wav")
    info = store.put_bytes("tenants/t1/voices/voice_1/normalized.wav", data)
    ref = VoiceRef("voice_1", "t1", info.key, info.sha256, "s" * 64, "[S1] hello")
    first = VoiceCache(dia, store)
    v1 = first.get(ref)
    first.get(ref)
    assert first.encoded == 1
    stored = [p for p in (store.root / "tenants/t1/voices/voice_1/prepared").iterdir()]
    assert len(stored) == 1 and stored[0].name.startswith("dia-")
    fresh = VoiceCache(dia, store)  # a new worker process: loads tokens, does not re-encode
    v2 = fresh.get(ref)
    assert fresh.encoded == 0 and np.array_equal(v1.data, v2.data)


def test_torch_compile_option_renders_the_same_audio(tiny_dia, tmp_path, dia):
    request = RenderRequest("c", "Compiled or not, the same take.", {"max_new_tokens": 30}, seed=5)
    eager = dia.generate_batch([request])[0].audio
    eng = create_engine("dia", Settings(data_dir=tmp_path, dia_model=str(tiny_dia), dia_compile=True))
    eng.load()
    assert eng.compiled_backend == "aot_eager"  # CPU; inductor on CUDA
    compiled = eng.generate_batch([request])[0].audio
    assert eng.compiled_backend == "aot_eager"  # it did not fall back
    assert compiled.shape == eager.shape and np.allclose(compiled, eager, atol=1e-4)


def test_a_failing_compile_falls_back_to_eager(tiny_dia, tmp_path, dia):
    from torch._dynamo import list_backends, register_backend

    if "vf_always_fails" not in list_backends(exclude_tags=()):
        @register_backend(name="vf_always_fails")
        def _fails(gm, example_inputs):  # compilation fails at the first call, as inductor can
            raise RuntimeError("simulated compiler failure")

    eng = create_engine("dia", Settings(data_dir=tmp_path, dia_model=str(tiny_dia), dia_compile=True,
                                        dia_compile_backend="vf_always_fails"))
    eng.load()
    assert eng.compiled_backend == "vf_always_fails"
    request = RenderRequest("c", "Still rendered.", {"max_new_tokens": 30}, seed=5)
    out = eng.generate_batch([request])[0]
    assert out.ok and eng.compiled_backend is None
    assert np.allclose(out.audio, dia.generate_batch([request])[0].audio, atol=1e-4)
