"""Seeded noise for ONNX graphs that sample inside the graph (VITS / Kokoro ``RandomNormalLike``).

onnxruntime's random ops draw from a generator that lives in the kernel and advances on every
run, so the same Piper input gave different audio on two calls (max sample difference 0.56 and
a different length, measured here).  ``seed_random_normals`` rewrites every ``RandomNormalLike(x)``
into a slice of one fixed table of N(0, 1) samples, stored in the model, at an offset that the
caller picks with a new ``noise_seed`` input:

    count = prod(shape(x));  offset = (noise_seed * P_k + Q_k) mod (TABLE - count)
    y = reshape(table[offset : offset + count], shape(x)) * scale + mean

The samples are still standard normal (the table is), an item's noise depends only on its seed
and its own shapes, and the same seed gives bit-identical audio.  One caveat: the slice covers the
whole [batch, ...] tensor, so the engines feed one item per run (which is also the fastest on
CPU, see bench/engines-cpu.md).
"""

from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

SEED_INPUT = "noise_seed"
TABLE_SIZE = 1 << 22  # 4M floats (16 MB): Piper's flow noise is 192 x frames, ~250 s of audio
_TABLE_SEED = 20261123


def seed_random_normals(model: onnx.ModelProto) -> int:
    """Rewrite ``model`` in place; returns how many random ops were replaced (0: left as is)."""
    graph = model.graph
    targets = [i for i, n in enumerate(graph.node) if n.op_type == "RandomNormalLike"]
    if not targets:
        return 0
    table = np.random.default_rng(_TABLE_SEED).standard_normal(TABLE_SIZE).astype(np.float32)
    graph.initializer.extend([numpy_helper.from_array(table, "noise/table"),
                              numpy_helper.from_array(np.array([TABLE_SIZE], np.int64), "noise/size"),
                              numpy_helper.from_array(np.array([1], np.int64), "noise/one")])
    graph.input.append(helper.make_tensor_value_info(SEED_INPUT, TensorProto.INT64, [1]))
    new_nodes, k = [], 0
    for node in graph.node:
        if node.op_type != "RandomNormalLike":
            new_nodes.append(node)
            continue
        new_nodes.extend(_replacement(graph, node, k))
        k += 1
    del graph.node[:]
    graph.node.extend(new_nodes)
    onnx.checker.check_model(model)
    return len(targets)


def _replacement(graph: onnx.GraphProto, node: onnx.NodeProto, k: int) -> list[onnx.NodeProto]:
    attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
    if attrs.get("dtype", TensorProto.FLOAT) != TensorProto.FLOAT:
        raise ValueError(f"{node.name}: only float32 RandomNormalLike is supported")
    p = f"noise/{k}"
    # a distinct large multiplier and shift per op, so two ops of one item never share samples
    graph.initializer.extend([numpy_helper.from_array(np.array([7919 + 104_729 * k], np.int64), f"{p}/mul"),
                              numpy_helper.from_array(np.array([1_000_003 * (k + 1)], np.int64), f"{p}/add")])
    out = node.output[0]
    nodes = [
        helper.make_node("Shape", [node.input[0]], [f"{p}/shape"], name=f"{p}/shape"),
        helper.make_node("ReduceProd", [f"{p}/shape"], [f"{p}/count"], name=f"{p}/count", keepdims=1),
        helper.make_node("Sub", ["noise/size", f"{p}/count"], [f"{p}/room0"], name=f"{p}/room0"),
        helper.make_node("Max", [f"{p}/room0", "noise/one"], [f"{p}/room"], name=f"{p}/room"),
        helper.make_node("Mul", [SEED_INPUT, f"{p}/mul"], [f"{p}/m"], name=f"{p}/m"),
        helper.make_node("Add", [f"{p}/m", f"{p}/add"], [f"{p}/mixed"], name=f"{p}/mixed"),
        helper.make_node("Mod", [f"{p}/mixed", f"{p}/room"], [f"{p}/start"], name=f"{p}/start"),
        helper.make_node("Add", [f"{p}/start", f"{p}/count"], [f"{p}/end"], name=f"{p}/end"),
        helper.make_node("Slice", ["noise/table", f"{p}/start", f"{p}/end"], [f"{p}/flat"], name=f"{p}/flat"),
    ]
    mean, scale = float(attrs.get("mean", 0.0)), float(attrs.get("scale", 1.0))
    shaped = f"{p}/shaped" if (mean, scale) != (0.0, 1.0) else out
    nodes.append(helper.make_node("Reshape", [f"{p}/flat", f"{p}/shape"], [shaped], name=f"{p}/reshape"))
    if shaped != out:
        graph.initializer.extend([numpy_helper.from_array(np.array(scale, np.float32), f"{p}/scale"),
                                  numpy_helper.from_array(np.array(mean, np.float32), f"{p}/mean")])
        nodes += [helper.make_node("Mul", [shaped, f"{p}/scale"], [f"{p}/scaled"], name=f"{p}/scaled"),
                  helper.make_node("Add", [f"{p}/scaled", f"{p}/mean"], [out], name=f"{p}/out")]
    return nodes


def noise_feed(seed: int) -> dict[str, np.ndarray]:
    return {SEED_INPUT: np.array([int(seed) & 0x7FFFFFFF], np.int64)}
