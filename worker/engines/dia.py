"""Dia-1.6B through Hugging Face transformers (``DiaForConditionalGeneration`` + DAC codec).

* Loading is offline only (``local_files_only``): ``VOXFARM_DIA_MODEL`` is a local directory or a
  model id already in the HF cache.  The DAC codec comes from ``VOXFARM_DIA_CODEC``, else
  ``<model>/dac``, else the path the processor config names.
* Voice cloning as Dia expects: the prompt's transcript is prepended to the text and the prompt's
  codec tokens prefill the decoder; only audio after the prompt is returned.  Prompt tokens are
  computed once per voice (``prepare_voice``) and cached by the worker beside the voice in
  storage, so the DAC encoder never runs twice for a voice.
* Per-item seeds: ``generate`` samples all rows from one RNG, which would make an item's audio
  depend on its batch-mates.  A final logits processor samples each item's rows with its own
  ``torch.Generator`` and hands ``generate`` a one-hot choice, so the same request renders the
  same audio.
"""

from __future__ import annotations

import io
import logging
import math
import threading
from collections.abc import Callable
from typing import Any

import numpy as np

from voxfarm.core.engines.registry import ENGINES
from voxfarm.worker.engines.base import BatchStats, Engine, PreparedVoice, RenderRequest, RenderResult
from voxfarm.worker.engines.dia_setup import codec_path, local_dir, resolve_device, resolve_dtype

HOP = 512  # DAC samples per codec frame at 44.1 kHz: 86 frames = 1 s
log = logging.getLogger(__name__)


