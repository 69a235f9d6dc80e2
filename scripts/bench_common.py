"""Helpers shared by the Dia benchmarks: peak-memory sampling and a full-size random checkpoint."""

from __future__ import annotations

import threading
from pathlib import Path


class PeakMemory:
    """Peak RSS (CPU) or peak allocated device memory (CUDA) while the block runs."""

    def __init__(self, device: str) -> None:
        self.device = device

    def __enter__(self):
        import psutil
        import torch

        self.proc = psutil.Process()
        self.base = self.proc.memory_info().rss
        self.peak = self.base
        self._stop = threading.Event()
        if self.device.startswith("cuda"):
            torch.cuda.reset_peak_memory_stats()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _sample(self):
        while not self._stop.wait(0.005):
            self.peak = max(self.peak, self.proc.memory_info().rss)

    def __exit__(self, *exc):
        import torch

        self._stop.set()
        self._thread.join()
        if self.device.startswith("cuda"):
            self.mib = torch.cuda.max_memory_allocated() / 2**20
        else:
            self.mib = (self.peak - self.base) / 2**20


def make_full_random(dest: Path) -> Path:
    """Full-size Dia (DiaConfig() defaults, ~1.6 B parameters) with random weights, plus the real
    DAC-44kHz architecture (random).  Nothing is downloaded."""
    import torch
    from transformers import (
        DacConfig,
        DacModel,
        DiaConfig,
        DiaFeatureExtractor,
        DiaForConditionalGeneration,
        DiaProcessor,
        DiaTokenizer,
    )

    if (dest / "config.json").exists():
        return dest
    torch.manual_seed(0)
    with torch.device("cpu"):
        model = DiaForConditionalGeneration(DiaConfig()).to(torch.bfloat16)
    model.save_pretrained(dest)
    codec = DacModel(DacConfig(sampling_rate=44100, encoder_hidden_size=64, decoder_hidden_size=1536,
                               downsampling_ratios=[2, 4, 8, 8], n_codebooks=9, codebook_size=1024,
                               codebook_dim=8))
    codec.save_pretrained(dest / "dac")
    DiaProcessor(DiaFeatureExtractor(sampling_rate=44100), DiaTokenizer(), codec).save_pretrained(dest)
    return dest
