"""Write a random tiny ZipVoice ONNX model with the official export's files, names and metadata.

    python -m scripts.make_tiny_zipvoice DIR [--layout upstream|sherpa]

``upstream`` is what k2-fsa/ZipVoice's ``onnx_export.py`` writes (text_encoder.onnx, fm_decoder.onnx,
their ``_int8`` twins, model.json, tokens.txt) plus sherpa-onnx's Vocos vocoder (vocos_24khz.onnx);
``sherpa`` is sherpa-onnx's release directory (encoder.int8.onnx, decoder.int8.onnx, tokens.txt,
lexicon.txt, no vocoder inside: it is a separate download).  The graphs are built with the
``onnx`` helper API and keep the official inputs, outputs, dynamic axes and metadata:

* text encoder: tokens, prompt_tokens [N, T] int64, prompt_features_len and speed scalars ->
  text_condition [N, frames, feat_dim], with the frame count computed in the graph the way
  upstream does (ceil(prompt_len / prompt_tokens * all_tokens / speed), each token repeated
  floor(frames / all_tokens) times, the rest filled with the final pad token's embedding);
* fm decoder: t, guidance_scale scalars, x, text_condition, speech_condition [N, T, feat_dim] -> v.
  It mixes information across time (a mean over T), so padding an item would change its
  output -- as it would in the real Zipformer, which has no padding mask in this export;
* vocoder: mels [N, 100, T] -> mag, x, y [N, 513, T] (ISTFT is the caller's job).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

FEAT_DIM = 100
N_FFT = 1024
HIDDEN = 32
OPSET = 17
# espeak-ng's US-English IPA output, punctuation and space: what the tokenizer will meet
SYMBOLS = (" !'\",-.:;?abdefhijklmnoprstuvwxzæçðøŋœɐɑɒɔɕəɚɛɜɝɞɟɡɣɤɥɨɪɬɭɯɰɲɳɴɵɸɹɺɻɽɾʀʁʂʃʈʉʊʋʌʍʎʏʐʑʒʔʕʝʰʲ"
           "ʷˈˌːˑ̩̃θχᵻ")


def _init(name: str, array: np.ndarray) -> onnx.TensorProto:
    return numpy_helper.from_array(array, name)


def _save(graph: onnx.GraphProto, path: Path, meta: dict[str, str]) -> None:
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
    model.ir_version = 8  # readable by onnxruntime >= 1.14
    for key, value in meta.items():
        entry = model.metadata_props.add()
        entry.key, entry.value = key, str(value)
    onnx.checker.check_model(model)
    onnx.save(model, str(path))


def text_encoder(vocab: int, pad_id: int, rng: np.random.Generator) -> onnx.GraphProto:
    n = helper.make_node
    nodes = [
        n("Shape", ["tokens"], ["n_shape"], start=0, end=1),                       # [N]
        n("Concat", ["n_shape", "one"], ["pad_shape"], axis=0),                     # [N, 1]
        n("Expand", ["pad_id", "pad_shape"], ["pad_col"]),
        n("Concat", ["prompt_tokens", "tokens", "pad_col"], ["cat"], axis=1),       # [N, L + 1]
        n("Gather", ["embed", "cat"], ["emb0"]),                                    # [N, L + 1, F]
        n("MatMul", ["emb0", "w_enc"], ["emb1"]),
        n("Tanh", ["emb1"], ["emb"]),
        n("Shape", ["cat"], ["cat_len"], start=1, end=2),                           # [1] = L + 1
        n("Sub", ["cat_len", "one"], ["tok_len"]),                                  # [1] = L
        n("Shape", ["prompt_tokens"], ["p_len"], start=1, end=2),
        n("Cast", ["prompt_features_len"], ["pfl_f"], to=TensorProto.FLOAT),
        n("Cast", ["p_len"], ["p_len_f"], to=TensorProto.FLOAT),
        n("Cast", ["tok_len"], ["tok_len_f"], to=TensorProto.FLOAT),
        n("Div", ["pfl_f", "p_len_f"], ["per_tok"]),
        n("Mul", ["per_tok", "tok_len_f"], ["frames_f0"]),
        n("Div", ["frames_f0", "speed"], ["frames_f"]),
        n("Ceil", ["frames_f"], ["frames_c"]),
        n("Cast", ["frames_c"], ["frames"], to=TensorProto.INT64),                 # [1]
        n("Div", ["frames", "tok_len"], ["dur"]),                                   # floor for ints >= 0
        n("Slice", ["emb", "zero", "tok_len", "one"], ["body"]),                    # emb[:, :L]
        n("Slice", ["emb", "tok_len", "cat_len", "one"], ["tail_tok"]),             # emb[:, L:]
        n("Unsqueeze", ["body", "two"], ["body4"]),                                 # [N, L, 1, F]
        n("Concat", ["n_shape", "tok_len", "dur", "feat"], ["rep_shape"], axis=0),
        n("Expand", ["body4", "rep_shape"], ["body_rep"]),
        n("Mul", ["tok_len", "dur"], ["body_frames"]),
        n("Concat", ["n_shape", "body_frames", "feat"], ["body_shape"], axis=0),
        n("Reshape", ["body_rep", "body_shape"], ["body_flat"]),
        n("Sub", ["frames", "body_frames"], ["rest"]),
        n("Concat", ["n_shape", "rest", "feat"], ["tail_shape"], axis=0),
        n("Expand", ["tail_tok", "tail_shape"], ["tail"]),
        n("Concat", ["body_flat", "tail"], ["text_condition"], axis=1),
    ]
    inits = [
        _init("embed", rng.normal(0, 1, (vocab, FEAT_DIM)).astype(np.float32)),
        _init("w_enc", rng.normal(0, 0.2, (FEAT_DIM, FEAT_DIM)).astype(np.float32)),
        _init("pad_id", np.array([[pad_id]], np.int64)),
        _init("one", np.array([1], np.int64)),
        _init("zero", np.array([0], np.int64)),
        _init("two", np.array([2], np.int64)),
        _init("feat", np.array([FEAT_DIM], np.int64)),
    ]
    inputs = [helper.make_tensor_value_info("tokens", TensorProto.INT64, ["N", "T"]),
              helper.make_tensor_value_info("prompt_tokens", TensorProto.INT64, ["N", "T"]),
              helper.make_tensor_value_info("prompt_features_len", TensorProto.INT64, []),
              helper.make_tensor_value_info("speed", TensorProto.FLOAT, [])]
    outputs = [helper.make_tensor_value_info("text_condition", TensorProto.FLOAT, ["N", "T", FEAT_DIM])]
    return helper.make_graph(nodes, "zipvoice_text_encoder", inputs, outputs, inits)


def fm_decoder(rng: np.random.Generator, hidden: int = HIDDEN) -> onnx.GraphProto:
    n = helper.make_node
    nodes = [
        n("Concat", ["x", "text_condition", "speech_condition"], ["h0"], axis=2),  # [N, T, 3F]
        n("MatMul", ["h0", "w_in"], ["h1"]),
        n("Mul", ["t", "t_emb"], ["t_vec"]),
        n("Add", ["h1", "t_vec"], ["h2"]),
        n("Tanh", ["h2"], ["h3"]),
        n("ReduceMean", ["h3"], ["ctx"], axes=[1], keepdims=1),                    # whole-utterance context
        n("MatMul", ["ctx", "w_ctx"], ["ctx2"]),
        n("Add", ["h3", "ctx2"], ["h4"]),
        n("Tanh", ["h4"], ["h5"]),
        n("MatMul", ["h5", "w_out"], ["v0"]),
        n("Mul", ["guidance_scale", "g_coef"], ["g0"]),
        n("Add", ["g0", "one_f"], ["g1"]),
        n("Mul", ["v0", "g1"], ["v1"]),
        n("Sub", ["text_condition", "x"], ["pull"]),                                # drift toward the text
        n("Add", ["v1", "pull"], ["v"]),
    ]
    inits = [
        _init("w_in", rng.normal(0, 0.1, (3 * FEAT_DIM, hidden)).astype(np.float32)),
        _init("t_emb", rng.normal(0, 1, (hidden,)).astype(np.float32)),
        _init("w_ctx", rng.normal(0, 0.3 * (HIDDEN / hidden) ** 0.5, (hidden, hidden)).astype(np.float32)),
        _init("w_out", rng.normal(0, 0.3 * (HIDDEN / hidden) ** 0.5, (hidden, FEAT_DIM)).astype(np.float32)),
        _init("g_coef", np.array(0.1, np.float32)),
        _init("one_f", np.array(1.0, np.float32)),
    ]
    shape = ["N", "T", FEAT_DIM]
    inputs = [helper.make_tensor_value_info("t", TensorProto.FLOAT, []),
              helper.make_tensor_value_info("x", TensorProto.FLOAT, shape),
              helper.make_tensor_value_info("text_condition", TensorProto.FLOAT, shape),
              helper.make_tensor_value_info("speech_condition", TensorProto.FLOAT, shape),
              helper.make_tensor_value_info("guidance_scale", TensorProto.FLOAT, [])]
    outputs = [helper.make_tensor_value_info("v", TensorProto.FLOAT, shape)]
    return helper.make_graph(nodes, "zipvoice_fm_decoder", inputs, outputs, inits)


def vocoder(rng: np.random.Generator) -> onnx.GraphProto:
    bins = N_FFT // 2 + 1
    n = helper.make_node
    nodes = [
        n("Transpose", ["mels"], ["m_t"], perm=[0, 2, 1]),                          # [N, T, 100]
        n("MatMul", ["m_t", "w_mag"], ["lm"]),
        n("Add", ["lm", "mag_bias"], ["lm2"]),
        n("Clip", ["lm2", "", "max_log"], ["lm3"]),
        n("Exp", ["lm3"], ["mag_t"]),
        n("MatMul", ["m_t", "w_phase"], ["p_t"]),
        n("Cos", ["p_t"], ["x_t"]),
        n("Sin", ["p_t"], ["y_t"]),
        n("Transpose", ["mag_t"], ["mag"], perm=[0, 2, 1]),
        n("Transpose", ["x_t"], ["x"], perm=[0, 2, 1]),
        n("Transpose", ["y_t"], ["y"], perm=[0, 2, 1]),
    ]
    inits = [
        _init("w_mag", rng.normal(0, 0.02, (FEAT_DIM, bins)).astype(np.float32)),
        _init("mag_bias", np.full((bins,), -3.0, np.float32)),  # quiet: about -30 dBFS of noise
        _init("max_log", np.array(2.0, np.float32)),
        _init("w_phase", rng.normal(0, 1.0, (FEAT_DIM, bins)).astype(np.float32)),
    ]
    out = ["N", bins, "T"]
    inputs = [helper.make_tensor_value_info("mels", TensorProto.FLOAT, ["N", FEAT_DIM, "T"])]
    outputs = [helper.make_tensor_value_info(name, TensorProto.FLOAT, out) for name in ("mag", "x", "y")]
    return helper.make_graph(nodes, "vocos_24khz", inputs, outputs, inits)


def _tokens() -> list[str]:
    seen: list[str] = ["_"]  # upstream's pad token, id 0
    for ch in SYMBOLS:
        if ch not in seen:
            seen.append(ch)
    return seen


def _quantize(src: Path, dst: Path) -> None:
    from onnxruntime.quantization import QuantType, quantize_dynamic

    quantize_dynamic(model_input=str(src), model_output=str(dst), op_types_to_quantize=["MatMul"],
                     weight_type=QuantType.QInt8)


def make_tiny_zipvoice(out: Path, layout: str = "upstream", seed: int = 0, hidden: int = HIDDEN) -> Path:
    """``hidden`` widens the decoder (benchmarks: a heavier step, closer to the real model's)."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    tokens = _tokens()
    (out / "tokens.txt").write_text("".join(f"{t}\t{i}\n" for i, t in enumerate(tokens)), encoding="utf-8")
    enc_meta = {"version": "1", "model_author": "k2-fsa", "comment": "ZipVoice text encoder (tiny random)",
                "use_espeak": "1", "use_pinyin": "1"}
    dec_meta = {"version": "1", "model_author": "k2-fsa", "comment": "ZipVoice flow-matching decoder (tiny random)",
                "feat_dim": FEAT_DIM, "sample_rate": 24000, "n_fft": N_FFT, "hop_length": 256,
                "window_length": N_FFT, "num_mels": FEAT_DIM}
    voc_meta = {"model_type": "vocos", "sample_rate": 24000, "n_fft": N_FFT, "hop_length": 256,
                "win_length": N_FFT, "window_type": "hann", "center": 1, "pad_mode": "reflect", "normalized": 0}
    enc, dec = text_encoder(len(tokens), 0, rng), fm_decoder(rng, hidden)
    if layout == "sherpa":
        _save(enc, out / "encoder.onnx", enc_meta)
        _save(dec, out / "decoder.onnx", dec_meta)
        _quantize(out / "encoder.onnx", out / "encoder.int8.onnx")
        _quantize(out / "decoder.onnx", out / "decoder.int8.onnx")
        for name in ("encoder.onnx", "decoder.onnx"):  # sherpa's int8 release ships only these two
            (out / name).unlink()
        (out / "lexicon.txt").write_text("", encoding="utf-8")  # sherpa's zh lexicon; unused for English
        _save(vocoder(rng), out.parent / f"{out.name}-vocos_24khz.onnx", voc_meta)
        return out
    _save(enc, out / "text_encoder.onnx", enc_meta)
    _save(dec, out / "fm_decoder.onnx", dec_meta)
    _quantize(out / "text_encoder.onnx", out / "text_encoder_int8.onnx")
    _quantize(out / "fm_decoder.onnx", out / "fm_decoder_int8.onnx")
    _save(vocoder(rng), out / "vocos_24khz.onnx", voc_meta)
    config = {"model": {"fm_decoder_dim": hidden, "text_encoder_dim": FEAT_DIM, "note": "tiny random"},
              "feature": {"type": "vocos", "sampling_rate": 24000}}
    (out / "model.json").write_text(json.dumps(config, indent=2), encoding="utf-8")
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("dir", type=Path)
    ap.add_argument("--layout", choices=("upstream", "sherpa"), default="upstream")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--hidden", type=int, default=HIDDEN, help="decoder width (default %(default)s)")
    args = ap.parse_args()
    print(make_tiny_zipvoice(args.dir, args.layout, args.seed, args.hidden))


if __name__ == "__main__":
    main()
