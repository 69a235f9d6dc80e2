"""Dia decoder inputs from cached codec tokens, and the per-item sampling processors.

``DiaProcessor`` can only build decoder inputs from raw audio (it runs the DAC encoder every
call).  ``build_decoder_inputs`` produces the same tensors from tokens we cached per voice: BOS,
left padding so every prompt ends at the same step, then the codebook delay pattern.  A test
checks it against the processor's own output for mixed prompt lengths.
"""

from __future__ import annotations

from typing import Any

import torch
from transformers import LogitsProcessor
from transformers.models.dia.processing_dia import DiaProcessor


def build_decoder_inputs(codes: list[torch.Tensor | None], delay_pattern: list[int], bos: int, pad: int,
                         channels: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``codes[i]`` is a (frames, channels) prompt or None; returns (decoder_input_ids, mask)."""
    max_delay = max(delay_pattern)
    lengths = [0 if c is None else int(c.shape[0]) for c in codes]
    longest = max(lengths)
    batch = len(codes)
    prompt = torch.full((batch, longest + 1, channels), bos, dtype=torch.long)
    mask = torch.zeros((batch, longest + 1 + max_delay), dtype=torch.long)
    for i, (c, n) in enumerate(zip(codes, lengths, strict=False)):
        pad_len = longest - n
        if n:
            prompt[i, pad_len + 1:] = c.to(torch.long)
        mask[i, pad_len:] = 1
    seq_len = longest + 1 + max_delay
    prefill = torch.full((batch, seq_len, channels), pad, dtype=torch.long)
    prefill[:, : longest + 1] = prompt
    idx = DiaProcessor.build_indices(bsz=batch, seq_len=seq_len, num_channels=channels,
                                     delay_pattern=delay_pattern, revert=False)
    delayed = DiaProcessor.apply_audio_delay(audio=prefill, pad_token_id=pad, bos_token_id=bos,
                                             precomputed_idx=idx)
    return delayed, mask


class _PerItemSampler(LogitsProcessor):
    """Sample every item's codebook rows from that item's own random stream, vectorized.

    Each item's uniforms are drawn once per ``generate`` from its own generator (one call per
    item, not per step); every step then samples the whole batch at once by inverse CDF
    (``searchsorted``).  An item's tokens depend only on its seed and its logits, never on its
    batch-mates.  The chosen token is returned one-hot, so ``generate``'s own sampler can only
    pick it.
    """

    def __init__(self, generators: list[Any], channels: int, max_steps: int) -> None:
        self.generators, self.channels, self.max_steps = generators, channels, max_steps
        self.uniforms: torch.Tensor | None = None
        self.step = 0

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        if not self.generators:
            return scores
        if self.uniforms is None:
            self.uniforms = torch.stack([
                torch.rand((self.max_steps, self.channels), generator=g, device=g.device) for g in self.generators
            ]).to(scores.device)  # (items, steps, channels)
        u = self.uniforms[:, min(self.step, self.max_steps - 1), :].reshape(-1, 1)  # (items*channels, 1)
        self.step += 1
        cdf = torch.softmax(scores.float(), dim=-1).cumsum(dim=-1)
        chosen = torch.searchsorted(cdf, u * cdf[:, -1:]).clamp_(max=scores.shape[-1] - 1)
        out = torch.full_like(scores, float("-inf"))
        out.scatter_(1, chosen, 0.0)
        return out


class _SuppressEos(LogitsProcessor):
    def __init__(self, eos: int) -> None:
        self.eos = eos

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        scores[:, self.eos] = float("-inf")
        return scores


class _ForceEosAt(LogitsProcessor):
    """Make item ``i``'s channel 0 choose EOS at its new step ``steps[i]`` (and never before).

    Benchmarks and tests only: a random-weight checkpoint almost never ranks EOS first, so its
    items would all run to ``max_new_tokens``.  Forcing EOS at a per-item step lets a mixed-length
    workload end the way a trained model's does; everything after it (the delay tail, Dia's own
    EOS processor forcing the other channels, padding) is the real code path.  Placed before
    Dia's delay-pattern processor, which reads the argmax to start each item's tail.
    """

    def __init__(self, steps: list[int], channels: int, eos: int) -> None:
        self.steps, self.channels, self.eos = steps, channels, eos
        self.step = 0

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        view = scores.view(-1, self.channels, scores.shape[-1])
        for i, target in enumerate(self.steps):
            if target is None:
                continue
            if self.step == target:
                view[i, 0, :] = float("-inf")
                view[i, 0, self.eos] = 0.0
            elif self.step < target:
                view[i, 0, self.eos] = float("-inf")
        self.step += 1
        return scores


def with_mask_positions(prepare_orig):
    """Wrap ``prepare_inputs_for_generation`` so decoder positions count only unmasked steps.

    Dia's decoder otherwise numbers positions ``0..n`` for every row, so a row left-padded to line
    up with a longer voice prompt in the same batch sees shifted rotary positions -- its audio
    then depends on its batch-mates.  With positions from the mask, a row renders as it would
    alone.
    """

    def prepare(*args, **kwargs):
        inputs = prepare_orig(*args, **kwargs)
        mask = inputs.get("decoder_attention_mask")
        ids = inputs.get("decoder_input_ids")
        if mask is not None and ids is not None:
            positions = (mask.long().cumsum(-1) - 1).clamp(min=0)
            inputs["decoder_position_ids"] = positions[:, -ids.shape[1]:]
        return inputs

    return prepare


def per_item_sampler(generators: list[Any], channels: int, max_steps: int) -> LogitsProcessor:
    return _PerItemSampler(generators, channels, max_steps)


def suppress_eos(eos: int) -> LogitsProcessor:
    return _SuppressEos(eos)


def force_eos_at(steps: list[int | None], channels: int, eos: int) -> LogitsProcessor:
    return _ForceEosAt(steps, channels, eos)


def generated_codes(out: torch.Tensor, prompt_len: int, delay_pattern: list[int], pad: int,
                    codebook_size: int) -> list[torch.Tensor]:
    """Per item, the generated (channels, frames) codes with the delay pattern undone.

    Mirrors ``DiaProcessor.batch_decode``'s span (after the prompt, before padding and EOS) but
    keeps only the leading run of frames whose every code is a real codebook entry: an item
    stopped within the delay window still holds BOS/PAD ids there, which would crash the codec.
    """
    batch, seq_len, channels = out.shape
    idx = DiaProcessor.build_indices(bsz=batch, seq_len=seq_len, num_channels=channels,
                                     delay_pattern=delay_pattern, revert=True)
    reverted = DiaProcessor.apply_audio_delay(audio=out, pad_token_id=-1, bos_token_id=-1,
                                              precomputed_idx=idx).transpose(1, 2)
    ends = seq_len - (out[:, :, 0] == pad).sum(dim=-1) - 1
    items = []
    for i in range(batch):
        codes = reverted[i, :, prompt_len:int(ends[i])]
        valid = ((codes >= 0) & (codes < codebook_size)).all(dim=0)
        bad = torch.nonzero(~valid)
        n = int(bad[0, 0]) if bad.numel() else codes.shape[1]
        items.append(codes[:, :n])
    return items
