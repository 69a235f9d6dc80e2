"""A fixed-shape Dia decoder step over a static, per-slot KV cache (continuous batching).

``DiaSlotCache`` owns every tensor the decode loop touches, allocated once:

* rows ``s`` and ``slots + s`` are slot ``s``'s conditional and unconditional (CFG) halves -- the
  same layout as transformers' Dia (conditional batch first), and always admitted and freed together;
* self-attention keys/values ``(2*slots, kv_heads, max_len, head_dim)`` per layer, written at each
  row's own position (a slot's entries are 0..pos; whatever a previous occupant left beyond is masked);
* cross-attention keys/values ``(2*slots, kv_heads, max_text, head_dim)`` per layer, filled once per
  admission from that request's encoder output, with a per-row text mask.

``forward(rows, codes, positions)`` runs the decoder for some rows: a whole prompt for one slot at
admission (prefill), or one step for every row.  Every row's arithmetic has the same shapes whatever
the other rows hold -- attention always spans ``max_len`` keys, masked -- so an item's logits do not
depend on its batch-mates: that is what makes a solo render and a batched one bit-identical.  The
same fixed shapes are what CUDA graphs need (``step_fn``); the modules and weights are the model's
own (no copy), read through its submodules.
"""

from __future__ import annotations

import torch
from transformers.models.dia.modeling_dia import apply_rotary_pos_emb, repeat_kv


class DiaSlotCache:
    def __init__(self, model, slots: int, max_len: int, max_text: int, device, dtype) -> None:
        self.model, self.slots, self.max_len, self.max_text = model, slots, max_len, max_text
        self.decoder = model.model.decoder
        cfg = model.config.decoder_config
        self.channels, self.vocab = cfg.num_channels, cfg.vocab_size
        rows = 2 * slots
        sa, ca = self.decoder.layers[0].self_attention, self.decoder.layers[0].cross_attention

        def zeros(heads, length, dim):
            return [torch.zeros(rows, heads, length, dim, device=device, dtype=dtype) for _ in self.decoder.layers]

        self.self_k, self.self_v = (zeros(sa.num_key_value_heads, max_len, sa.head_dim) for _ in range(2))
        self.cross_k, self.cross_v = (zeros(ca.num_key_value_heads, max_text, ca.head_dim) for _ in range(2))
        self.cross_mask = torch.zeros(rows, max_text, dtype=torch.bool, device=device)
        self.key_index = torch.arange(max_len, device=device)
        self.all_rows = torch.arange(rows, device=device)

    def rows_of(self, slot: int) -> torch.Tensor:
        return torch.tensor([slot, self.slots + slot], device=self.all_rows.device)

    def set_text(self, slot: int, encoder_out: torch.Tensor) -> None:
        """Cross-attention cache for ``slot`` from its (2, T, hidden) encoder output (cond, uncond)."""
        rows, length = self.rows_of(slot), encoder_out.shape[1]
        if length > self.max_text:
            raise ValueError(f"text of {length} tokens exceeds the loop's {self.max_text}")
        for i, layer in enumerate(self.decoder.layers):
            ca = layer.cross_attention
            shape = (2, length, -1, ca.head_dim)
            self.cross_k[i][rows, :, :length] = ca.k_proj(encoder_out).view(shape).transpose(1, 2)
            self.cross_v[i][rows, :, :length] = ca.v_proj(encoder_out).view(shape).transpose(1, 2)
        self.cross_mask[rows] = False
        self.cross_mask[rows, :length] = True

    def forward(self, rows: torch.Tensor, codes: torch.Tensor, positions: torch.Tensor) -> torch.Tensor:
        """``codes`` (n, q, channels) at ``positions`` (n, q) for cache ``rows`` (n,): writes their keys
        and values, returns the last query's logits (n, channels, vocab)."""
        n, q = positions.shape
        hidden = self.decoder.embeddings(codes)
        cos, sin = self.decoder.rotary_emb(hidden, positions)
        # a query sees its own row's entries up to its position: (n, 1, q, max_len)
        causal = (self.key_index[None, None, :] <= positions[:, :, None])[:, None]
        cross = self.cross_mask[rows][:, None, None, :]
        for i, layer in enumerate(self.decoder.layers):
            sa = layer.self_attention
            x = layer.pre_sa_norm(hidden)
            shape = (n, q, -1, sa.head_dim)
            qh = sa.q_proj(x).view(shape).transpose(1, 2)
            kh = sa.k_proj(x).view(shape).transpose(1, 2)
            vh = sa.v_proj(x).view(shape).transpose(1, 2)
            qh, kh = apply_rotary_pos_emb(qh, kh, cos, sin)
            self.self_k[i][rows[:, None], :, positions] = kh.transpose(1, 2)
            self.self_v[i][rows[:, None], :, positions] = vh.transpose(1, 2)
            out = _attend(qh, self.self_k[i][rows], self.self_v[i][rows], causal, sa.num_key_value_groups,
                          sa.scaling)
            hidden = hidden + sa.o_proj(out.transpose(1, 2).reshape(n, q, -1))
            ca = layer.cross_attention
            x = layer.pre_ca_norm(hidden)
            qc = ca.q_proj(x).view(n, q, -1, ca.head_dim).transpose(1, 2)
            out = _attend(qc, self.cross_k[i][rows], self.cross_v[i][rows], cross, ca.num_key_value_groups,
                          ca.scaling)
            hidden = hidden + ca.o_proj(out.transpose(1, 2).reshape(n, q, -1))
            hidden = hidden + layer.mlp(layer.pre_mlp_norm(hidden))
        last = self.decoder.norm(hidden[:, -1:])
        return self.model.logits_dense(last).view(n, self.channels, self.vocab)

    def step_fn(self, compile_mode: str | None):
        """The one-step decode over all rows, optionally compiled: ``reduce-overhead`` (inductor +
        CUDA graphs) on a GPU, where every step has the same shapes; eager otherwise."""

        def step(codes: torch.Tensor, positions: torch.Tensor) -> torch.Tensor:
            return self.forward(self.all_rows, codes, positions)

        if compile_mode is None:
            return step
        backend = "inductor" if compile_mode == "reduce-overhead" else compile_mode
        mode = "reduce-overhead" if compile_mode == "reduce-overhead" else None
        return torch.compile(step, backend=backend, mode=mode, dynamic=False)


def _attend(q, k, v, allowed, groups: int, scaling: float) -> torch.Tensor:
    """Masked attention with explicit, shape-stable arithmetic (float32 softmax, as Dia's eager path)."""
    k, v = repeat_kv(k, groups), repeat_kv(v, groups)
    scores = torch.matmul(q, k.transpose(2, 3)) * scaling
    scores = scores.masked_fill(~allowed, float("-inf"))
    weights = torch.softmax(scores, dim=-1, dtype=torch.float32).to(q.dtype)
    return torch.matmul(weights, v)
