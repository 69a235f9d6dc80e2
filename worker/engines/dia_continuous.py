"""Step-level (continuous) batching for Dia: a fixed number of slots, refilled at every step.

A request waits until a slot is free, then is admitted at the next step: its text is encoded (a
conditional and an unconditional row: the CFG pair stays together for its whole life), its
cross-attention cache is filled, its delayed decoder prefix (BOS + voice prompt codes) is
prefilled, and its first frame is sampled.  Every later step decodes all slots at once
(``DiaSlotCache``).  A slot frees when its item has ended -- EOS on the first codebook plus the
codebook delay tail -- or after ``max_new_tokens``, and the next waiting request takes it.

Per slot, as transformers' ``generate`` does it per batch (the same processor classes, in the same
order): classifier-free guidance with top-k, temperature, the EOS channel filter, top-k, top-p, the
delay-pattern EOS forcing (relative to the slot's own prefix and ``max_new_tokens``), then
sampling from the item's own random stream (``dia_inputs.per_item_sampler``'s inverse CDF); a
row that emitted EOS pads.  The prefix's delay mask overrides the first frames exactly as
``DiaGenerationMixin.apply_delay_mask`` does.

Tolerance: an item renders bit-identically alone in the loop and beside any batch-mates, in any
slot (fixed shapes, row-independent arithmetic; the engine contract tests it).  Against the
``generate`` path its logits agree only to float rounding (other kernels, another cache layout),
and a rounding-level difference can move a token across the top-k/top-p cut or a CDF boundary:
that frame is sampled differently and the rest of that take diverges.  Measured on the tiny model:
23 of 24 benchmark items identical to ``generate``, one diverging at step 12 (a 211-token text).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from transformers.generation.logits_process import (
    DiaClassifierFreeGuidanceLogitsProcessor,
    DiaEOSChannelFilterLogitsProcessor,
    TemperatureLogitsWarper,
    TopKLogitsWarper,
    TopPLogitsWarper,
)

from voxfarm.worker.engines.dia_decode import DiaSlotCache


@dataclass
class Job:
    """One request in the loop: what it needs to decode, and where its frames go."""

    text_ids: torch.Tensor  # (T,) encoder token ids
    prefix: torch.Tensor  # (P + max_delay, channels): the delayed decoder prefix (dia_inputs)
    prompt_len: int  # P: BOS + voice prompt frames
    params: dict
    seed: int
    eos_at: int | None = None  # benchmarks/tests: force EOS on channel 0 at this new step
    suppress_eos: bool = False
    done: Callable[[Job, torch.Tensor], None] | None = None  # gets the job and its (1, P + n, channels)
    # decoding state
    step: int = 0
    tokens: list = field(default_factory=list)
    uniforms: torch.Tensor | None = None
    active: bool = False  # EOS started on channel 0: the delay tail is running
    countdown: torch.Tensor | None = None
    finished: torch.Tensor | None = None

    def key(self) -> tuple:
        p = self.params
        return (p["cfg_scale"], p["temperature"], p["top_k"], p["top_p"])


class ContinuousDia:
    def __init__(self, engine, slots: int, max_len: int, max_text: int, compile_mode: str | None = None) -> None:
        self.engine, self.model = engine, engine.model
        self.cache = DiaSlotCache(engine.model, slots, max_len, max_text, engine.device, engine.dtype)
        self.slots: list[Job | None] = [None] * slots
        self.waiting: deque[Job] = deque()
        self.delay = torch.tensor(engine.delay_pattern, device=engine.device)
        self.step_fn = self.cache.step_fn(compile_mode)
        self.steps_run = 0  # decode steps the loop ran
        self.slot_steps = 0  # steps x slots
        self.useful_slot_steps = 0  # slot-steps that carried a live item

    # -- scheduling ----------------------------------------------------------------------------
    def submit(self, job: Job) -> None:
        self.waiting.append(job)

    @property
    def busy(self) -> bool:
        return bool(self.waiting) or any(self.slots)

    def step(self) -> None:
        """Admit waiting requests into free slots, then decode one frame for every live slot."""
        with torch.inference_mode():
            for s, job in enumerate(self.slots):
                if job is None and self.waiting:
                    self._admit(s, self.waiting.popleft())
            live = [s for s, job in enumerate(self.slots) if job is not None]
            if not live:
                return
            n = self.cache.slots
            codes = torch.full((2 * n, 1, self.cache.channels), self.engine.pad, dtype=torch.long,
                               device=self.engine.device)
            positions = torch.zeros((2 * n, 1), dtype=torch.long, device=self.engine.device)
            for s in live:
                job = self.slots[s]
                codes[[s, n + s], 0] = job.tokens[-1]
                positions[[s, n + s], 0] = job.prompt_len + job.step - 1
            logits = self.step_fn(codes, positions)
            self.steps_run += 1
            self.slot_steps += n
            self.useful_slot_steps += len(live)
            self._sample(live, logits[live], logits[[n + s for s in live]])

    def run_until_idle(self) -> None:
        while self.busy:
            self.step()

    def _admit(self, s: int, job: Job) -> None:
        dev = self.engine.device
        ids = job.text_ids.to(dev)[None]
        text = torch.cat([ids, torch.zeros_like(ids)])  # conditional + unconditional (CFG), as generate does
        enc = self.model.model.encoder(input_ids=text, attention_mask=torch.ones_like(text)).last_hidden_state
        self.cache.set_text(s, enc)
        g = torch.Generator(device=dev).manual_seed(int(job.seed))
        max_steps = int(job.params["max_new_tokens"]) + self.engine.max_delay + 2  # as the per-item sampler
        job.uniforms = torch.rand((max_steps, self.cache.channels), generator=g, device=dev)
        job.countdown = self.delay.clone()
        job.finished = torch.zeros(self.cache.channels, dtype=torch.bool, device=dev)
        prefix = job.prefix[: job.prompt_len].to(dev)
        rows = self.cache.rows_of(s)
        positions = torch.arange(job.prompt_len, device=dev)[None].expand(2, -1)
        logits = self.cache.forward(rows, prefix[None].expand(2, -1, -1), positions)
        self.slots[s] = job
        self._sample([s], logits[0:1], logits[1:2])

    # -- sampling ------------------------------------------------------------------------------
    def _sample(self, live: list[int], cond: torch.Tensor, uncond: torch.Tensor) -> None:
        """Sample one frame for each ``live`` slot from its (channels, vocab) logits; slots with the
        same sampling settings go through the processors together (they act row by row)."""
        groups: dict[tuple, list[int]] = {}
        for i, s in enumerate(live):
            groups.setdefault(self.slots[s].key(), []).append(i)
        for idx in groups.values():
            self._sample_group([live[i] for i in idx], cond[idx], uncond[idx])

    def _sample_group(self, slots: list[int], cond: torch.Tensor, uncond: torch.Tensor) -> None:
        eng, c, v = self.engine, self.cache.channels, self.cache.vocab
        p = self.slots[slots[0]].params
        scores = torch.cat([cond.reshape(-1, v), uncond.reshape(-1, v)]).float()
        rows = torch.empty((len(slots) * c, 1), dtype=torch.long)  # only its batch size is read
        for proc in self._processors(p):
            scores = proc(rows, scores)
        scores = scores.view(len(slots), c, v)
        for i, s in enumerate(slots):
            job = self.slots[s]
            row = scores[i]
            if job.suppress_eos:
                row[:, eng.eos] = float("-inf")
            elif job.eos_at is not None:
                if job.step == job.eos_at:
                    row[0, :] = float("-inf")
                    row[0, eng.eos] = 0.0
                elif job.step < job.eos_at:
                    row[0, eng.eos] = float("-inf")
            self._delay_pattern_eos(job, row)
            u = job.uniforms[min(job.step, job.uniforms.shape[0] - 1)].reshape(-1, 1)
            cdf = torch.softmax(row.float(), dim=-1).cumsum(dim=-1)
            token = torch.searchsorted(cdf, u * cdf[:, -1:]).clamp_(max=v - 1).reshape(-1)
            token = torch.where(job.finished, torch.full_like(token, eng.pad), token)
            job.finished |= token == eng.eos
            pos = job.prompt_len + job.step
            if pos < job.prefix.shape[0]:  # the prefix's delay mask wins over sampled frames
                forced = job.prefix[pos].to(token.device)
                token = torch.where(forced == eng.pad, token, forced)
            job.tokens.append(token)
            job.step += 1
            if bool(job.finished.all()) or job.step >= int(job.params["max_new_tokens"]):
                self._finish(s)

    def _processors(self, p: dict) -> list:
        c, eos = self.cache.channels, self.engine.eos
        procs = []
        if float(p["cfg_scale"]) != 1:
            procs.append(DiaClassifierFreeGuidanceLogitsProcessor(float(p["cfg_scale"]), int(p["top_k"])))
        if float(p["temperature"]) != 1.0:
            procs.append(TemperatureLogitsWarper(float(p["temperature"])))
        procs += [DiaEOSChannelFilterLogitsProcessor(c, eos), TopKLogitsWarper(int(p["top_k"])),
                  TopPLogitsWarper(float(p["top_p"]))]
        return procs

    def _delay_pattern_eos(self, job: Job, row: torch.Tensor) -> None:
        """transformers' ``DiaEOSDelayPatternLogitsProcessor`` for one slot: once channel 0 ranks EOS
        first (or the item reaches its last frame), channel ``c`` is forced to EOS ``delay[c]`` later."""
        eng = self.engine
        last = int(job.params["max_new_tokens"]) - eng.max_delay - 1
        job.active = job.active or bool(row[0].argmax() == eng.eos) or job.step == last
        if job.active:
            forced = job.countdown == 0
            row[forced] = float("-inf")
            row[forced, eng.eos] = 0.0
            job.countdown -= 1

    def _finish(self, s: int) -> None:
        job, self.slots[s] = self.slots[s], None
        seq = torch.cat([job.prefix[: job.prompt_len].to(job.tokens[0].device), torch.stack(job.tokens)])
        if job.done is not None:
            job.done(job, seq[None])
