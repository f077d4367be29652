#!/usr/bin/python3
"""The golden fixture for nanolab's GPT: the same tiny GPT in PyTorch, with the same weights.

Builds nanoGPT's architecture exactly as nanolab does (framework/src/model/gpt.cpp with the
causal_mha attention plugin: pre-LayerNorm blocks, q/k/v from one c_attn (3C, C), tanh GELU, tied
head, optional biases, layer-norm eps 1e-5), with random weights from a fixed seed, and writes to
tests/fixtures/golden_gpt.h5, for a model without and one with biases:
  /<variant>/config attrs, /<variant>/weights/<name>, ids, targets (one -1, ignored), logits, loss,
  /<variant>/grads/<name>, and /<variant>/curve: the loss before each of 10 AdamW steps
  (lr 1e-2, betas (0.9, 0.99), eps 1e-8, weight decay 0.1 on >= 2-D parameters only).
tests/integration/golden_test.cpp loads the weights into nanolab and compares every tensor.

Regenerate (python3-torch and python3-h5py from Debian):
  /usr/bin/python3 tools/reference/golden_gpt.py tests/fixtures/golden_gpt.h5
"""
import math
import sys

import h5py
import torch
import torch.nn.functional as F

V, BLOCK, N_LAYER, N_HEAD, N_EMBD = 11, 8, 2, 2, 16
B, T = 3, 8


def make_weights(bias, gen):
    C = N_EMBD
    w = {}

    def normal(name, *shape, std=0.02):
        w[name] = torch.randn(*shape, generator=gen) * std

    def ln(name):
        # Non-trivial gains and shifts, so that a model ignoring them fails the comparison.
        w[name + ".weight"] = 1 + 0.1 * torch.randn(C, generator=gen)
        if bias:
            w[name + ".bias"] = 0.1 * torch.randn(C, generator=gen)

    normal("wte.weight", V, C)
    normal("wpe.weight", BLOCK, C)
    for l in range(N_LAYER):
        h = f"h.{l}."
        ln(h + "ln_1")
        normal(h + "attn.c_attn.weight", 3 * C, C)
        if bias:
            normal(h + "attn.c_attn.bias", 3 * C, std=0.1)
        normal(h + "attn.c_proj.weight", C, C)
        if bias:
            normal(h + "attn.c_proj.bias", C, std=0.1)
        ln(h + "ln_2")
        normal(h + "mlp.c_fc.weight", 4 * C, C)
        if bias:
            normal(h + "mlp.c_fc.bias", 4 * C, std=0.1)
        normal(h + "mlp.c_proj.weight", C, 4 * C)
        if bias:
            normal(h + "mlp.c_proj.bias", C, std=0.1)
    ln("ln_f")
    return {k: v.float().requires_grad_() for k, v in w.items()}


def forward(w, ids, bias):
    C, NH = N_EMBD, N_HEAD
    HS = C // NH
    g = lambda k: w.get(k) if bias else None
    x = w["wte.weight"][ids] + w["wpe.weight"][torch.arange(T)]
    mask = torch.tril(torch.ones(T, T, dtype=torch.bool))
    for l in range(N_LAYER):
        h = f"h.{l}."
        a = F.layer_norm(x, (C,), w[h + "ln_1.weight"], g(h + "ln_1.bias"), 1e-5)
        q, k, v = F.linear(a, w[h + "attn.c_attn.weight"], g(h + "attn.c_attn.bias")).split(C, dim=2)
        q, k, v = (t.view(B, T, NH, HS).transpose(1, 2) for t in (q, k, v))
        att = (q @ k.transpose(-2, -1)) / math.sqrt(HS)
        att = att.masked_fill(~mask, float("-inf")).softmax(dim=-1)
        y = (att @ v).transpose(1, 2).contiguous().view(B, T, C)
        x = x + F.linear(y, w[h + "attn.c_proj.weight"], g(h + "attn.c_proj.bias"))
        m = F.layer_norm(x, (C,), w[h + "ln_2.weight"], g(h + "ln_2.bias"), 1e-5)
        m = F.gelu(F.linear(m, w[h + "mlp.c_fc.weight"], g(h + "mlp.c_fc.bias")), approximate="tanh")
        x = x + F.linear(m, w[h + "mlp.c_proj.weight"], g(h + "mlp.c_proj.bias"))
    x = F.layer_norm(x, (C,), w["ln_f.weight"], g("ln_f.bias"), 1e-5)
    return F.linear(x, w["wte.weight"])


def loss_of(logits, targets):
    return F.cross_entropy(logits.view(-1, V), targets.view(-1), ignore_index=-1)


def variant(out, bias, seed):
    gen = torch.Generator().manual_seed(seed)
    w = make_weights(bias, gen)
    ids = torch.randint(0, V, (B, T), generator=gen)
    targets = torch.randint(0, V, (B, T), generator=gen)
    targets[1, 3] = -1
    grp = out.create_group("bias" if bias else "nobias")
    for k, v in dict(vocab_size=V, block_size=BLOCK, n_layer=N_LAYER, n_head=N_HEAD,
                     n_embd=N_EMBD, bias=int(bias), B=B, T=T).items():
        grp.attrs[k] = v
    for k, v in w.items():
        grp[f"weights/{k}"] = v.detach().numpy()
    grp["ids"] = ids.int().numpy()
    grp["targets"] = targets.int().numpy()
    logits = forward(w, ids, bias)
    loss = loss_of(logits, targets)
    loss.backward()
    grp["logits"] = logits.detach().numpy()
    grp["loss"] = loss.detach().numpy()
    for k, v in w.items():
        grp[f"grads/{k}"] = v.grad.numpy()

    decay = [v for v in w.values() if v.dim() >= 2]
    no_decay = [v for v in w.values() if v.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1},
                             {"params": no_decay, "weight_decay": 0.0}],
                            lr=1e-2, betas=(0.9, 0.99), eps=1e-8)
    curve = []
    for _ in range(10):
        opt.zero_grad()
        loss = loss_of(forward(w, ids, bias), targets)
        curve.append(loss.item())
        loss.backward()
        opt.step()
    grp["curve"] = torch.tensor(curve).numpy()


def main():
    path = sys.argv[1] if len(sys.argv) > 1 else "tests/fixtures/golden_gpt.h5"
    torch.set_num_threads(1)
    with h5py.File(path, "w") as out:
        out.attrs["made_by"] = b"tools/reference/golden_gpt.py"
        out.attrs["torch_version"] = str(torch.__version__).encode()
        variant(out, bias=False, seed=1)
        variant(out, bias=True, seed=2)


if __name__ == "__main__":
    main()
