"""Exports the tiny models of tests/fixtures/models/ the way people export theirs, with Debian's python3-torch (1.13)
and python3-onnx (1.12). Run: /usr/bin/python3 scripts/export-test-models.py  (deterministic: seeded weights).

All share the micro demo's vocabulary (512 tokens), d_model 16, 2 heads, 2 blocks, MLP 64, 512 positions, so the CLI
can attribute them on public/data/micro. The weights are random (seeded), scaled so that gradients are not tiny.

- gpt2-torchscript.onnx: a copy of Hugging Face's GPT2LMHeadModel (Conv1D linears = addmm on flattened rows, which
  torch.onnx writes as Reshape -> Gemm -> Reshape; gelu_new; lm_head tied to wte), torch.onnx.export (TorchScript).
- gpt2-optimum.onnx: the same weights exported as Optimum's text-generation-with-past does: inputs input_ids,
  attention_mask, position_ids, past_key_values.N.key/value [batch, heads, past, head_dim]; outputs logits and
  present.N.key/value.
- gpt2-dynamo-style.onnx: gpt2-torchscript.onnx rewritten to what torch.onnx's dynamo exporter writes (torch 1.13 has
  no dynamo exporter): opset 18, nodes named node_<Op>_<n> and values val_<n> (no module paths, so only the graph's
  structure tells the MLP projections apart), and the tied lm_head as MatMul(x, Transpose(wte)) on the one shared
  initializer instead of a folded copy.
- llama-dynamo-style.onnx: llama-style.onnx rewritten the same way, every nn.Linear weight stored as the module holds
  it ([out, in], named model.layers.0.mlp.gate_proj.weight, ...) and read through a Transpose node, and RMSNorm's
  ReduceMean taking its axes as an input (opset 18).
- llama-style.onnx: RMSNorm, nn.Linear without bias (MatMul on a transposed weight initializer), a SiLU-gated MLP
  (gate_proj, up_proj, down_proj), untied lm_head.
- gpt2-fp16.onnx / gpt2-bf16.onnx: gpt2-torchscript.onnx with every float tensor in float16 / bfloat16 (weights,
  constants, Cast targets, logits), as an fp16 export is.
- gpt2-external/model.onnx + model.onnx.data: gpt2-torchscript.onnx with its weights in an external data file.
- modern/<style>.onnx, <style>-optimum.onnx, <style>-merged.onnx: Qwen2-, Phi-3-, Gemma-2-, LLaMA-3-, Mistral-,
  GPT-NeoX-, OPT- and GPT-2-style causal LMs as-is, in Optimum's with-past signature and as a merged decoder, with their
  float64 EK-FAC reference scores and pre-tokenized data (scripts/modern_models.py). `export-test-models.py modern`
  writes only these.
"""
import math
import pathlib
import sys

import numpy as np
import onnx
import torch
from onnx import TensorProto, helper, numpy_helper

OUT = pathlib.Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "models"
V, P, D, H, F, L = 512, 512, 16, 2, 64, 2
OPSET = 17


class Conv1D(torch.nn.Module):
    """HF's Conv1D: weight [d_in, d_out], y = addmm(b, x.view(-1, d_in), W).view(..., d_out)."""

    def __init__(self, nf, nx):
        super().__init__()
        self.nf = nf
        self.weight = torch.nn.Parameter(torch.randn(nx, nf) * 0.3)
        self.bias = torch.nn.Parameter(torch.randn(nf) * 0.1)

    def forward(self, x):
        size_out = x.size()[:-1] + (self.nf,)
        x = torch.addmm(self.bias, x.view(-1, x.size(-1)), self.weight)
        return x.view(size_out)


def gelu_new(x):
    return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * torch.pow(x, 3.0))))


