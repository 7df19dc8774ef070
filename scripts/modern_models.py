"""Tiny causal LMs written the way current Hugging Face architectures are (module structure and forward code follow
transformers' modeling_qwen2.py, modeling_phi3.py and modeling_gemma2.py; nothing is imported from transformers),
exported as-is with torch.onnx.export (opset 17, no onnx shape inference, so the graphs carry no value_info), plus
each model's float64 EK-FAC scores with kronfluence semantics, computed here in torch with forward hooks.

Run through scripts/export-test-models.py (`/usr/bin/python3 scripts/export-test-models.py modern` writes only these).

Reference semantics (those of `iwb attribute --strategy ekfac --fisher empirical --measurement summed-loss`, which are
kronfluence's with damping_factor=None):
- an example's loss is the cross-entropy summed over its response targets (position t predicts token t + 1 for
  t = prompt_len - 1 ... len - 2); a query's measurement is the same summed loss;
- tracked layers: the MLP linears (gate_proj, up_proj, down_proj; Phi-3's fused gate_up_proj is one layer), no bias;
- A = sum over every token of every training sequence of a a^T / token count, S likewise from g = dL/dy (y the
  layer output); A = Q_A diag Q_A^T, S = Q_S diag Q_S^T;
- Lambda = mean over training sequences of (Q_S^T G(n) Q_A)^2 with G(n) = sum_t g_t a_t^T;
- delta = 0.1 * mean(Lambda) per layer; tau(q, n) = sum over layers of
  sum((Q_S^T G(q) Q_A) * (Q_S^T G(n) Q_A) / (Lambda + delta)), positive = n lowers q's loss.
Everything in float64 (the model is copied to float64 for the reference; the ONNX file is float32).
"""
import json
import math
import pathlib

import onnx
import torch

V, D, H, KV, F, L = 96, 16, 4, 2, 32, 2
HD = D // H
THETA = 10000.0
MIN = torch.finfo(torch.float32).min


class RMSNorm(torch.nn.Module):
    """Qwen2RMSNorm / Phi3RMSNorm: the variance in float32, weight * normalized (cast back to the input dtype)."""

    def __init__(self, eps=1e-6):
        super().__init__()
        self.weight = torch.nn.Parameter(1 + 0.1 * torch.randn(D))
        self.variance_epsilon = eps

    def forward(self, hidden_states):
        input_dtype = hidden_states.dtype
        hidden_states = hidden_states.to(torch.float32)
        variance = hidden_states.pow(2).mean(-1, keepdim=True)
        hidden_states = hidden_states * torch.rsqrt(variance + self.variance_epsilon)
        return self.weight * hidden_states.to(input_dtype)


class GemmaRMSNorm(torch.nn.Module):
    """Gemma2RMSNorm: computed in float32, scaled by (1 + weight), weight initialised near 0."""

    def __init__(self, eps=1e-6):
        super().__init__()
        self.eps = eps
        self.weight = torch.nn.Parameter(0.1 * torch.randn(D))

    def _norm(self, x):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps)

    def forward(self, x):
        output = self._norm(x.float())
        output = output * (1.0 + self.weight.float())
        return output.type_as(x)


class RotaryEmbedding(torch.nn.Module):
    def __init__(self):
        super().__init__()
        inv_freq = 1.0 / (THETA ** (torch.arange(0, HD, 2, dtype=torch.int64).float() / HD))
        self.register_buffer("inv_freq", inv_freq, persistent=False)

    def forward(self, x, position_ids):
        inv_freq_expanded = self.inv_freq[None, :, None].float().expand(position_ids.shape[0], -1, 1)
        position_ids_expanded = position_ids[:, None, :].float()
        freqs = (inv_freq_expanded.float() @ position_ids_expanded.float()).transpose(1, 2)
        emb = torch.cat((freqs, freqs), dim=-1)
        return emb.cos().to(dtype=x.dtype), emb.sin().to(dtype=x.dtype)


