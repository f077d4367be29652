"""nanolab's GPT in PyTorch: the reference the golden test and the speed benchmark compare with.

Exactly the architecture of framework/src/model/gpt.cpp with the causal_mha attention plugin:
token + learned position embeddings, pre-LayerNorm blocks (q, k, v from one c_attn (3C, C) split in
that order, scaled causal softmax, c_proj; MLP c_fc 4C wide, tanh GELU, c_proj), ln_f, the head tied
to wte, biases only with `bias`, layer-norm eps 1e-5, and when training with `dropout` > 0,
dropout at nanolab's sites (embeddings, attention weights, attention output, MLP output; PyTorch's
masks, not nanolab's: a training run with dropout matches nanolab in distribution, not in value).
Weights live in a dict keyed by nanolab's parameter names, so they can be written to and read from
nanolab's files as they are.
"""
import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F


@dataclass
class Config:
    vocab_size: int
    block_size: int
    n_layer: int
    n_head: int
    n_embd: int
    bias: bool
    dropout: float = 0.0


def make_weights(cfg, gen, ln_noise=0.0, linear_gain=1.0):
    """GPT-2's initialisation; ln_noise > 0 perturbs the layer norms so a test sees them used, and
    linear_gain > 1 widens the std of the linear layers (not the embeddings) so that GELU and the
    attention softmax work away from their nearly linear region around 0."""
    C = cfg.n_embd
    std_linear = 0.02 * linear_gain
    std_residual = std_linear / math.sqrt(2 * cfg.n_layer)
    w = {}

    def normal(name, *shape, std=0.02):
        w[name] = torch.randn(*shape, generator=gen) * std

    def bias(name, n):
        if cfg.bias:
            w[name] = torch.randn(n, generator=gen) * ln_noise

    def ln(name):
        w[name + ".weight"] = 1 + ln_noise * torch.randn(C, generator=gen)
        bias(name + ".bias", C)

    normal("wte.weight", cfg.vocab_size, C)
    normal("wpe.weight", cfg.block_size, C)
    for l in range(cfg.n_layer):
        h = f"h.{l}."
        ln(h + "ln_1")
        normal(h + "attn.c_attn.weight", 3 * C, C, std=std_linear)
        bias(h + "attn.c_attn.bias", 3 * C)
        normal(h + "attn.c_proj.weight", C, C, std=std_residual)
        bias(h + "attn.c_proj.bias", C)
        ln(h + "ln_2")
        normal(h + "mlp.c_fc.weight", 4 * C, C, std=std_linear)
        bias(h + "mlp.c_fc.bias", 4 * C)
        normal(h + "mlp.c_proj.weight", C, 4 * C, std=std_residual)
        bias(h + "mlp.c_proj.bias", C)
    ln("ln_f")
    return {k: v.float().requires_grad_() for k, v in w.items()}


def forward(cfg, w, ids, training=False):
    """ids (B, T) -> logits (B, T, V); dropout only when training (and cfg.dropout > 0)."""
    B, T = ids.shape
    C, NH = cfg.n_embd, cfg.n_head
    HS = C // NH
    g = w.get  # None for the biases of a model without them
    p = cfg.dropout if training else 0.0

    def drop(t):  # no call at all without dropout, so that nothing else changes
        return F.dropout(t, p) if p > 0 else t

    x = drop(w["wte.weight"][ids] + w["wpe.weight"][torch.arange(T)])
    mask = torch.tril(torch.ones(T, T, dtype=torch.bool))
    for l in range(cfg.n_layer):
        h = f"h.{l}."
        a = F.layer_norm(x, (C,), w[h + "ln_1.weight"], g(h + "ln_1.bias"), 1e-5)
        q, k, v = F.linear(a, w[h + "attn.c_attn.weight"], g(h + "attn.c_attn.bias")).split(C, dim=2)
        q, k, v = (t.view(B, T, NH, HS).transpose(1, 2) for t in (q, k, v))
        att = (q @ k.transpose(-2, -1)) / math.sqrt(HS)
        att = drop(att.masked_fill(~mask, float("-inf")).softmax(dim=-1))
        y = (att @ v).transpose(1, 2).contiguous().view(B, T, C)
        x = x + drop(F.linear(y, w[h + "attn.c_proj.weight"], g(h + "attn.c_proj.bias")))
        m = F.layer_norm(x, (C,), w[h + "ln_2.weight"], g(h + "ln_2.bias"), 1e-5)
        m = F.gelu(F.linear(m, w[h + "mlp.c_fc.weight"], g(h + "mlp.c_fc.bias")), approximate="tanh")
        x = x + drop(F.linear(m, w[h + "mlp.c_proj.weight"], g(h + "mlp.c_proj.bias")))
    x = F.layer_norm(x, (C,), w["ln_f.weight"], g("ln_f.bias"), 1e-5)
    return F.linear(x, w["wte.weight"])


def loss_of(logits, targets):
    return F.cross_entropy(logits.view(-1, logits.size(-1)), targets.view(-1), ignore_index=-1)


def adamw(w, lr, betas, weight_decay, eps=1e-8):
    """AdamW as nanoGPT configures it: weight decay only on parameters of 2+ dims. PyTorch 1.13's
    default is the per-tensor loop (foreach=False)."""
    decay = [v for v in w.values() if v.dim() >= 2]
    no_decay = [v for v in w.values() if v.dim() < 2]
    return torch.optim.AdamW([{"params": decay, "weight_decay": weight_decay},
                              {"params": no_decay, "weight_decay": 0.0}],
                             lr=lr, betas=betas, eps=eps)
