"""Write a tiny random ECAPA-TDNN speaker encoder in speechbrain's spkrec-ecapa-voxceleb layout.

    python scripts/make_tiny_ecapa.py models/ecapa-tiny

The real model's directory holds ``hyperparams.yaml`` (Fbank(80) -> sentence mean normalization
-> ECAPA_TDNN(channels 1024 x4 + 3072, lin_neurons 192) -> a global embedding normalizer, and a
7205-speaker classifier), ``embedding_model.ckpt``, ``mean_var_norm_emb.ckpt``, ``classifier.ckpt``
and ``label_encoder.txt``.  This one has the same files, modules and 192-d output with channels
of 64 (about 0.3 M parameters instead of 20 M) and 8 speakers.  Its ``pretrained_path`` names the
hub repository, as upstream's does: a loader that forgets to point it at the local directory
tries the hub and fails offline, so the tests catch it.  Random weights: the embeddings say
nothing about who speaks, but every code path around them is the real one.
"""

from __future__ import annotations

import argparse
from pathlib import Path

CHANNELS = 64
LIN_NEURONS = 192  # the real encoder's embedding size, which the API reports
SPEAKERS = 8

HYPERPARAMS = f"""\
# spkrec-ecapa-voxceleb layout, tiny random weights (scripts/make_tiny_ecapa.py)
pretrained_path: speechbrain/spkrec-ecapa-voxceleb
n_mels: 80

compute_features: !new:speechbrain.lobes.features.Fbank
    n_mels: !ref <n_mels>

mean_var_norm: !new:speechbrain.processing.features.InputNormalization
    norm_type: sentence
    std_norm: False

embedding_model: !new:speechbrain.lobes.models.ECAPA_TDNN.ECAPA_TDNN
    input_size: !ref <n_mels>
    channels: [{CHANNELS}, {CHANNELS}, {CHANNELS}, {CHANNELS}, {CHANNELS * 3}]
    kernel_sizes: [5, 3, 3, 3, 1]
    dilations: [1, 2, 3, 4, 1]
    attention_channels: 16
    lin_neurons: {LIN_NEURONS}

classifier: !new:speechbrain.lobes.models.ECAPA_TDNN.Classifier
    input_size: {LIN_NEURONS}
    out_neurons: {SPEAKERS}

mean_var_norm_emb: !new:speechbrain.processing.features.InputNormalization
    norm_type: global
    std_norm: False

modules:
    compute_features: !ref <compute_features>
    mean_var_norm: !ref <mean_var_norm>
    embedding_model: !ref <embedding_model>
    mean_var_norm_emb: !ref <mean_var_norm_emb>
    classifier: !ref <classifier>

label_encoder: !new:speechbrain.dataio.encoder.CategoricalEncoder

pretrainer: !new:speechbrain.utils.parameter_transfer.Pretrainer
    loadables:
        embedding_model: !ref <embedding_model>
        mean_var_norm_emb: !ref <mean_var_norm_emb>
        classifier: !ref <classifier>
        label_encoder: !ref <label_encoder>
    paths:
        embedding_model: !ref <pretrained_path>/embedding_model.ckpt
        mean_var_norm_emb: !ref <pretrained_path>/mean_var_norm_emb.ckpt
        classifier: !ref <pretrained_path>/classifier.ckpt
        label_encoder: !ref <pretrained_path>/label_encoder.txt
"""


def write(out: Path, seed: int = 0) -> Path:
    import torch
    from speechbrain.dataio.encoder import CategoricalEncoder
    from speechbrain.lobes.models.ECAPA_TDNN import ECAPA_TDNN, Classifier
    from speechbrain.processing.features import InputNormalization

    torch.manual_seed(seed)
    out.mkdir(parents=True, exist_ok=True)
    (out / "hyperparams.yaml").write_text(HYPERPARAMS)
    model = ECAPA_TDNN(80, channels=[CHANNELS] * 4 + [CHANNELS * 3], kernel_sizes=[5, 3, 3, 3, 1],
                       dilations=[1, 2, 3, 4, 1], attention_channels=16, lin_neurons=LIN_NEURONS)
    torch.save(model.state_dict(), out / "embedding_model.ckpt")
    torch.save(Classifier(LIN_NEURONS, out_neurons=SPEAKERS).state_dict(), out / "classifier.ckpt")
    norm = InputNormalization(norm_type="global", std_norm=False)
    norm.train()
    # global statistics as training leaves them: a mean over a batch of embeddings
    norm(torch.randn(16, 1, LIN_NEURONS) * 0.1, torch.ones(16))
    norm._save(out / "mean_var_norm_emb.ckpt")
    labels = CategoricalEncoder()
    labels.update_from_iterable([f"id{10001 + i}" for i in range(SPEAKERS)])
    labels.save(out / "label_encoder.txt")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    print(write(args.out, args.seed))


if __name__ == "__main__":
    main()
