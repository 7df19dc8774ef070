"""Writes the quantized test models of tests/fixtures/models/quantized/ from tests/fixtures/models/llama-style.onnx,
the way quantizers write them, with Debian's python3-onnx (1.12) and numpy only (no onnxruntime). Deterministic.
Run: /usr/bin/python3 scripts/export-quantized-models.py

Each quantized file comes with its reference: the float32 llama-style.onnx with every quantized weight replaced by its
dequantized value computed here in numpy (an implementation independent of src/onnx/dequantize.ts):

- llama-q4.onnx (+ llama-q4-dequantized.onnx): every linear MatMul as com.microsoft MatMulNBits, bits 4, B [N,
  k_blocks, block_size / 2] packed low nibble first along K, scales [N * k_blocks], as onnxruntime's
  MatMul4BitsQuantizer writes it (names `<node>_Q4`, `<weight>_Q4`, `<weight>_scales`, `<weight>_zero_points`).
  Block 0: block_size 16, asymmetric, packed uint8 zero points [N, ceil(k_blocks / 2)]. Block 1: block_size 32 (K =
  16 pads the last block), symmetric, no zero points (the default 8). lm_head: block_size 16, float zero points [N,
  k_blocks] (the unpacked form).
- llama-int8.onnx (+ llama-int8-dequantized.onnx): as onnxruntime's quantize_dynamic writes a MatMul: x ->
  DynamicQuantizeLinear -> MatMulInteger(x_q, W_q, x_zp, W_zp) -> Cast(float) -> Mul(., x_scale * W_scale). Block 0:
  int8 weights, per output channel (scale and zero point [N]); block 1 and lm_head: uint8 per tensor. The token
  embedding quantized as quantize_dynamic quantizes a Gather: Gather(uint8 table) -> DequantizeLinear (per tensor).
- llama-qdq.onnx (+ llama-qdq-dequantized.onnx): DequantizeLinear(W_q, scale, zero point) -> MatMul, as a QDQ
  export stores weights: block 0 int8 per channel (axis 1, scale and zero point [N]), block 1 and lm_head uint8 per
  tensor.
"""
import pathlib

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

ROOT = pathlib.Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "models"
OUT = ROOT / "quantized"
rng = np.random.default_rng(20251207)


def load():
    return onnx.load(str(ROOT / "llama-style.onnx"))


def linears(model):
    """(node, weight initializer) for every MatMul on a 2-D initializer."""
    inits = {t.name: t for t in model.graph.initializer}
    return [(n, inits[n.input[1]]) for n in model.graph.node if n.op_type == "MatMul" and n.input[1] in inits]


def block_of(node):
    return 1 if "/layers.1/" in node.name else 0 if "/layers.0/" in node.name else None


def replace_initializer(model, name, array):
    for i, t in enumerate(model.graph.initializer):
        if t.name == name:
            model.graph.initializer[i].CopyFrom(numpy_helper.from_array(array.astype(np.float32), name))
            return
    raise KeyError(name)


def remove_initializer(model, name):
    keep = [t for t in model.graph.initializer if t.name != name]
    del model.graph.initializer[:]
    model.graph.initializer.extend(keep)


def save(model, name):
    onnx.checker.check_model(model) if not any(o.domain == "com.microsoft" for o in model.opset_import) else None
    onnx.save(model, str(OUT / name))


# ---- 4-bit blocks (MatMulNBits) ----------------------------------------------------------------------------------


