"""Tiny causal LMs written the way current Hugging Face architectures are (module structure and forward code follow
transformers' modeling_qwen2.py, modeling_phi3.py, modeling_gemma2.py, modeling_llama.py (rope_type "llama3"),
modeling_mistral.py, modeling_gpt_neox.py, modeling_opt.py and modeling_gpt2.py; nothing is imported from transformers),
exported with torch.onnx.export (opset 17, no onnx shape inference, so the graphs carry no value_info) in three forms
(as-is; Optimum's with-past signature, <style>-optimum.onnx; Optimum's merged decoder, <style>-merged.onnx), plus
each model's float64 EK-FAC scores with kronfluence semantics, computed here in torch with forward hooks.

Run through scripts/export-test-models.py (`/usr/bin/python3 scripts/export-test-models.py modern` writes only these).

Reference semantics (those of `iwb attribute --strategy ekfac --fisher empirical --measurement summed-loss`, which are
kronfluence's with damping_factor=None):
- an example's loss is the cross-entropy summed over its response targets (position t predicts token t + 1 for
  t = prompt_len - 1 ... len - 2); a query's measurement is the same summed loss;
- tracked layers: the MLP linears (gate_proj, up_proj, down_proj; Phi-3's fused gate_up_proj is one layer; NeoX's
  dense_h_to_4h / dense_4h_to_h, OPT's fc1 / fc2 and GPT-2's mlp.c_fc / mlp.c_proj, whose bias is a column of
  ones appended to the input);
- A = sum over every token of every training sequence of a a^T / token count, S likewise from g = dL/dy (y the
  layer output); A = Q_A diag Q_A^T, S = Q_S diag Q_S^T;
- Lambda = mean over training sequences of (Q_S^T G(n) Q_A)^2 with G(n) = sum_t g_t a_t^T;
- delta = 0.1 * mean(Lambda) per layer; tau(q, n) = sum over layers of
  sum((Q_S^T G(q) Q_A) * (Q_S^T G(n) Q_A) / (Lambda + delta)), positive = n lowers q's loss.
  scores.json keeps the sum (scores) and each layer's own term (layerScores, in the order of tracked).
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
SLIDING_WINDOW = 3


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
    """Rotary embedding of `dim` channels; scaling="llama3" applies LLaMA-3.1's frequency rescaling
    (_compute_llama3_parameters: factor 8, low/high frequency factors 1 and 4; original context 64 here, so that the
    tiny head's two frequencies fall on both sides of it)."""

    def __init__(self, dim=HD, theta=THETA, scaling=None):
        super().__init__()
        inv_freq = 1.0 / (theta ** (torch.arange(0, dim, 2, dtype=torch.int64).float() / dim))
        if scaling == "llama3":
            factor, low_freq_factor, high_freq_factor, old_context_len = 8.0, 1.0, 4.0, 64
            low_freq_wavelen = old_context_len / low_freq_factor
            high_freq_wavelen = old_context_len / high_freq_factor
            wavelen = 2 * math.pi / inv_freq
            inv_freq_llama = torch.where(wavelen > low_freq_wavelen, inv_freq / factor, inv_freq)
            smooth_factor = (old_context_len / wavelen - low_freq_factor) / (high_freq_factor - low_freq_factor)
            smoothed_inv_freq = (1 - smooth_factor) * inv_freq_llama / factor + smooth_factor * inv_freq_llama
            is_medium_freq = ~(wavelen < high_freq_wavelen) * ~(wavelen > low_freq_wavelen)
            inv_freq = torch.where(is_medium_freq, smoothed_inv_freq, inv_freq_llama)
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


CACHE = None  # while a with-past export traces: {"past": [k0, v0, k1, v1, ...], "present": []}


def cached(k, v):
    """The identity in the as-is export (no op is traced, so those files do not change); while WithPast traces, the
    layer's past keys / values are prepended along the sequence axis and the result recorded as its present."""
    if CACHE is None:
        return k, v
    k = torch.cat([CACHE["past"].pop(0), k], dim=2)
    v = torch.cat([CACHE["past"].pop(0), v], dim=2)
    CACHE["present"] += [k, v]
    return k, v


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
        k, v = cached(k, v)
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
        k, v = cached(k, v)
        return self.o_proj(attend(q, k, v, mask))


class Gemma2Attention(Qwen2Attention):
    """Gemma-2: no q/k/v biases, attention-logit soft-capping (50)."""

    softcap = 50.0

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
        k, v = cached(k, v)
        return self.o_proj(attend(q, k, v, mask, softcap=self.softcap))


class LlamaAttention(Gemma2Attention):
    """LLaMA / Mistral: no biases, no soft-capping."""

    softcap = None


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
        attention = {
            "qwen2": Qwen2Attention,
            "phi3": Phi3Attention,
            "gemma2": Gemma2Attention,
            "llama3": LlamaAttention,
            "mistral": LlamaAttention,
        }[style]
        self.self_attn = attention()
        self.mlp = {
            "qwen2": lambda: GatedMLP(torch.nn.functional.silu),
            "phi3": Phi3MLP,
            "gemma2": lambda: GatedMLP(gelu_tanh),
            "llama3": lambda: GatedMLP(torch.nn.functional.silu),
            "mistral": lambda: GatedMLP(torch.nn.functional.silu),
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
        self.rotary_emb = RotaryEmbedding(theta=500000.0, scaling="llama3") if style == "llama3" else RotaryEmbedding()


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
        if self.style == "mistral":  # sliding window: key j is visible from i only when i - j < SLIDING_WINDOW
            too_far = torch.tril(torch.ones(t, t, dtype=x.dtype), diagonal=-SLIDING_WINDOW) > 0
            causal = causal.masked_fill(too_far, MIN)
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

    def forward_with_past(self, input_ids, attention_mask, position_ids, past_len):
        """forward() for Optimum's with-past signature: position_ids given, attention_mask over past + current, the
        causal (and sliding-window) mask offset by past_len; the cache is handled by cached() in the attention."""
        b, t = input_ids.shape
        x = self.model.embed_tokens(input_ids)
        if self.style == "gemma2":
            x = x * torch.tensor(D**0.5, dtype=x.dtype)
        causal = torch.triu(torch.full((t, past_len + t), MIN, dtype=x.dtype), diagonal=past_len + 1)
        if self.style == "mistral":  # query i sits at past_len + i: key j is too far when past_len + i - j >= window
            too_far = torch.tril(torch.ones(t, past_len + t, dtype=x.dtype), diagonal=past_len - SLIDING_WINDOW) > 0
            causal = causal.masked_fill(too_far, MIN)
        mask = causal[None, None, :, :].expand(b, 1, -1, -1).masked_fill(attention_mask[:, None, None, :] == 0, MIN)
        cos, sin = self.model.rotary_emb(x, position_ids)
        for layer in self.model.layers:
            x = layer(x, cos, sin, mask)
        logits = self.lm_head(self.model.norm(x))
        if self.style == "gemma2":
            logits = torch.tanh(logits / 30.0) * 30.0
        return logits


class NeoXAttention(torch.nn.Module):
    """GPTNeoXAttention: fused query_key_value with bias, heads laid out [b, t, H, 3 * HD], partial rotary (the first
    half of each head's channels, rotary_pct 0.5), dense output with bias."""

    def __init__(self):
        super().__init__()
        self.rotary_ndims = HD // 2
        self.query_key_value = torch.nn.Linear(D, 3 * D, bias=True)
        self.dense = torch.nn.Linear(D, D, bias=True)

    def forward(self, x, cos, sin, mask):
        b, t, _ = x.shape
        qkv = self.query_key_value(x).view(b, t, H, 3 * HD)
        q = qkv[..., :HD].permute(0, 2, 1, 3)
        k = qkv[..., HD : 2 * HD].permute(0, 2, 1, 3)
        v = qkv[..., 2 * HD :].permute(0, 2, 1, 3)
        q_rot, q_pass = q[..., : self.rotary_ndims], q[..., self.rotary_ndims :]
        k_rot, k_pass = k[..., : self.rotary_ndims], k[..., self.rotary_ndims :]
        q_rot, k_rot = apply_rotary_pos_emb(q_rot, k_rot, cos, sin)
        q = torch.cat((q_rot, q_pass), dim=-1)
        k = torch.cat((k_rot, k_pass), dim=-1)
        k, v = cached(k, v)
        weights = torch.matmul(q, k.transpose(2, 3)) / math.sqrt(HD) + mask
        weights = torch.nn.functional.softmax(weights, dim=-1, dtype=torch.float32).to(v.dtype)
        out = torch.matmul(weights, v).permute(0, 2, 1, 3).reshape(b, t, D)
        return self.dense(out)


class NeoXMLP(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.dense_h_to_4h = torch.nn.Linear(D, F)
        self.dense_4h_to_h = torch.nn.Linear(F, D)

    def forward(self, x):
        return self.dense_4h_to_h(torch.nn.functional.gelu(self.dense_h_to_4h(x)))


class NeoXLayer(torch.nn.Module):
    """use_parallel_residual: x + attn(ln1(x)) + mlp(ln2(x))."""

    def __init__(self):
        super().__init__()
        self.input_layernorm = torch.nn.LayerNorm(D)
        self.post_attention_layernorm = torch.nn.LayerNorm(D)
        self.attention = NeoXAttention()
        self.mlp = NeoXMLP()

    def forward(self, x, cos, sin, mask):
        return x + self.attention(self.input_layernorm(x), cos, sin, mask) + self.mlp(self.post_attention_layernorm(x))


class NeoXInner(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.embed_in = torch.nn.Embedding(V, D)
        self.layers = torch.nn.ModuleList([NeoXLayer() for _ in range(L)])
        self.final_layer_norm = torch.nn.LayerNorm(D)
        self.rotary_emb = RotaryEmbedding(dim=HD // 2)


class GPTNeoXForCausalLM(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.gpt_neox = NeoXInner()
        self.embed_out = torch.nn.Linear(D, V, bias=False)

    def forward(self, input_ids, attention_mask):
        position_ids = attention_mask.long().cumsum(-1) - 1
        position_ids = position_ids.masked_fill(attention_mask == 0, 1)
        b, t = input_ids.shape
        x = self.gpt_neox.embed_in(input_ids)
        causal = torch.triu(torch.full((t, t), MIN, dtype=x.dtype), diagonal=1)[None, None, :, :].expand(b, 1, -1, -1)
        mask = causal.masked_fill(attention_mask[:, None, None, :] == 0, MIN)
        cos, sin = self.gpt_neox.rotary_emb(x, position_ids)
        for layer in self.gpt_neox.layers:
            x = layer(x, cos, sin, mask)
        return self.embed_out(self.gpt_neox.final_layer_norm(x))

    def forward_with_past(self, input_ids, attention_mask, position_ids, past_len):
        b, t = input_ids.shape
        x = self.gpt_neox.embed_in(input_ids)
        causal = torch.triu(torch.full((t, past_len + t), MIN, dtype=x.dtype), diagonal=past_len + 1)
        mask = causal[None, None, :, :].expand(b, 1, -1, -1).masked_fill(attention_mask[:, None, None, :] == 0, MIN)
        cos, sin = self.gpt_neox.rotary_emb(x, position_ids)
        for layer in self.gpt_neox.layers:
            x = layer(x, cos, sin, mask)
        return self.embed_out(self.gpt_neox.final_layer_norm(x))


class OPTAttention(torch.nn.Module):
    """OPTAttention: q scaled by head_dim^-0.5 before the product, biases everywhere, plain softmax."""

    def __init__(self):
        super().__init__()
        self.q_proj = torch.nn.Linear(D, D)
        self.k_proj = torch.nn.Linear(D, D)
        self.v_proj = torch.nn.Linear(D, D)
        self.out_proj = torch.nn.Linear(D, D)

    def forward(self, x, mask):
        b, t, _ = x.shape
        q = (self.q_proj(x) * HD**-0.5).view(b, t, H, HD).transpose(1, 2)
        k = self.k_proj(x).view(b, t, H, HD).transpose(1, 2)
        v = self.v_proj(x).view(b, t, H, HD).transpose(1, 2)
        k, v = cached(k, v)
        weights = torch.nn.functional.softmax(torch.matmul(q, k.transpose(2, 3)) + mask, dim=-1)
        return self.out_proj(torch.matmul(weights, v).transpose(1, 2).reshape(b, t, D))


class OPTLayer(torch.nn.Module):
    """do_layer_norm_before: pre-LN attention, then fc2(relu(fc1(final_layer_norm(x))))."""

    def __init__(self):
        super().__init__()
        self.self_attn = OPTAttention()
        self.self_attn_layer_norm = torch.nn.LayerNorm(D)
        self.fc1 = torch.nn.Linear(D, F)
        self.fc2 = torch.nn.Linear(F, D)
        self.final_layer_norm = torch.nn.LayerNorm(D)

    def forward(self, x, mask):
        x = x + self.self_attn(self.self_attn_layer_norm(x), mask)
        return x + self.fc2(torch.relu(self.fc1(self.final_layer_norm(x))))


class OPTDecoder(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.embed_tokens = torch.nn.Embedding(V, D)
        self.embed_positions = torch.nn.Embedding(64 + 2, D)  # OPTLearnedPositionalEmbedding: offset 2
        self.layers = torch.nn.ModuleList([OPTLayer() for _ in range(L)])
        self.final_layer_norm = torch.nn.LayerNorm(D)


class OPTInner(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.decoder = OPTDecoder()


class OPTForCausalLM(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.model = OPTInner()
        self.lm_head = torch.nn.Linear(D, V, bias=False)
        self.lm_head.weight = self.model.decoder.embed_tokens.weight

    def forward(self, input_ids, attention_mask):
        decoder = self.model.decoder
        b, t = input_ids.shape
        positions = (torch.cumsum(attention_mask, dim=1).type_as(attention_mask) * attention_mask).long() - 1
        x = decoder.embed_tokens(input_ids) + decoder.embed_positions(positions + 2)
        causal = torch.triu(torch.full((t, t), MIN, dtype=x.dtype), diagonal=1)[None, None, :, :].expand(b, 1, -1, -1)
        mask = causal.masked_fill(attention_mask[:, None, None, :] == 0, MIN)
        for layer in decoder.layers:
            x = layer(x, mask)
        return self.lm_head(decoder.final_layer_norm(x))

    def forward_with_past(self, input_ids, attention_mask, position_ids, past_len):
        """Optimum's OPT signature has no position_ids: positions come from the whole mask, the current ones kept."""
        decoder = self.model.decoder
        b, t = input_ids.shape
        positions = (torch.cumsum(attention_mask, dim=1).type_as(attention_mask) * attention_mask).long() - 1
        positions = positions[:, past_len:]
        x = decoder.embed_tokens(input_ids) + decoder.embed_positions(positions + 2)
        causal = torch.triu(torch.full((t, past_len + t), MIN, dtype=x.dtype), diagonal=past_len + 1)
        mask = causal[None, None, :, :].expand(b, 1, -1, -1).masked_fill(attention_mask[:, None, None, :] == 0, MIN)
        for layer in decoder.layers:
            x = layer(x, mask)
        return self.lm_head(decoder.final_layer_norm(x))


class Conv1D(torch.nn.Module):
    """transformers.pytorch_utils.Conv1D (GPT-2's linears): weight [d_in, d_out],
    y = addmm(bias, x.view(-1, d_in), weight).view(..., d_out) -- torch.onnx writes it as a Gemm on flattened rows."""

    def __init__(self, nf, nx):
        super().__init__()
        self.nf = nf
        self.weight = torch.nn.Parameter(0.5 * torch.randn(nx, nf))
        self.bias = torch.nn.Parameter(0.1 * torch.randn(nf))

    def forward(self, x):
        size_out = x.size()[:-1] + (self.nf,)
        return torch.addmm(self.bias, x.view(-1, x.size(-1)), self.weight).view(size_out)


def gelu_new(x):
    """GPT-2's activation ("gelu_new", the tanh approximation written out)."""
    return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * torch.pow(x, 3.0))))


GPT2_POSITIONS = 64


class GPT2Attention(torch.nn.Module):
    """GPT2Attention (eager): fused c_attn split in three, heads by view + transpose, scores / sqrt(head_dim), causal
    mask by torch.where over the registered tril `bias` buffer sliced at [key_len - query_len : key_len, :key_len],
    then the additive padding mask, softmax, c_proj."""

    def __init__(self):
        super().__init__()
        self.register_buffer(
            "bias",
            torch.tril(torch.ones(GPT2_POSITIONS, GPT2_POSITIONS, dtype=torch.bool)).view(1, 1, GPT2_POSITIONS, -1),
            persistent=False,
        )
        self.c_attn = Conv1D(3 * D, D)
        self.c_proj = Conv1D(D, D)

    def forward(self, x, mask):
        q, k, v = self.c_attn(x).split(D, dim=2)
        shape = (*x.shape[:-1], -1, HD)
        q, k, v = (t.view(shape).transpose(1, 2) for t in (q, k, v))
        k, v = cached(k, v)
        weights = torch.matmul(q, k.transpose(-1, -2)) / torch.full([], v.size(-1) ** 0.5, dtype=q.dtype)
        query_length, key_length = q.size(-2), k.size(-2)
        causal = self.bias[:, :, key_length - query_length : key_length, :key_length]
        weights = torch.where(causal, weights, torch.full([], torch.finfo(weights.dtype).min, dtype=weights.dtype))
        weights = torch.nn.functional.softmax(weights + mask, dim=-1).type(v.dtype)
        out = torch.matmul(weights, v).transpose(1, 2).contiguous()
        return self.c_proj(out.reshape(*out.shape[:-2], -1))


class GPT2MLP(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.c_fc = Conv1D(F, D)
        self.c_proj = Conv1D(D, F)

    def forward(self, x):
        return self.c_proj(gelu_new(self.c_fc(x)))


class GPT2Block(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.ln_1 = torch.nn.LayerNorm(D, eps=1e-5)
        self.attn = GPT2Attention()
        self.ln_2 = torch.nn.LayerNorm(D, eps=1e-5)
        self.mlp = GPT2MLP()

    def forward(self, x, mask):
        x = x + self.attn(self.ln_1(x), mask)
        return x + self.mlp(self.ln_2(x))


class GPT2Model(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.wte = torch.nn.Embedding(V, D)
        self.wpe = torch.nn.Embedding(GPT2_POSITIONS, D)
        self.h = torch.nn.ModuleList([GPT2Block() for _ in range(L)])
        self.ln_f = torch.nn.LayerNorm(D, eps=1e-5)


class GPT2LMHeadModel(torch.nn.Module):
    """GPT2LMHeadModel: learned absolute positions (no offset), post-embedding sum, pre-LN blocks with Conv1D linears,
    gelu_new MLP c_fc / c_proj with biases, final ln_f, lm_head tied to wte. The padding mask is GPT-2's own:
    (1 - mask[:, None, None, :]) * finfo.min, added after the causal where."""

    def __init__(self):
        super().__init__()
        self.transformer = GPT2Model()
        self.lm_head = torch.nn.Linear(D, V, bias=False)
        self.lm_head.weight = self.transformer.wte.weight

    def run(self, input_ids, attention_mask, position_ids):
        t = self.transformer
        x = t.wte(input_ids) + t.wpe(position_ids)
        mask = (1.0 - attention_mask[:, None, None, :].to(x.dtype)) * torch.finfo(x.dtype).min
        for block in t.h:
            x = block(x, mask)
        return self.lm_head(t.ln_f(x))

    def forward(self, input_ids, attention_mask):
        # As GPT2's prepare_inputs_for_generation makes them: cumsum(mask) - 1, padding at 1.
        position_ids = attention_mask.long().cumsum(-1) - 1
        position_ids = position_ids.masked_fill(attention_mask == 0, 1)
        return self.run(input_ids, attention_mask, position_ids)

    def forward_with_past(self, input_ids, attention_mask, position_ids, past_len):
        """The cache through cached() in each attention; the causal slice of `bias` already offsets by past_len."""
        return self.run(input_ids, attention_mask, position_ids)


class WithPast(torch.nn.Module):
    """Any of the models in Optimum's text-generation-with-past signature (as Qwen2WithPast, but through the model's
    own layers: cached() in each attention prepends the past and collects the presents). OPT takes no position_ids."""

    def __init__(self, inner, positions=True):
        super().__init__()
        self.inner = inner
        self.positions = positions

    def forward(self, input_ids, attention_mask, *rest):
        global CACHE
        position_ids, past = (rest[0], list(rest[1:])) if self.positions else (None, list(rest))
        CACHE = {"past": past, "present": []}
        try:
            logits = self.inner.forward_with_past(input_ids, attention_mask, position_ids, past[0].shape[2])
            return (logits, *CACHE["present"])
        finally:
            CACHE = None


class NoPast(torch.nn.Module):
    """Optimum's decoder_model.onnx for WithPast: no cache in, the cache out (the with-past forward, empty past)."""

    def __init__(self, with_past, heads):
        super().__init__()
        self.with_past = with_past
        self.heads = heads

    def forward(self, input_ids, *rest):
        empty = torch.zeros(input_ids.shape[0], self.heads, 0, HD)
        return self.with_past(input_ids, *rest, *[empty for _ in range(2 * L)])


class Qwen2WithPast(torch.nn.Module):
    """The Qwen2-style model in Optimum's text-generation-with-past signature: inputs input_ids, attention_mask (past +
    current), position_ids, past_key_values.N.key/value [batch, 2, past, 4]; outputs logits, present.N.key/value. The
    layers' own submodules run (the same weights), with each layer's keys and values appended to its past."""

    def __init__(self, inner):
        super().__init__()
        self.inner = inner

    def forward(self, input_ids, attention_mask, position_ids, *past_flat):
        m = self.inner
        b, t = input_ids.shape
        x = m.model.embed_tokens(input_ids)
        past_len = past_flat[0].shape[2]
        causal = torch.triu(torch.full((t, past_len + t), MIN, dtype=x.dtype), diagonal=past_len + 1)
        mask = causal[None, None, :, :].expand(b, 1, -1, -1).masked_fill(attention_mask[:, None, None, :] == 0, MIN)
        cos, sin = m.model.rotary_emb(x, position_ids)
        presents = []
        for i, layer in enumerate(m.model.layers):
            attn = layer.self_attn
            h = layer.input_layernorm(x)
            q = attn.q_proj(h).view(b, t, -1, HD).transpose(1, 2)
            k = attn.k_proj(h).view(b, t, -1, HD).transpose(1, 2)
            v = attn.v_proj(h).view(b, t, -1, HD).transpose(1, 2)
            q, k = apply_rotary_pos_emb(q, k, cos, sin)
            k = torch.cat([past_flat[2 * i], k], dim=2)
            v = torch.cat([past_flat[2 * i + 1], v], dim=2)
            presents += [k, v]
            x = x + attn.o_proj(attend(q, k, v, mask))
            x = x + layer.mlp(layer.post_attention_layernorm(x))
        return (m.lm_head(m.model.norm(x)), *presents)


def export_with_past(model, style, folder, export):
    """<style>-optimum.onnx (with past) and <style>-merged.onnx (Optimum's merged decoder): the same weights as
    <style>.onnx, so the same reference scores (the cache is fed empty, the merged file's no-cache branch taken).
    Qwen2 keeps its own wrapper (Qwen2WithPast, written first); the others go through WithPast / cached()."""
    past_len, b, t = 3, 2, 5
    heads = H if style in ("gptneox", "opt", "gpt2") else KV  # NeoX, OPT and GPT-2 have no grouped-query attention
    positions = style != "opt"  # Optimum's OPT export takes no position_ids
    ids = torch.tensor([[5, 6, 7, 8, 9], [10, 11, 12, 0, 0]])
    mask = torch.ones(b, past_len + t, dtype=torch.long)
    position_ids = torch.arange(past_len, past_len + t)[None].repeat(b, 1)
    past = [torch.randn(b, heads, past_len, HD) for _ in range(2 * L)]
    past_names = [f"past_key_values.{i}.{kv}" for i in range(L) for kv in ("key", "value")]
    present_names = [f"present.{i}.{kv}" for i in range(L) for kv in ("key", "value")]
    seq = {0: "batch_size", 1: "sequence_length"}
    total = "past_sequence_length + sequence_length"
    axes = {
        "input_ids": seq,
        "attention_mask": {0: "batch_size", 1: total},
        **({"position_ids": seq} if positions else {}),
        "logits": seq,
        **{n: {0: "batch_size", 2: "past_sequence_length"} for n in past_names},
        **{n: {0: "batch_size", 2: total} for n in present_names},
    }
    first = ["input_ids", "attention_mask", *(["position_ids"] if positions else [])]
    if style == "qwen2":
        with_past, no_past = Qwen2WithPast(model), Qwen2NoPast(model)
    else:
        with_past = WithPast(model, positions)
        no_past = NoPast(with_past, heads)
    with_past_file = folder / f"{style}-optimum.onnx"
    with torch.no_grad():
        export(with_past, (ids, mask, *([position_ids] if positions else []), *past), with_past_file,
               [*first, *past_names], ["logits", *present_names], axes)
        no_past_axes = {k: v for k, v in axes.items() if not k.startswith("past")}
        no_past_axes["attention_mask"] = seq
        no_past_axes.update({n: {0: "batch_size", 2: "sequence_length"} for n in present_names})
        no_past_file = folder / f"{style}-no-past.onnx"
        no_past_positions = [torch.arange(t)[None].repeat(b, 1)] if positions else []
        no_past_args = (ids, torch.ones(b, t, dtype=torch.long), *no_past_positions)
        export(no_past, no_past_args, no_past_file, first, ["logits", *present_names], no_past_axes)
        check_cache(model, with_past, no_past, positions)
    merged = merged_decoder(onnx.load(str(with_past_file)), onnx.load(str(no_past_file)))
    no_past_file.unlink()
    onnx.save(merged, str(folder / f"{style}-merged.onnx"))


def check_cache(model, with_past, no_past, positions):
    """The wrappers must compute the model's function with a real cache too (the tests feed only an empty one): a
    3-token prefix through no_past, then the remaining 4 tokens through with_past on its presents, must give the
    as-is forward's logits of those 4 tokens."""
    ids = torch.tensor([[5, 6, 7, 8, 9, 10, 11], [12, 13, 14, 15, 16, 17, 18]])
    b, t, cut = ids.shape[0], ids.shape[1], 3
    full = model(ids, torch.ones_like(ids))
    pos = torch.arange(t)[None].repeat(b, 1)
    head = no_past(ids[:, :cut], torch.ones(b, cut, dtype=torch.long), *([pos[:, :cut]] if positions else []))
    tail_positions = [pos[:, cut:]] if positions else []
    tail = with_past(ids[:, cut:], torch.ones(b, t, dtype=torch.long), *tail_positions, *head[1:])
    worst = (tail[0] - full[:, cut:]).abs().max()
    assert torch.allclose(tail[0], full[:, cut:], atol=1e-5), f"with-past logits differ by {worst}"


class Qwen2NoPast(torch.nn.Module):
    """Optimum's decoder_model.onnx: no cache in, the cache out (the with-past forward on an empty past)."""

    def __init__(self, inner):
        super().__init__()
        self.with_past = Qwen2WithPast(inner)

    def forward(self, input_ids, attention_mask, position_ids):
        empty = torch.zeros(input_ids.shape[0], KV, 0, HD)
        return self.with_past(input_ids, attention_mask, position_ids, *[empty for _ in range(2 * L)])


def merged_decoder(with_past, no_past):
    """Optimum's decoder_model_merged.onnx layout: the with-past inputs plus a bool `use_cache_branch`, and one If whose
    then_branch is the with-past graph and else_branch the no-past one (each branch's values prefixed so the two never
    share a name; the branches read the graph's inputs from the outer scope)."""
    outer_inputs = {i.name for i in with_past.graph.input}

    def branch(model, prefix):
        graph = onnx.GraphProto()
        graph.CopyFrom(model.graph)
        rename = lambda n: n if (n == "" or n in outer_inputs) else prefix + n  # noqa: E731
        for node in graph.node:
            node.input[:] = [rename(n) for n in node.input]
            node.output[:] = [rename(n) for n in node.output]
        for tensor in graph.initializer:
            tensor.name = rename(tensor.name)
        for info in list(graph.output) + list(graph.value_info):
            info.name = rename(info.name)
        del graph.input[:]
        graph.name = prefix.strip("/")
        return graph

    then_branch = branch(with_past, "with_past/")
    else_branch = branch(no_past, "no_past/")
    outputs = [o.name for o in with_past.graph.output]
    node = onnx.helper.make_node("If", ["use_cache_branch"], outputs, name="optimum::if",
                                 then_branch=then_branch, else_branch=else_branch)
    flag = onnx.helper.make_tensor_value_info("use_cache_branch", onnx.TensorProto.BOOL, [1])
    graph = onnx.helper.make_graph([node], "main_graph", list(with_past.graph.input) + [flag],
                                   list(with_past.graph.output))
    model = onnx.helper.make_model(graph, opset_imports=with_past.opset_import, producer_name="pytorch")
    model.ir_version = with_past.ir_version
    onnx.checker.check_model(model)
    return model


def build(style):
    if style == "gptneox":
        return GPTNeoXForCausalLM()
    if style == "opt":
        return OPTForCausalLM()
    if style == "gpt2":
        return GPT2LMHeadModel()
    return CausalLM(style)


STYLES = {
    "qwen2": "Qwen2-style: RMSNorm, rotary embeddings (position ids = cumsum(mask) - 1), grouped-query attention "
    "(4 query heads, 2 key/value heads), q/k/v biases, softmax in float32 between two Casts, SwiGLU MLP, tied embeddings",
    "phi3": "Phi-3-style: fused qkv_proj and gate_up_proj (chunked in two), RMSNorm, rotary embeddings, GQA, untied lm_head",
    "gemma2": "Gemma-2-style: embeddings scaled by sqrt(d), RMSNorm (1 + w) in float32 with sandwich norms, GeGLU-tanh MLP, "
    "attention-logit (50) and final-logit (30) soft-capping, tied embeddings",
    "llama3": "LLaMA-3-style: rotary scaling 'llama3' (theta 500000), GQA, no biases, SwiGLU MLP, untied lm_head",
    "mistral": f"Mistral-style: LLaMA layers with a sliding-window causal mask (window {SLIDING_WINDOW})",
    "gptneox": "GPT-NeoX/Pythia-style: parallel residual, partial rotary (half of each head), fused query_key_value, "
    "LayerNorm, MLP dense_h_to_4h / dense_4h_to_h with biases and exact GELU, untied embed_out",
    "opt": "OPT-style: learned positions with offset 2, pre-LayerNorm, biases everywhere, ReLU MLP fc1 / fc2, tied lm_head",
    "gpt2": "GPT-2-style: Conv1D linears (addmm on flattened rows, exported as Gemm), fused c_attn, causal mask by where "
    "over a tril buffer, learned positions, gelu_new MLP c_fc / c_proj with biases, tied lm_head",
}


def sequences(generator):
    """Pre-tokenized rows of different lengths (so a batch is padded): 4 training rows, 2 queries."""

    def row(i, kind):
        length = int(torch.randint(6, 11, (1,), generator=generator))
        ids = torch.randint(3, V, (length,), generator=generator).tolist()
        return {"id": f"{kind}-{i}", "input_ids": ids, "prompt_len": int(torch.randint(1, 4, (1,), generator=generator))}

    return [row(i, "train") for i in range(4)], [row(i, "query") for i in range(2)]


MLP_LINEARS = {"gate_proj", "up_proj", "down_proj", "gate_up_proj", "dense_h_to_4h", "dense_4h_to_h", "fc1", "fc2"}
GPT2_MLP = ("mlp.c_fc", "mlp.c_proj")  # GPT-2's attention has a c_proj too: only the MLP's are tracked


def tracked_modules(model):
    return [
        (name, m)
        for name, m in model.named_modules()
        if (isinstance(m, torch.nn.Linear) and name.rsplit(".", 1)[-1] in MLP_LINEARS)
        or (isinstance(m, Conv1D) and name.endswith(GPT2_MLP))
    ]


def node_name(module):
    """torch.onnx (1.13) names a node by the chain of modules whose forward ran: these models call their layers from
    the top-level forward, so the path starts at the layer list, indices kept:
    model.decoder.layers.0.fc1 -> /layers.0/fc1/MatMul; GPT-2's block list is `h` and its Conv1D an addmm, a Gemm:
    transformer.h.0.mlp.c_fc -> /h.0/mlp/c_fc/Gemm."""
    parts = []
    names = module.split(".")
    start = names.index("layers") if "layers" in names else names.index("h")
    for part in names[start:]:
        if part.isdigit():
            parts[-1] += "." + part
        else:
            parts.append(part)
    return "/" + "/".join(parts) + ("/Gemm" if names[start] == "h" else "/MatMul")


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
    # A layer with a bias gets a column of ones appended to its input (kronfluence's bias handling).
    biased = {name for name, m in modules if m.bias is not None}
    out = {}
    for name, (a, y) in seen.items():
        a = a[0].detach()
        if name in biased:
            a = torch.cat([a, torch.ones(a.shape[0], 1, dtype=a.dtype)], dim=1)
        out[name] = (a, y.grad[0].detach())
    return out


def ekfac_scores(model, train, queries):
    model = model.double()
    per_train = [example_gradients(model, row) for row in train]
    per_query = [example_gradients(model, row) for row in queries]
    tokens = sum(len(row["input_ids"]) for row in train)
    scores = torch.zeros(len(queries), len(train), dtype=torch.float64)
    per_layer = []  # each tracked layer's own tau (the damping is per layer, so a run tracking that layer alone gets it)
    for name, _ in tracked_modules(model):
        layer = torch.zeros(len(queries), len(train), dtype=torch.float64)
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
                layer[qi, ni] = (preconditioned * r).sum()
        scores += layer
        per_layer.append(layer)
    return scores, per_layer


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
        model = build(style).eval()
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
        export_with_past(model, style, folder, export)
        exported = onnx.load(str(folder / f"{style}.onnx"))
        assert len(exported.graph.value_info) == 0, "the export must carry no value_info"
        scores, per_layer = ekfac_scores(model, train, queries)
        record = {
            "model": f"{style}.onnx",
            "style": STYLES[style],
            "tracked": [name for name, _ in tracked_modules(model)],
            "trackedNodes": [node_name(name) for name, _ in tracked_modules(model)],
            "settings": "EK-FAC, empirical Fisher, damping 0.1 * mean(Lambda) per layer, summed-loss measurement",
            "scores": scores.tolist(),
            "layerScores": [layer.tolist() for layer in per_layer],
        }
        (folder / f"{style}.scores.json").write_text(json.dumps(record, indent=1) + "\n")
        print(style, scores)