def rotate_half(x):
    x1 = x[..., : x.shape[-1] // 2]
    x2 = x[..., x.shape[-1] // 2 :]
    return torch.cat((-x2, x1), dim=-1)


def apply_rotary_pos_emb(q, k, cos, sin):
    cos = cos.unsqueeze(1)
    sin = sin.unsqueeze(1)
    return (q * cos) + (rotate_half(q) * sin), (k * cos) + (rotate_half(k) * sin)


def repeat_kv(hidden_states, n_rep):
    batch, num_key_value_heads, slen, head_dim = hidden_states.shape
    if n_rep == 1:
        return hidden_states
    hidden_states = hidden_states[:, :, None, :, :].expand(batch, num_key_value_heads, n_rep, slen, head_dim)
    return hidden_states.reshape(batch, num_key_value_heads * n_rep, slen, head_dim)


def attend(q, k, v, mask, softcap=None):
    """Eager attention: GQA by repeat_kv, scores scaled, optionally soft-capped, softmax in float32 between Casts."""
    k = repeat_kv(k, H // KV)
    v = repeat_kv(v, H // KV)
    weights = torch.matmul(q, k.transpose(2, 3)) / math.sqrt(HD)
    if softcap is not None:
        weights = torch.tanh(weights / softcap) * softcap
    weights = weights + mask
    weights = torch.nn.functional.softmax(weights, dim=-1, dtype=torch.float32).to(q.dtype)
    out = torch.matmul(weights, v).transpose(1, 2).contiguous()
    return out.reshape(out.shape[0], out.shape[1], -1)


class Qwen2Attention(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.q_proj = torch.nn.Linear(D, H * HD, bias=True)
        self.k_proj = torch.nn.Linear(D, KV * HD, bias=True)
        self.v_proj = torch.nn.Linear(D, KV * HD, bias=True)
        self.o_proj = torch.nn.Linear(H * HD, D, bias=False)

    def forward(self, x, cos, sin, mask):
        b, t, _ = x.shape
        q = self.q_proj(x).view(b, t, -1, HD).transpose(1, 2)
        k = self.k_proj(x).view(b, t, -1, HD).transpose(1, 2)
        v = self.v_proj(x).view(b, t, -1, HD).transpose(1, 2)
        q, k = apply_rotary_pos_emb(q, k, cos, sin)
        return self.o_proj(attend(q, k, v, mask))


class Phi3Attention(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.qkv_proj = torch.nn.Linear(D, (H + 2 * KV) * HD, bias=False)
        self.o_proj = torch.nn.Linear(H * HD, D, bias=False)

    def forward(self, x, cos, sin, mask):
        b, t, _ = x.shape
        qkv = self.qkv_proj(x)
        query_pos = H * HD
        q = qkv[..., :query_pos].view(b, t, -1, HD).transpose(1, 2)
        k = qkv[..., query_pos : query_pos + KV * HD].view(b, t, -1, HD).transpose(1, 2)
        v = qkv[..., query_pos + KV * HD :].view(b, t, -1, HD).transpose(1, 2)
        q, k = apply_rotary_pos_emb(q, k, cos, sin)
        return self.o_proj(attend(q, k, v, mask))


class Gemma2Attention(Qwen2Attention):
    """Gemma-2: no q/k/v biases, attention-logit soft-capping (50)."""

    def __init__(self):
        super().__init__()
        for name in ("q_proj", "k_proj", "v_proj"):
            old = getattr(self, name)
            setattr(self, name, torch.nn.Linear(D, old.out_features, bias=False))

    def forward(self, x, cos, sin, mask):
        b, t, _ = x.shape
        q = self.q_proj(x).view(b, t, -1, HD).transpose(1, 2)
        k = self.k_proj(x).view(b, t, -1, HD).transpose(1, 2)
        v = self.v_proj(x).view(b, t, -1, HD).transpose(1, 2)
        q, k = apply_rotary_pos_emb(q, k, cos, sin)
        return self.o_proj(attend(q, k, v, mask, softcap=50.0))


class GatedMLP(torch.nn.Module):
    """Qwen2MLP (SiLU) / GemmaMLP (gelu_pytorch_tanh): down_proj(act(gate_proj(x)) * up_proj(x))."""

    def __init__(self, act):
        super().__init__()
        self.gate_proj = torch.nn.Linear(D, F, bias=False)
        self.up_proj = torch.nn.Linear(D, F, bias=False)
        self.down_proj = torch.nn.Linear(F, D, bias=False)
        self.act_fn = act

    def forward(self, x):
        return self.down_proj(self.act_fn(self.gate_proj(x)) * self.up_proj(x))


class Phi3MLP(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.gate_up_proj = torch.nn.Linear(D, 2 * F, bias=False)
        self.down_proj = torch.nn.Linear(F, D, bias=False)

    def forward(self, hidden_states):
        up_states = self.gate_up_proj(hidden_states)
        gate, up_states = up_states.chunk(2, dim=-1)
        up_states = up_states * torch.nn.functional.silu(gate)
        return self.down_proj(up_states)


def gelu_tanh(x):
    return torch.nn.functional.gelu(x, approximate="tanh")


class DecoderLayer(torch.nn.Module):
    def __init__(self, style):
        super().__init__()
        self.style = style
        attention = {"qwen2": Qwen2Attention, "phi3": Phi3Attention, "gemma2": Gemma2Attention}[style]
        self.self_attn = attention()
        self.mlp = {
            "qwen2": lambda: GatedMLP(torch.nn.functional.silu),
            "phi3": Phi3MLP,
            "gemma2": lambda: GatedMLP(gelu_tanh),
        }[style]()
        norm = GemmaRMSNorm if style == "gemma2" else RMSNorm
        self.input_layernorm = norm()
        self.post_attention_layernorm = norm()
        if style == "gemma2":  # Gemma-2's sandwich norms
            self.pre_feedforward_layernorm = norm()
            self.post_feedforward_layernorm = norm()

    def forward(self, x, cos, sin, mask):
        if self.style == "gemma2":
            h = self.post_attention_layernorm(self.self_attn(self.input_layernorm(x), cos, sin, mask))
            x = x + h
            return x + self.post_feedforward_layernorm(self.mlp(self.pre_feedforward_layernorm(x)))
        x = x + self.self_attn(self.input_layernorm(x), cos, sin, mask)
        return x + self.mlp(self.post_attention_layernorm(x))


class Inner(torch.nn.Module):
    def __init__(self, style):
        super().__init__()
        self.embed_tokens = torch.nn.Embedding(V, D)
        self.layers = torch.nn.ModuleList([DecoderLayer(style) for _ in range(L)])
        self.norm = GemmaRMSNorm() if style == "gemma2" else RMSNorm()
        self.rotary_emb = RotaryEmbedding()


class CausalLM(torch.nn.Module):
    """input_ids, attention_mask -> logits. Position ids from the mask (cumsum - 1, as generate() makes them), the 4-D
    additive mask from triu(full(min)) and the padding mask (as _prepare_4d_causal_attention_mask_with_cache_position)."""

    def __init__(self, style):
        super().__init__()
        self.style = style
        self.model = Inner(style)
        self.lm_head = torch.nn.Linear(D, V, bias=False)
        if style in ("qwen2", "gemma2"):
            self.lm_head.weight = self.model.embed_tokens.weight  # tied embeddings

    def forward(self, input_ids, attention_mask):
        position_ids = attention_mask.long().cumsum(-1) - 1
        position_ids = position_ids.masked_fill(attention_mask == 0, 1)
        b, t = input_ids.shape
        x = self.model.embed_tokens(input_ids)
        if self.style == "gemma2":
            x = x * torch.tensor(D**0.5, dtype=x.dtype)
        causal = torch.triu(torch.full((t, t), MIN, dtype=x.dtype), diagonal=1)
        causal = causal[None, None, :, :].expand(b, 1, -1, -1)
        padding = attention_mask[:, None, None, :] == 0
        mask = causal.masked_fill(padding, MIN)
        cos, sin = self.model.rotary_emb(x, position_ids)
        for layer in self.model.layers:
            x = layer(x, cos, sin, mask)
        logits = self.lm_head(self.model.norm(x))
        if self.style == "gemma2":  # final logit soft-capping (30)
            logits = torch.tanh(logits / 30.0) * 30.0
        return logits


STYLES = {
    "qwen2": "Qwen2-style: RMSNorm, rotary embeddings (position ids = cumsum(mask) - 1), grouped-query attention "
    "(4 query heads, 2 key/value heads), q/k/v biases, softmax in float32 between two Casts, SwiGLU MLP, tied embeddings",
    "phi3": "Phi-3-style: fused qkv_proj and gate_up_proj (chunked in two), RMSNorm, rotary embeddings, GQA, untied lm_head",
    "gemma2": "Gemma-2-style: embeddings scaled by sqrt(d), RMSNorm (1 + w) in float32 with sandwich norms, GeGLU-tanh MLP, "
    "attention-logit (50) and final-logit (30) soft-capping, tied embeddings",
}


def sequences(generator):
    """Pre-tokenized rows of different lengths (so a batch is padded): 4 training rows, 2 queries."""

    def row(i, kind):
        length = int(torch.randint(6, 11, (1,), generator=generator))
        ids = torch.randint(3, V, (length,), generator=generator).tolist()
        return {"id": f"{kind}-{i}", "input_ids": ids, "prompt_len": int(torch.randint(1, 4, (1,), generator=generator))}

    return [row(i, "train") for i in range(4)], [row(i, "query") for i in range(2)]


def tracked_modules(model):
    return [(name, m) for name, m in model.named_modules() if isinstance(m, torch.nn.Linear) and ".mlp." in name]


def example_gradients(model, row):
    """Per tracked layer: activations a [T, din] and output gradients g [T, dout] of the row's summed response loss."""
    modules = tracked_modules(model)
    seen = {}

    def hook(name):
        def record(_module, inputs, output):
            output.retain_grad()
            seen[name] = (inputs[0], output)

        return record

    handles = [m.register_forward_hook(hook(name)) for name, m in modules]
    ids = torch.tensor([row["input_ids"]])
    logits = model(ids, torch.ones_like(ids))
    start = row["prompt_len"] - 1
    targets = ids[0, start + 1 :]
    loss = torch.nn.functional.cross_entropy(logits[0, start:-1], targets, reduction="sum")
    loss.backward()
    for h in handles:
        h.remove()
    model.zero_grad()
    return {name: (a[0].detach(), y.grad[0].detach()) for name, (a, y) in seen.items()}


def ekfac_scores(model, train, queries):
    model = model.double()
    per_train = [example_gradients(model, row) for row in train]
    per_query = [example_gradients(model, row) for row in queries]
    tokens = sum(len(row["input_ids"]) for row in train)
    scores = torch.zeros(len(queries), len(train), dtype=torch.float64)
    for name, _ in tracked_modules(model):
        a_cov = sum(g[name][0].T @ g[name][0] for g in per_train) / tokens
        s_cov = sum(g[name][1].T @ g[name][1] for g in per_train) / tokens
        q_a = torch.linalg.eigh(a_cov).eigenvectors
        q_s = torch.linalg.eigh(s_cov).eigenvectors
        rotated = lambda grads: q_s.T @ (grads[name][1].T @ grads[name][0]) @ q_a  # noqa: E731
        train_rot = [rotated(g) for g in per_train]
        lam = sum(r**2 for r in train_rot) / len(train)
        delta = 0.1 * lam.mean()
        for qi, g in enumerate(per_query):
            preconditioned = rotated(g) / (lam + delta)
            for ni, r in enumerate(train_rot):
                scores[qi, ni] += (preconditioned * r).sum()
    return scores


def export_modern(out, export):
    """Writes <style>.onnx, the data rows and <style>.scores.json into out/modern/."""
    folder = out / "modern"
    folder.mkdir(parents=True, exist_ok=True)
    generator = torch.Generator().manual_seed(20251207)
    train, queries = sequences(generator)
    for name, rows in (("train", train), ("queries", queries)):
        (folder / f"{name}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    for index, style in enumerate(STYLES):
        torch.manual_seed(20251207 + index)
        model = CausalLM(style).eval()
        # Weights at a scale where gradients are not tiny (random init of a 16-wide model is nearly uniform).
        with torch.no_grad():
            for p in model.parameters():
                if p.dim() == 2:
                    p.mul_(2.0 if p.shape[1] == D else 1.0)
        ids = torch.tensor([[5, 6, 7, 8, 9], [10, 11, 12, 0, 0]])
        mask = torch.tensor([[1, 1, 1, 1, 1], [1, 1, 1, 0, 0]])
        seq = {0: "batch_size", 1: "sequence_length"}
        with torch.no_grad():
            export(model, (ids, mask), folder / f"{style}.onnx", ["input_ids", "attention_mask"], ["logits"],
                   {"input_ids": seq, "attention_mask": seq, "logits": seq})
        exported = onnx.load(str(folder / f"{style}.onnx"))
        assert len(exported.graph.value_info) == 0, "the export must carry no value_info"
        scores = ekfac_scores(model, train, queries)
        record = {
            "model": f"{style}.onnx",
            "style": STYLES[style],
            "tracked": [name for name, _ in tracked_modules(model)],
            "settings": "EK-FAC, empirical Fisher, damping 0.1 * mean(Lambda) per layer, summed-loss measurement",
            "scores": scores.tolist(),
        }
        (folder / f"{style}.scores.json").write_text(json.dumps(record, indent=1) + "\n")
        print(style, scores)