def q4(w, block, mode):
    """w [K, N] -> (B uint8 [N, k_blocks, block/2], scales [N, k_blocks], zp uint8 [N, k_blocks] or float or None,
    dequantized [K, N])."""
    k, n = w.shape
    kb = -(-k // block)
    padded = np.zeros((kb * block, n), np.float32)
    padded[:k] = w
    blocks = padded.T.reshape(n, kb, block)  # [N, k_blocks, block] along K
    if mode == "symmetric":
        scale = np.abs(blocks).max(axis=2) / 7.0
        scale[scale == 0] = 1.0
        zp = np.full((n, kb), 8.0)
    else:
        lo, hi = np.minimum(blocks.min(axis=2), 0), np.maximum(blocks.max(axis=2), 0)
        scale = (hi - lo) / 15.0
        scale[scale == 0] = 1.0
        zp = np.clip(np.round(-lo / scale), 0, 15)
        if mode == "float-zp":
            zp = zp + 0.25  # a float zero point need not be an integer
    scale = scale.astype(np.float32)
    q = np.clip(np.round(blocks / scale[:, :, None]) + np.round(zp)[:, :, None], 0, 15).astype(np.uint8)
    packed = (q[:, :, 0::2] | (q[:, :, 1::2] << 4)).astype(np.uint8)
    zpf = zp.astype(np.float32)
    deq = ((q.astype(np.float32) - zpf[:, :, None]) * scale[:, :, None]).astype(np.float32)  # [N, kb, block]
    deq = deq.reshape(n, kb * block)[:, :k].T.copy()
    if mode == "symmetric":
        zero_points = None
    elif mode == "float-zp":
        zero_points = zpf
    else:
        zq = zp.astype(np.uint8)
        if kb % 2:
            zq = np.concatenate([zq, np.zeros((n, 1), np.uint8)], axis=1)
        zero_points = (zq[:, 0::2] | (zq[:, 1::2] << 4)).astype(np.uint8)  # [N, ceil(kb / 2)]
    return packed, scale, zero_points, deq


def write_q4():
    model, reference = load(), load()
    nodes = list(model.graph.node)
    for node, weight in linears(model):
        w = numpy_helper.to_array(weight)
        k, n = w.shape
        block = {0: 16, 1: 32, None: 16}[block_of(node)]
        mode = {0: "asymmetric", 1: "symmetric", None: "float-zp"}[block_of(node)]
        packed, scale, zero_points, deq = q4(w, block, mode)
        replace_initializer(reference, weight.name, deq)
        remove_initializer(model, weight.name)
        inputs = [node.input[0], weight.name + "_Q4", weight.name + "_scales"]
        model.graph.initializer.extend(
            [numpy_helper.from_array(packed, inputs[1]), numpy_helper.from_array(scale.reshape(-1), inputs[2])]
        )
        if zero_points is not None:
            inputs.append(weight.name + "_zero_points")
            zp = zero_points.reshape(-1) if zero_points.dtype == np.uint8 else zero_points
            model.graph.initializer.append(numpy_helper.from_array(zp, inputs[3]))
        q = helper.make_node(
            "MatMulNBits", inputs, list(node.output), node.name + "_Q4", domain="com.microsoft",
            K=k, N=n, bits=4, block_size=block, accuracy_level=0,
        )
        nodes[nodes.index(node)] = q
    del model.graph.node[:]
    model.graph.node.extend(nodes)
    model.opset_import.append(helper.make_opsetid("com.microsoft", 1))
    save(model, "llama-q4.onnx")
    save(reference, "llama-q4-dequantized.onnx")


# ---- 8-bit weights --------------------------------------------------------------------------------------------


def q8(w, dtype, per_channel):
    """w [K, N] -> (q, scale, zero point, dequantized); per channel along N (axis 1), else per tensor."""
    lo, hi = (0, 255) if dtype == np.uint8 else (-128, 127)
    axis = 0 if per_channel else None
    wmin = np.minimum(w.min(axis=axis), 0)
    wmax = np.maximum(w.max(axis=axis), 0)
    scale = ((wmax - wmin) / (hi - lo)).astype(np.float32)
    zp = np.clip(np.round(lo - wmin / scale), lo, hi).astype(dtype)
    q = np.clip(np.round(w / scale) + zp.astype(np.int32), lo, hi).astype(dtype)
    deq = ((q.astype(np.float32) - zp.astype(np.float32)) * scale).astype(np.float32)
    return q, np.asarray(scale, np.float32), np.asarray(zp, dtype), deq


def write_int8():
    model, reference = load(), load()
    nodes = list(model.graph.node)
    for node, weight in linears(model):
        w = numpy_helper.to_array(weight)
        per_channel = block_of(node) == 0
        dtype = np.int8 if per_channel else np.uint8
        q, scale, zp, deq = q8(w, dtype, per_channel)
        replace_initializer(reference, weight.name, deq)
        remove_initializer(model, weight.name)
        x, y = node.input[0], node.output[0]
        names = dict(q=weight.name + "_quantized", s=weight.name + "_scale", z=weight.name + "_zero_point")
        model.graph.initializer.extend(
            [
                numpy_helper.from_array(q, names["q"]),
                numpy_helper.from_array(scale, names["s"]),
                numpy_helper.from_array(zp, names["z"]),
            ]
        )
        base = node.name + "_quant"
        new = [
            helper.make_node(
                "DynamicQuantizeLinear", [x], [x + "_quantized", x + "_scale", x + "_zero_point"],
                x + "_QuantizeLinear",
            ),
            helper.make_node(
                "MatMulInteger", [x + "_quantized", names["q"], x + "_zero_point", names["z"]],
                [y + "_output_quantized"], base,
            ),
            helper.make_node(
                "Cast", [y + "_output_quantized"], [y + "_output_quantized_cast_output"],
                y + "_output_quantized_cast", to=TensorProto.FLOAT,
            ),
            helper.make_node("Mul", [x + "_scale", names["s"]], [base + "_scales_mul:0"], base + "_scales_mul"),
            helper.make_node(
                "Mul", [y + "_output_quantized_cast_output", base + "_scales_mul:0"], [y], base + "_output_scale_mul"
            ),
        ]
        # Several MatMuls share one input (q, k, v): quantize_dynamic quantizes it once.
        if any(n.op_type == "DynamicQuantizeLinear" and n.input[0] == x for n in nodes):
            new = new[1:]
        at = nodes.index(node)
        nodes[at:at + 1] = new
    # The token embedding: Gather on the uint8 table, then DequantizeLinear (per tensor).
    table = next(t for t in model.graph.initializer if t.name == "model.embed_tokens.weight")
    q, scale, zp, deq = q8(numpy_helper.to_array(table), np.uint8, False)
    replace_initializer(reference, table.name, deq)
    remove_initializer(model, table.name)
    model.graph.initializer.extend(
        [
            numpy_helper.from_array(q, table.name + "_quantized"),
            numpy_helper.from_array(scale, table.name + "_scale"),
            numpy_helper.from_array(zp, table.name + "_zero_point"),
        ]
    )
    gather = next(n for n in nodes if n.op_type == "Gather" and n.input[0] == table.name)
    out = gather.output[0]
    gather.input[0] = table.name + "_quantized"
    gather.output[0] = out + "_quantized"
    dq = helper.make_node(
        "DequantizeLinear", [out + "_quantized", table.name + "_scale", table.name + "_zero_point"], [out],
        out + "_DequantizeLinear",
    )
    nodes.insert(nodes.index(gather) + 1, dq)
    del model.graph.node[:]
    model.graph.node.extend(nodes)
    save(model, "llama-int8.onnx")
    save(reference, "llama-int8-dequantized.onnx")


def write_qdq():
    model, reference = load(), load()
    nodes = list(model.graph.node)
    for node, weight in linears(model):
        w = numpy_helper.to_array(weight)
        per_channel = block_of(node) == 0
        dtype = np.int8 if per_channel else np.uint8
        q, scale, zp, deq = q8(w, dtype, per_channel)
        replace_initializer(reference, weight.name, deq)
        remove_initializer(model, weight.name)
        names = [weight.name + "_quantized", weight.name + "_scale", weight.name + "_zero_point"]
        model.graph.initializer.extend(
            [numpy_helper.from_array(a, n) for a, n in zip([q, scale, zp], names)]
        )
        dq = helper.make_node(
            "DequantizeLinear", names, [weight.name + "_DequantizeLinear_Output"], weight.name + "_DequantizeLinear",
            axis=1,
        )
        node.input[1] = weight.name + "_DequantizeLinear_Output"
        nodes.insert(nodes.index(node), dq)
    del model.graph.node[:]
    model.graph.node.extend(nodes)
    save(model, "llama-qdq.onnx")
    save(reference, "llama-qdq-dequantized.onnx")


if __name__ == "__main__":
    OUT.mkdir(parents=True, exist_ok=True)
    write_q4()
    write_int8()
    write_qdq()
