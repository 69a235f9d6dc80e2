"""Write a tiny random Kokoro-82M look-alike: same files, input/output names and shapes as the real one.

    python scripts/make_tiny_kokoro.py models/kokoro-tiny                      # sherpa-onnx layout
    python scripts/make_tiny_kokoro.py models/kokoro-tiny --layout kokoro-onnx

sherpa-onnx layout: ``model.onnx`` (metadata sample_rate, speaker_names, style_dim), ``voices.bin``
(raw float32, one [510, 1, 256] block per speaker, in speaker_names order), ``tokens.txt``.
kokoro-onnx layout: ``kokoro-v1.0.onnx``, ``voices-v1.0.bin`` (an npz of [510, 1, 256] arrays),
``config.json`` with a ``vocab``.  The graph takes ``tokens`` [1, T] int64 (0 = pad at both ends),
``style`` [1, 256] float32 (a voice's row for the token count) and ``speed`` [1] float32, and returns
``audio`` [samples] at 24 kHz: floor(1200 / speed) samples per token, a tanh of token embeddings
mixed with the style, plus a little in-graph ``RandomNormalLike`` noise, as Kokoro's source
generator has.  Random weights: it says nothing, but every code path around it is the real one.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

VOICES = ("af_bella", "af_sky", "am_adam")
STYLE_ROWS, STYLE_DIM = 510, 256
# Generic IPA inventory (espeak-ng output symbols) plus punctuation; id 0 is the pad.
_SYMBOLS = (list(" ;:,.!?\u2014\u2026\"()\u201c\u201d") + [chr(c) for c in range(ord("a"), ord("z") + 1)]
            + list("\u0251\u0250\u0252\u00e6\u03b2\u0254\u00e7\u00f0\u02a4\u0259\u025a\u025b\u025c\u025f"
                   "\u0261\u0266\u0268\u026a\u029d\u026b\u0271\u026f\u014b\u0272\u00f8\u03b8\u0153\u0279"
                   "\u027e\u027b\u0281\u0282\u0283\u0288\u02a7\u028a\u028b\u028c\u0263\u028d\u03c7\u028e"
                   "\u0292\u0294\u02c8\u02cc\u02d0\u02b0\u02b2\u1d7b\u0303"))


def vocab() -> dict[str, int]:
    return {s: i + 1 for i, s in enumerate(dict.fromkeys(_SYMBOLS))}


def build_model(n_tokens: int, seed: int = 0):
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(seed)
    hidden, per_token_max = 32, 2400  # speed 0.5 -> 2400 samples per token, speed 2 -> 600

    def init(name, array):
        return numpy_helper.from_array(np.asarray(array), name)

    inits = [
        init("emb", rng.normal(0, 1, (n_tokens + 1, hidden)).astype(np.float32)),
        init("w_style", rng.normal(0, 0.05, (STYLE_DIM, hidden)).astype(np.float32)),
        init("w_wave", rng.normal(0, 0.3, (hidden, per_token_max)).astype(np.float32)),
        init("base", np.array([1200.0], np.float32)), init("zero", np.array([0], np.int64)),
        init("axis2", np.array([2], np.int64)), init("flat", np.array([-1], np.int64)),
        init("amp", np.array(0.5, np.float32)), init("noise_amp", np.array(0.01, np.float32)),
    ]
    node = helper.make_node
    nodes = [
        node("Gather", ["emb", "tokens"], ["e"]),  # [1, T, H]
        node("MatMul", ["style", "w_style"], ["s"]),  # [1, H]
        node("Unsqueeze", ["s", "axis1"], ["s3"]),  # [1, 1, H]
        node("Add", ["e", "s3"], ["h0"]), node("Tanh", ["h0"], ["h"]),
        node("MatMul", ["h", "w_wave"], ["wave0"]),  # [1, T, 2400]
        node("Tanh", ["wave0"], ["wave1"]), node("Mul", ["wave1", "amp"], ["wave"]),
        node("Div", ["base", "speed"], ["len_f"]), node("Floor", ["len_f"], ["len_fl"]),
        node("Cast", ["len_fl"], ["len"], to=TensorProto.INT64),
        node("Slice", ["wave", "zero", "len", "axis2"], ["cut"]),  # [1, T, floor(1200 / speed)]
        node("Reshape", ["cut", "flat"], ["clean"]),
        node("RandomNormalLike", ["clean"], ["noise"], dtype=TensorProto.FLOAT),
        node("Mul", ["noise", "noise_amp"], ["noise_s"]), node("Add", ["clean", "noise_s"], ["audio"]),
    ]
    inits.append(init("axis1", np.array([1], np.int64)))
    graph = helper.make_graph(
        nodes, "kokoro-tiny",
        [helper.make_tensor_value_info("tokens", TensorProto.INT64, [1, "sequence_length"]),
         helper.make_tensor_value_info("style", TensorProto.FLOAT, [1, STYLE_DIM]),
         helper.make_tensor_value_info("speed", TensorProto.FLOAT, [1])],
        [helper.make_tensor_value_info("audio", TensorProto.FLOAT, ["audio_length"])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="voxfarm")
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model


def make_tiny_kokoro(dest: str | Path, layout: str = "sherpa", seed: int = 0) -> Path:
    import onnx

    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    table = vocab()
    model = build_model(max(table.values()), seed)
    rng = np.random.default_rng(seed + 1)
    styles = {v: rng.normal(0, 0.2, (STYLE_ROWS, 1, STYLE_DIM)).astype(np.float32) for v in VOICES}
    if layout == "sherpa":
        meta = {"model_type": "kokoro", "sample_rate": "24000", "version": "2", "voice": "en-us",
                "style_dim": f"{STYLE_ROWS},1,{STYLE_DIM}", "n_speakers": str(len(VOICES)),
                "speaker_names": ",".join(VOICES)}
        for key, value in meta.items():
            prop = model.metadata_props.add()
            prop.key, prop.value = key, value
        onnx.save(model, str(dest / "model.onnx"))
        with open(dest / "voices.bin", "wb") as f:
            f.writelines(styles[v].tobytes() for v in VOICES)
        # sherpa's tokens.txt: "<symbol> <id>", and a bare "<id>" line for the space
        lines = [f"{s} {i}" if s != " " else f"{i}" for s, i in table.items()]
        (dest / "tokens.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    elif layout == "kokoro-onnx":
        onnx.save(model, str(dest / "kokoro-v1.0.onnx"))
        with open(dest / "voices-v1.0.bin", "wb") as f:
            np.savez(f, **styles)
        (dest / "config.json").write_text(json.dumps({"vocab": table, "n_token": len(table) + 1}), encoding="utf-8")
    else:
        raise ValueError(f"unknown layout {layout!r}")
    return dest


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dest")
    parser.add_argument("--layout", choices=("sherpa", "kokoro-onnx"), default="sherpa")
    args = parser.parse_args()
    print(make_tiny_kokoro(args.dest, args.layout))


if __name__ == "__main__":
    main()
