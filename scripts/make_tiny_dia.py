"""Create a tiny random Dia checkpoint (2-layer encoder/decoder, hidden 64) plus a small DAC codec.

The result loads through voxfarm's real loading path (``from_pretrained`` from a local directory,
offline), so tests and CPU benchmarks exercise the same code as a production worker with the real
Dia-1.6B weights, without any hub access.  About 6 MB; takes a few seconds.

    python scripts/make_tiny_dia.py models/dia-tiny
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def make_tiny_dia(dest: Path, seed: int = 0) -> Path:
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
    from transformers.models.dia.configuration_dia import DiaDecoderConfig, DiaEncoderConfig

    dest = Path(dest)
    if (dest / "model.safetensors").exists() and (dest / "dac" / "model.safetensors").exists():
        return dest
    torch.manual_seed(seed)
    encoder = DiaEncoderConfig(num_hidden_layers=2, hidden_size=64, num_attention_heads=2,
                               num_key_value_heads=2, head_dim=32, intermediate_size=128)
    decoder = DiaDecoderConfig(num_hidden_layers=2, hidden_size=64, intermediate_size=128,
                               num_attention_heads=2, num_key_value_heads=1, head_dim=32,
                               cross_num_attention_heads=2, cross_head_dim=32,
                               cross_num_key_value_heads=2, cross_hidden_size=64)
    model = DiaForConditionalGeneration(DiaConfig(encoder_config=encoder, decoder_config=decoder)).eval()
    # DAC keeps the real hop (512 samples at 44.1 kHz, 9 codebooks); only the widths shrink
    codec = DacModel(DacConfig(encoder_hidden_size=8, decoder_hidden_size=32, sampling_rate=44100)).eval()
    dest.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(dest)
    codec.save_pretrained(dest / "dac")
    # the feature extractor must run at 44.1 kHz (its class default, 16 kHz, rejects Dia prompts)
    processor = DiaProcessor(DiaFeatureExtractor(sampling_rate=44100), DiaTokenizer(), codec)
    processor.save_pretrained(dest)
    cfg_path = dest / "processor_config.json"
    cfg = json.loads(cfg_path.read_text())
    cfg["audio_tokenizer"]["audio_tokenizer_name_or_path"] = str((dest / "dac").resolve())
    cfg_path.write_text(json.dumps(cfg, indent=2))
    return dest


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dest", nargs="?", default="models/dia-tiny")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    print(make_tiny_dia(Path(args.dest), args.seed))


if __name__ == "__main__":
    main()