class DiaEngine(Engine):
    spec = ENGINES["dia"]

    def __init__(self, settings) -> None:
        super().__init__(settings)
        self._device = "cpu"
        self._codec_lock = threading.Lock()
        self.suppress_eos = False  # benchmarks: every item runs max_new_tokens steps
        # benchmarks and tests: a random checkpoint never ends on its own, so this may name the new
        # step at which each request's channel 0 is forced to EOS (dia_inputs.force_eos_at)
        self.eos_at: Callable[[RenderRequest], int | None] | None = None
        self._eos_steps: list[int | None] = []
        self._loop = None  # the continuous decode loop, built on first use
        # continuous mode: several batches may share the loop; whichever caller still waits steps it
        self._step_lock = threading.Lock()
        self._static_lock = threading.Lock()  # the generate path's per-call sampler state is shared

    @property
    def device(self) -> str:
        return self._device

    def load(self) -> None:
        import torch
        from transformers import DacModel, DiaFeatureExtractor, DiaForConditionalGeneration, DiaProcessor, DiaTokenizer

        from voxfarm.worker.engines.dia_inputs import (
            force_eos_at,
            per_item_sampler,
            suppress_eos,
            with_mask_positions,
        )

        model_id = local_dir(self.settings.dia_model)
        self._device = resolve_device(self.settings.dia_device)
        self.dtype = resolve_dtype(self.settings.dia_dtype, self._device)
        self.model = DiaForConditionalGeneration.from_pretrained(
            model_id, dtype=self.dtype, local_files_only=True).to(self._device).eval()
        codec_dir = local_dir(codec_path(model_id, self.settings.dia_codec))
        codec = DacModel.from_pretrained(codec_dir, local_files_only=True)
        codec = codec.to(self._device).eval()  # the codec stays float32: audio precision matters
        self.processor = DiaProcessor(DiaFeatureExtractor.from_pretrained(model_id, local_files_only=True),
                                      DiaTokenizer.from_pretrained(model_id, local_files_only=True), codec)
        self.delay_pattern = list(self.model.config.delay_pattern)
        self.max_delay = max(self.delay_pattern)
        dec = self.model.config.decoder_config
        self.bos, self.pad, self.eos = dec.bos_token_id, dec.pad_token_id, dec.eos_token_id
        self.channels = dec.num_channels
        self.codebook_size = codec.config.codebook_size
        self._generators: list[Any] = []
        self._max_steps = 1
        original = self.model._get_logits_processor

        def with_per_item_sampling(*args, **kwargs):
            processors = original(*args, **kwargs)
            if self.suppress_eos:  # before Dia's delay-pattern processor, which may still force EOS at max length
                processors.insert(len(processors) - 1, suppress_eos(self.eos))
            elif any(step is not None for step in self._eos_steps):
                processors.insert(len(processors) - 1, force_eos_at(self._eos_steps, self.channels, self.eos))
            # a fresh sampler per generate call: its random streams start at step 0
            processors.append(per_item_sampler(self._generators, self.channels, self._max_steps))
            return processors

        self.model._get_logits_processor = with_per_item_sampling
        self.model.prepare_inputs_for_generation = with_mask_positions(self.model.prepare_inputs_for_generation)
        self.compiled_backend = None
        if self.settings.dia_compile:
            self._eager_forward = self.model.forward
            self.compiled_backend = self.settings.dia_compile_backend or (
                "inductor" if self._device == "cuda" else "aot_eager")
            self.model.forward = torch.compile(self.model.forward, dynamic=True, backend=self.compiled_backend)
        self.loaded = True

    # -- voices --------------------------------------------------------------------------------
    def prepare_voice(self, audio: np.ndarray, sample_rate: int, transcript: str) -> PreparedVoice:
        import torch

        from voxfarm.core.audio.arrays import resample

        fe = self.processor.feature_extractor
        audio = resample(audio, sample_rate, fe.sampling_rate)
        if audio.size == 0:
            raise ValueError("empty voice prompt")
        # exactly what DiaProcessor does: zero-pad up to whole codec frames, then encode
        feats = fe(audio, sampling_rate=fe.sampling_rate, return_tensors="pt")
        length = math.ceil(int(feats["padding_mask"][0].sum()) / fe.hop_length) * fe.hop_length
        with self._codec_lock, torch.inference_mode():
            wav = feats["input_values"][0][None, ..., :length].to(self._device, torch.float32)
            codes = self.processor.audio_tokenizer.encode(wav).audio_codes  # (1, channels, frames)
        codes = codes[0].transpose(0, 1).to(torch.int16).cpu().numpy()
        return PreparedVoice(transcript, codes, frames=codes.shape[0])

    def voice_to_bytes(self, voice: PreparedVoice) -> bytes:
        buf = io.BytesIO()
        np.save(buf, np.asarray(voice.data, dtype=np.int16), allow_pickle=False)
        return buf.getvalue()

    def voice_from_bytes(self, data: bytes, transcript: str) -> PreparedVoice:
        codes = np.load(io.BytesIO(data), allow_pickle=False)
        if codes.ndim != 2 or codes.shape[1] != self.channels:
            raise ValueError(f"cached prompt has shape {codes.shape}, expected (frames, {self.channels})")
        return PreparedVoice(transcript, codes, frames=codes.shape[0])

    # -- generation ----------------------------------------------------------------------------
    @staticmethod
    def script(request: RenderRequest) -> str:
        text = request.text.strip()
        if request.voice is not None:
            text = f"{request.voice.transcript.strip()} {text}"
        return text if text.startswith("[S") else f"[S1] {text}"

    def batch_key(self, request: RenderRequest):
        # max_new_tokens too: Dia forces EOS relative to the batch's max length, so mixing limits
        # would make an item's audio depend on its batch-mates
        p = {**self.spec.defaults, **request.params}
        return (p["temperature"], p["top_p"], p["top_k"], p["cfg_scale"], p["max_new_tokens"])

    def generate_batch(self, requests: list[RenderRequest]) -> list[RenderResult]:
        codes = self.generate_codes(requests)
        results = self.decode_codes(codes)
        steps = self._last_steps
        useful = sum(min(r.steps + 1 + self.max_delay, steps) for r in results)  # frames, EOS, delay tail
        self.last_stats = BatchStats(len(requests), steps, useful)
        return results

    def generate_codes(self, requests: list[RenderRequest]) -> list:
        """Each item's generated (channels, frames) codes, by the configured batching mode."""
        if self.settings.dia_batching == "continuous":
            return self.continuous_codes(requests)
        return self.static_codes(requests)

    # -- continuous (step-level) batching: worker/engines/dia_continuous.py ---------------------
    def loop(self):
        """The engine's continuous decode loop, built once with the configured fixed shapes."""
        if self._loop is None:
            from voxfarm.worker.engines.dia_continuous import ContinuousDia

            s = self.settings
            mode = None
            if s.dia_compile:  # CUDA graphs through inductor on a GPU; a plain backend elsewhere
                mode = "reduce-overhead" if self._device == "cuda" else (s.dia_compile_backend or "aot_eager")
            self._loop = ContinuousDia(self, s.dia_slots, s.dia_loop_max_len, s.dia_loop_max_text, mode)
        return self._loop

    def continuous_job(self, request: RenderRequest, done):
        """The loop's form of ``request`` (``done`` receives its token sequence), or None when it
        does not fit the loop's fixed shapes."""
        import torch

        from voxfarm.worker.engines.dia_continuous import Job
        from voxfarm.worker.engines.dia_inputs import build_decoder_inputs

        p = {**self.spec.defaults, **request.params}
        ids = self.processor.tokenizer([self.script(request)], add_special_tokens=False,
                                       return_tensors="pt")["input_ids"][0]
        voice = None if request.voice is None else torch.as_tensor(request.voice.data, dtype=torch.long)
        prefix, mask = build_decoder_inputs([voice], self.delay_pattern, self.bos, self.pad, self.channels)
        prompt_len = int(mask.sum()) - self.max_delay
        loop = self.loop()
        if ids.numel() > loop.cache.max_text or prompt_len + int(p["max_new_tokens"]) > loop.cache.max_len:
            return None
        return Job(ids, prefix[0], prompt_len, p, int(request.seed), done=done, suppress_eos=self.suppress_eos,
                   eos_at=self.eos_at(request) if self.eos_at else None)

    @property
    def max_in_flight(self) -> int:
        # 2 batches at once: the next batch's requests wait in the loop and take slots as they free
        return 2 if self.settings.dia_batching == "continuous" else 1

    def continuous_codes(self, requests: list[RenderRequest]) -> list:
        """Run ``requests`` through the loop (a slot that frees takes the next waiting request at
        once, whichever batch it came with); items that do not fit its shapes render through
        ``static_codes`` one by one.  Thread-safe: concurrent callers share the loop, and the
        steps are run by whichever caller still has items in it."""
        from voxfarm.worker.engines.dia_inputs import generated_codes

        if not self.loaded:
            raise RuntimeError("engine not loaded")
        loop = self.loop()
        out: list = [None] * len(requests)
        sequences: dict[int, tuple] = {}
        jobs = []
        for i, r in enumerate(requests):
            job = self.continuous_job(r, lambda job, seq, i=i: sequences.__setitem__(i, (job, seq)))
            if job is None:
                out[i] = self.static_codes([r])[0]
            else:
                jobs.append(job)
        before = loop.steps_run
        for job in jobs:
            loop.submit(job)
        while len(sequences) < len(jobs):
            with self._step_lock:
                if len(sequences) < len(jobs):
                    loop.step()
        for i, (job, seq) in sequences.items():
            out[i] = generated_codes(seq, job.prompt_len, self.delay_pattern, self.pad, self.codebook_size)[0]
        self._last_steps = loop.steps_run - before
        return out

    def static_codes(self, requests: list[RenderRequest]) -> list:
        """One batched ``generate``; returns each item's generated (channels, frames) codes."""
        with self._static_lock:
            return self._static_codes(requests)

    def _static_codes(self, requests: list[RenderRequest]) -> list:
        import torch

        from voxfarm.worker.engines.dia_inputs import build_decoder_inputs, generated_codes

        if not self.loaded:
            raise RuntimeError("engine not loaded")
        p = {**self.spec.defaults, **requests[0].params}
        if len({self.batch_key(r) for r in requests}) > 1:
            raise ValueError("requests with different sampling settings cannot share a batch")
        text = self.processor.tokenizer([self.script(r) for r in requests], padding=True,
                                        padding_side="right", add_special_tokens=False, return_tensors="pt")
        codes = [None if r.voice is None else torch.as_tensor(r.voice.data, dtype=torch.long) for r in requests]
        dec_ids, dec_mask = build_decoder_inputs(codes, self.delay_pattern, self.bos, self.pad, self.channels)
        self._generators[:] = [torch.Generator(device=self._device).manual_seed(int(r.seed)) for r in requests]
        self._max_steps = int(p["max_new_tokens"]) + self.max_delay + 2
        self._eos_steps[:] = [self.eos_at(r) if self.eos_at else None for r in requests]
        kwargs = dict(input_ids=text["input_ids"].to(self._device),
                      attention_mask=text["attention_mask"].to(self._device),
                      decoder_input_ids=dec_ids.to(self._device), decoder_attention_mask=dec_mask.to(self._device),
                      max_new_tokens=int(p["max_new_tokens"]), do_sample=True, temperature=float(p["temperature"]),
                      top_p=float(p["top_p"]), top_k=int(p["top_k"]), guidance_scale=float(p["cfg_scale"]))
        with torch.inference_mode():
            try:
                out = self.model.generate(**kwargs)
            except Exception:
                if self.compiled_backend is None:
                    raise
                # compilation happens at the first call; if it fails, serve uncompiled rather than not at all
                log.exception("torch.compile (%s) failed; falling back to eager", self.compiled_backend)
                self.model.forward, self.compiled_backend = self._eager_forward, None
                self._generators[:] = [torch.Generator(device=self._device).manual_seed(int(r.seed)) for r in requests]
                out = self.model.generate(**kwargs)
        prompt_len = self.processor.get_audio_prompt_len(dec_mask)
        self._last_steps = int(out.shape[1] - prompt_len)
        return generated_codes(out, prompt_len, self.delay_pattern, self.pad, self.codebook_size)

    def decode_codes(self, items: list) -> list[RenderResult]:
        """DAC-decode each item's codes to audio (the codec runs per item: batched DAC decode is
        not supported by transformers' DacModel yet)."""
        import torch

        results = []
        with self._codec_lock, torch.inference_mode():
            for codes in items:
                if codes.shape[1] == 0:
                    results.append(RenderResult(error="the model generated no audio for this text"))
                    continue
                wav = self.processor.audio_tokenizer.decode(audio_codes=codes[None].to(self._device))
                wav = wav.audio_values.float().reshape(-1).cpu().numpy()
                results.append(RenderResult(audio=np.clip(wav, -1, 1).astype(np.float32), steps=codes.shape[1]))
        return results

    def expected_length(self, request: RenderRequest) -> float:
        return len(self.script(request)) + (request.voice.frames / 6 if request.voice else 0)