class Attention(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.c_attn = Conv1D(3 * D, D)
        self.c_proj = Conv1D(D, D)

    def heads(self, x):
        return x.view(x.size()[:-1] + (H, D // H)).permute(0, 2, 1, 3)

    def forward(self, x, additive_mask, past=None):
        q, k, v = self.c_attn(x).split(D, dim=2)
        q, k, v = self.heads(q), self.heads(k), self.heads(v)
        if past is not None:
            k = torch.cat((past[0], k), dim=-2)
            v = torch.cat((past[1], v), dim=-2)
        present = (k, v)
        w = torch.matmul(q, k.transpose(-1, -2)) / math.sqrt(D // H)
        ql, kl = q.size(-2), k.size(-2)
        # HF keeps a [P, P] tril buffer (256 KB per block at P = 512); the same mask from two ranges stays small.
        causal = torch.arange(kl)[None, :] <= torch.arange(kl - ql, kl)[:, None]
        w = torch.where(causal, w, torch.tensor(torch.finfo(w.dtype).min, dtype=w.dtype))
        w = torch.softmax(w + additive_mask, dim=-1)
        out = torch.matmul(w, v).permute(0, 2, 1, 3).contiguous()
        out = out.view(out.size()[:-2] + (D,))
        return self.c_proj(out), present


class Mlp(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.c_fc = Conv1D(F, D)
        self.c_proj = Conv1D(D, F)

    def forward(self, x):
        return self.c_proj(gelu_new(self.c_fc(x)))


class Block(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.ln_1 = torch.nn.LayerNorm(D, eps=1e-5)
        self.attn = Attention()
        self.ln_2 = torch.nn.LayerNorm(D, eps=1e-5)
        self.mlp = Mlp()

    def forward(self, x, mask, past=None):
        a, present = self.attn(self.ln_1(x), mask, past)
        x = x + a
        return x + self.mlp(self.ln_2(x)), present


class Gpt2Model(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.wte = torch.nn.Embedding(V, D)
        self.wpe = torch.nn.Embedding(P, D)
        self.h = torch.nn.ModuleList([Block() for _ in range(L)])
        self.ln_f = torch.nn.LayerNorm(D, eps=1e-5)


class Gpt2LMHead(torch.nn.Module):
    """GPT2LMHeadModel: forward(input_ids, attention_mask) -> logits; lm_head shares wte's weight."""

    def __init__(self):
        super().__init__()
        self.transformer = Gpt2Model()
        self.lm_head = torch.nn.Linear(D, V, bias=False)
        self.lm_head.weight = self.transformer.wte.weight
        with torch.no_grad():
            for ln in [m for m in self.modules() if isinstance(m, torch.nn.LayerNorm)]:
                ln.weight.copy_(1 + 0.1 * torch.randn(D))
                ln.bias.copy_(0.1 * torch.randn(D))

    def run(self, input_ids, attention_mask, position_ids, past):
        t = self.transformer
        x = t.wte(input_ids) + t.wpe(position_ids)
        additive = (1.0 - attention_mask[:, None, None, :].to(x.dtype)) * torch.finfo(x.dtype).min
        presents = []
        for i, block in enumerate(t.h):
            x, present = block(x, additive, None if past is None else past[i])
            presents.append(present)
        return self.lm_head(t.ln_f(x)), presents

    def forward(self, input_ids, attention_mask):
        positions = torch.arange(input_ids.size(1), dtype=torch.long).unsqueeze(0)
        return self.run(input_ids, attention_mask, positions, None)[0]


class Gpt2WithPast(torch.nn.Module):
    """The same model with Optimum's text-generation-with-past signature."""

    def __init__(self, inner):
        super().__init__()
        self.inner = inner

    def forward(self, input_ids, attention_mask, position_ids, *past_flat):
        past = [(past_flat[2 * i], past_flat[2 * i + 1]) for i in range(L)]
        logits, presents = self.inner.run(input_ids, attention_mask, position_ids, past)
        return (logits, *[t for kv in presents for t in kv])


class RmsNorm(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.weight = torch.nn.Parameter(1 + 0.1 * torch.randn(D))

    def forward(self, x):
        variance = x.pow(2).mean(-1, keepdim=True)
        return self.weight * (x * torch.rsqrt(variance + 1e-6))


class LlamaMlp(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.gate_proj = torch.nn.Linear(D, F, bias=False)
        self.up_proj = torch.nn.Linear(D, F, bias=False)
        self.down_proj = torch.nn.Linear(F, D, bias=False)

    def forward(self, x):
        return self.down_proj(torch.nn.functional.silu(self.gate_proj(x)) * self.up_proj(x))


class LlamaAttention(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.q_proj = torch.nn.Linear(D, D, bias=False)
        self.k_proj = torch.nn.Linear(D, D, bias=False)
        self.v_proj = torch.nn.Linear(D, D, bias=False)
        self.o_proj = torch.nn.Linear(D, D, bias=False)

    def forward(self, x, additive):
        b, t, _ = x.size()
        q, k, v = (p(x).view(b, t, H, D // H).transpose(1, 2) for p in (self.q_proj, self.k_proj, self.v_proj))
        w = torch.matmul(q, k.transpose(2, 3)) / math.sqrt(D // H) + additive
        out = torch.matmul(torch.softmax(w, dim=-1), v).transpose(1, 2).reshape(b, t, D)
        return self.o_proj(out)


class LlamaLayer(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.input_layernorm = RmsNorm()
        self.self_attn = LlamaAttention()
        self.post_attention_layernorm = RmsNorm()
        self.mlp = LlamaMlp()

    def forward(self, x, additive):
        x = x + self.self_attn(self.input_layernorm(x), additive)
        return x + self.mlp(self.post_attention_layernorm(x))


class LlamaInner(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.embed_tokens = torch.nn.Embedding(V, D)
        self.layers = torch.nn.ModuleList([LlamaLayer() for _ in range(L)])
        self.norm = RmsNorm()


class LlamaForCausalLM(torch.nn.Module):
    """No position embedding table (LLaMA's rotary embedding is left out to keep the graph small)."""

    def __init__(self):
        super().__init__()
        self.model = LlamaInner()
        self.lm_head = torch.nn.Linear(D, V, bias=False)

    def forward(self, input_ids, attention_mask):
        t = input_ids.size(1)
        causal = torch.triu(torch.full((t, t), torch.finfo(torch.float32).min), diagonal=1)
        padding = (1.0 - attention_mask[:, None, None, :].float()) * torch.finfo(torch.float32).min
        additive = causal[None, None, :, :] + padding
        x = self.model.embed_tokens(input_ids)
        for layer in self.model.layers:
            x = layer(x, additive)
        return self.lm_head(self.model.norm(x))


def export(module, args, path, inputs, outputs, axes):
    torch.onnx.export(
        module,
        args,
        str(path),
        input_names=inputs,
        output_names=outputs,
        dynamic_axes=axes,
        opset_version=OPSET,
        do_constant_folding=True,
    )
    model = onnx.load(str(path))
    onnx.checker.check_model(model)
    return model


def to_low_precision(model, elem_type):
    """Every float32 tensor of the graph in float16 or bfloat16 (bfloat16: round to nearest even)."""

    def convert(array):
        # An fp16 export writes finfo(float16).min where a float32 one writes finfo(float32).min: clip, never -inf
        # (0 * -inf in an additive mask would be NaN).
        if elem_type == TensorProto.FLOAT16:
            return numpy_helper.from_array(np.clip(array, -65504, 65504).astype(np.float16))
        largest = np.array([0x7F7F0000], dtype=np.uint32).view(np.float32)[0]
        bits = np.clip(array.astype(np.float32), -largest, largest).view(np.uint32)
        rounded = ((bits + 0x7FFF + ((bits >> 16) & 1)) >> 16).astype(np.uint16)
        tensor = TensorProto(data_type=TensorProto.BFLOAT16, dims=array.shape, raw_data=rounded.tobytes())
        return tensor

    def retype(tensor):
        if tensor.data_type != TensorProto.FLOAT:
            return
        converted = convert(numpy_helper.to_array(tensor))
        converted.name = tensor.name
        tensor.CopyFrom(converted)

    graph = model.graph
    for tensor in graph.initializer:
        retype(tensor)
    for node in graph.node:
        for attribute in node.attribute:
            if attribute.type == onnx.AttributeProto.TENSOR:
                retype(attribute.t)
            if node.op_type == "Cast" and attribute.name == "to" and attribute.i == TensorProto.FLOAT:
                attribute.i = elem_type
    for info in list(graph.input) + list(graph.output) + list(graph.value_info):
        if info.type.tensor_type.elem_type == TensorProto.FLOAT:
            info.type.tensor_type.elem_type = elem_type
    return model


def opset_18(model):
    """Opset 18, the dynamo exporter's default. Of the ops these graphs use only ReduceMean changed (its axes move
    from an attribute to an input); onnx 1.12's version converter and checker stop at 17, so this is done by hand."""
    graph = model.graph
    for index in range(len(graph.node) - 1, -1, -1):
        node = graph.node[index]
        if node.op_type != "ReduceMean":
            continue
        axes = next(a for a in node.attribute if a.name == "axes")
        name = f"{node.output[0]}_axes"
        constant = helper.make_node("Constant", [], [name], value=numpy_helper.from_array(np.array(axes.ints, np.int64)))
        node.attribute.remove(axes)
        node.input.append(name)
        graph.node.insert(index, constant)
    for entry in model.opset_import:
        if entry.domain in ("", "ai.onnx"):
            entry.version = 18
    model.ir_version = 8
    return model


def dynamo_style(model, tied=True):
    """The dynamo exporter's anonymous names: node_<Op>_<n>, val_<n> (graph inputs/outputs and initializers keep
    theirs), opset 18; the tied lm_head reads the shared embedding through a Transpose node."""
    graph = model.graph
    if not tied:
        # nn.Linear weights as the module stores them ([out, in], named after the parameter), read through Transpose.
        weights = {t.name: t for t in graph.initializer}
        for index in range(len(graph.node) - 1, -1, -1):
            node = graph.node[index]
            folded = weights.get(node.input[1]) if node.op_type == "MatMul" else None
            if folded is None or not folded.name.startswith("onnx::MatMul"):
                continue
            module = node.name.strip("/").rsplit("/", 1)[0].replace("/", ".")
            param = f"{module}.weight" if module == "lm_head" else f"model.{module}.weight"
            stored = numpy_helper.from_array(np.ascontiguousarray(numpy_helper.to_array(folded).T), param)
            graph.initializer.remove(folded)
            graph.initializer.append(stored)
            graph.node.insert(index, helper.make_node("Transpose", [param], [folded.name], perm=[1, 0]))
    folded = [t for t in graph.initializer if t.name.startswith("onnx::MatMul")] if tied else []
    for tensor in folded:
        graph.initializer.remove(tensor)
        transpose = helper.make_node("Transpose", ["transformer.wte.weight"], [tensor.name], perm=[1, 0])
        graph.node.insert(0, transpose)
    keep = {v.name for v in graph.input} | {v.name for v in graph.output} | {t.name for t in graph.initializer}
    renamed = {}
    for index, node in enumerate(graph.node):
        node.name = f"node_{node.op_type}_{index}"
        for j, output in enumerate(node.output):
            if output and output not in keep:
                renamed[output] = f"val_{index}_{j}" if len(node.output) > 1 else f"val_{index}"
                node.output[j] = renamed[output]
    for node in graph.node:
        for j, name in enumerate(node.input):
            if name in renamed:
                node.input[j] = renamed[name]
    for info in graph.value_info:
        if info.name in renamed:
            info.name = renamed[info.name]
    model.producer_name = "pytorch"
    return opset_18(model)


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
    from modern_models import export_modern

    export_modern(OUT, export)
    if sys.argv[1:] == ["modern"]:
        return
    torch.manual_seed(20251201)
    gpt2 = Gpt2LMHead().eval()
    ids = torch.randint(0, V, (2, 5))
    mask = torch.ones(2, 5, dtype=torch.long)
    seq = {0: "batch_size", 1: "sequence_length"}
    with torch.no_grad():
        base = export(
            gpt2, (ids, mask), OUT / "gpt2-torchscript.onnx", ["input_ids", "attention_mask"], ["logits"],
            {"input_ids": seq, "attention_mask": seq, "logits": seq},
        )
        past_len = 3
        past = [torch.randn(2, H, past_len, D // H) for _ in range(2 * L)]
        past_names = [f"past_key_values.{i}.{kv}" for i in range(L) for kv in ("key", "value")]
        present_names = [f"present.{i}.{kv}" for i in range(L) for kv in ("key", "value")]
        total = "past_sequence_length + sequence_length"
        axes = {
            "input_ids": seq,
            "attention_mask": {0: "batch_size", 1: total},
            "position_ids": seq,
            "logits": seq,
            **{n: {0: "batch_size", 2: "past_sequence_length"} for n in past_names},
            **{n: {0: "batch_size", 2: total} for n in present_names},
        }
        export(
            Gpt2WithPast(gpt2),
            (ids, torch.ones(2, past_len + 5, dtype=torch.long), torch.arange(past_len, past_len + 5)[None].repeat(2, 1),
             *past),
            OUT / "gpt2-optimum.onnx", ["input_ids", "attention_mask", "position_ids", *past_names],
            ["logits", *present_names], axes,
        )
        llama = LlamaForCausalLM().eval()
        export(
            llama, (ids, mask), OUT / "llama-style.onnx", ["input_ids", "attention_mask"], ["logits"],
            {"input_ids": seq, "attention_mask": seq, "logits": seq},
        )
    onnx.save(dynamo_style(onnx.load(str(OUT / "gpt2-torchscript.onnx"))), str(OUT / "gpt2-dynamo-style.onnx"))
    llama_dynamo = dynamo_style(onnx.load(str(OUT / "llama-style.onnx")), tied=False)
    onnx.save(llama_dynamo, str(OUT / "llama-dynamo-style.onnx"))
    onnx.save(to_low_precision(onnx.load(str(OUT / "gpt2-torchscript.onnx")), TensorProto.FLOAT16),
              str(OUT / "gpt2-fp16.onnx"))
    onnx.save(to_low_precision(onnx.load(str(OUT / "gpt2-torchscript.onnx")), TensorProto.BFLOAT16),
              str(OUT / "gpt2-bf16.onnx"))
    external = OUT / "gpt2-external"
    external.mkdir(exist_ok=True)
    (external / "model.onnx.data").unlink(missing_ok=True)  # onnx appends to an existing data file
    onnx.save(base, str(external / "model.onnx"), save_as_external_data=True, all_tensors_to_one_file=True,
              location="model.onnx.data", size_threshold=0)
    for path in sorted(OUT.rglob("*.onnx*")):
        print(f"{path.relative_to(OUT)}: {path.stat().st_size} bytes")


if __name__ == "__main__":
    main()
