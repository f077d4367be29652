#!/usr/bin/python3
"""GPT-2 weight files made from the PyTorch reference model (gpt.py), for nanolab's import tests.

Builds a GPT-2-shaped model with random weights from a fixed seed (biases, tanh GELU, tied head:
gpt.py's forward) and writes, into OUT_DIR:
  model.safetensors  Hugging Face's layout: GPT2Model's names ("h.0.attn.c_attn.weight"), Conv1D
                     weights stored (in, out) (the transpose of nanolab's x·Wᵀ layout), the causal
                     mask buffers "h.<l>.attn.bias" (1, 1, T, T) that GPT-2's own file carries, and
                     metadata {"format": "pt"} only (no n_head: that is in config.json). Tensors in
                     name order, as Hugging Face writes them.
  config.json        Hugging Face's GPT2Config of the model (n_head, activation gelu_new, ...).
  gpt2.bin           llm.c's format (train_gpt2.py's write_model, float32): a 256-int header
                     (magic 20240326, version 3, maxT, V, L, NH, C, padded V), then every parameter
                     in llm.c's order, wte padded with zero rows to a multiple of 128.
  reference.h5       attrs (the shape), ids (B, T) int32 and the logits (B, T, V) float32 of
                     gpt.py's forward for those ids.
The small shape (the default) is the committed fixture tests/fixtures/gpt2/; the same command
writes the same bytes again. --shape 124M writes GPT-2 small's shape (about 500 MB a file) for the
benchmark (tools/bench/gpt2_io.cpp), never committed.

Regenerate (python3-torch, python3-numpy and python3-h5py from Debian):
  /usr/bin/python3 tools/reference/gpt2_files.py tests/fixtures/gpt2
  /usr/bin/python3 tools/reference/gpt2_files.py --shape 124M /tmp/gpt2-124M
"""
import argparse
import json
import os
import struct
import sys

import h5py
import numpy as np
import torch

sys.dont_write_bytecode = True  # no __pycache__ left in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gpt import Config, forward, make_weights  # noqa: E402

# name: (vocab_size, block_size, n_layer, n_head, n_embd, B, T of the reference input, seed,
# linear_gain, ln_noise). The small model widens its linear layers and perturbs its layer norms as
# golden_gpt.py does, so that a wrong transpose, a swapped q/k/v or a dropped bias moves its logits
# far past the test's tolerance; 124M keeps GPT-2's own initialisation.
SHAPES = {
    "small": (96, 16, 2, 2, 32, 2, 16, 7, 8.0, 0.1),
    "124M": (50257, 1024, 12, 12, 768, 1, 64, 124, 1.0, 0.0),
}

# Weights that GPT-2's Conv1D keeps (in, out); nanolab, PyTorch's Linear and llm.c keep (out, in).
CONV1D = ("attn.c_attn.weight", "attn.c_proj.weight", "mlp.c_fc.weight", "mlp.c_proj.weight")
# llm.c's parameter order: wte, wpe, then each of these for every layer in turn, then ln_f.
LLMC_LAYER_ORDER = ("ln_1.weight", "ln_1.bias", "attn.c_attn.weight", "attn.c_attn.bias",
                    "attn.c_proj.weight", "attn.c_proj.bias", "ln_2.weight", "ln_2.bias",
                    "mlp.c_fc.weight", "mlp.c_fc.bias", "mlp.c_proj.weight", "mlp.c_proj.bias")
LLMC_MAGIC, LLMC_VERSION = 20240326, 3


def f32(t):
    return np.ascontiguousarray(t.detach().numpy().astype("<f4"))


def write_safetensors(path, tensors, metadata):
    """tensors: name -> little-endian float32 array, written in that order."""
    header = {"__metadata__": metadata}
    offset = 0
    for name, a in tensors.items():
        header[name] = {"dtype": "F32", "shape": list(a.shape), "data_offsets": [offset, offset + a.nbytes]}
        offset += a.nbytes
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)  # the data starts 8-byte aligned, as the safetensors library pads
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for a in tensors.values():
            f.write(a.tobytes())


def hf_tensors(cfg, w):
    T = cfg.block_size
    out = {}
    for name, t in w.items():
        out[name] = f32(t.t() if name.endswith(CONV1D) else t)
    mask = np.tril(np.ones((T, T), dtype="<f4")).reshape(1, 1, T, T)
    for l in range(cfg.n_layer):
        out[f"h.{l}.attn.bias"] = mask
    return dict(sorted(out.items()))


def hf_config(cfg):
    return {
        "activation_function": "gelu_new",
        "architectures": ["GPT2LMHeadModel"],
        "attn_pdrop": 0.0,
        "embd_pdrop": 0.0,
        "initializer_range": 0.02,
        "layer_norm_epsilon": 1e-05,
        "model_type": "gpt2",
        "n_ctx": cfg.block_size,
        "n_embd": cfg.n_embd,
        "n_head": cfg.n_head,
        "n_layer": cfg.n_layer,
        "n_positions": cfg.block_size,
        "resid_pdrop": 0.0,
        "tie_word_embeddings": True,
        "vocab_size": cfg.vocab_size,
    }


def write_llmc(path, cfg, w):
    V, C = cfg.vocab_size, cfg.n_embd
    Vp = (V + 127) // 128 * 128
    header = np.zeros(256, dtype="<i4")
    header[:8] = [LLMC_MAGIC, LLMC_VERSION, cfg.block_size, V, cfg.n_layer, cfg.n_head, C, Vp]
    wte = np.zeros((Vp, C), dtype="<f4")
    wte[:V] = f32(w["wte.weight"])
    with open(path, "wb") as f:
        f.write(header.tobytes())
        f.write(wte.tobytes())
        f.write(f32(w["wpe.weight"]).tobytes())
        for kind in LLMC_LAYER_ORDER:
            for l in range(cfg.n_layer):
                f.write(f32(w[f"h.{l}.{kind}"]).tobytes())
        f.write(f32(w["ln_f.weight"]).tobytes())
        f.write(f32(w["ln_f.bias"]).tobytes())


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("out_dir")
    parser.add_argument("--shape", choices=sorted(SHAPES), default="small")
    args = parser.parse_args()
    V, block, n_layer, n_head, n_embd, B, T, seed, gain, ln_noise = SHAPES[args.shape]
    torch.set_num_threads(1 if args.shape == "small" else os.cpu_count())
    os.makedirs(args.out_dir, exist_ok=True)
    gen = torch.Generator().manual_seed(seed)
    cfg = Config(V, block, n_layer, n_head, n_embd, True)
    w = make_weights(cfg, gen, ln_noise=ln_noise, linear_gain=gain)
    ids = torch.randint(0, V, (B, T), generator=gen)
    with torch.no_grad():
        logits = forward(cfg, w, ids)

    write_safetensors(os.path.join(args.out_dir, "model.safetensors"), hf_tensors(cfg, w),
                      {"format": "pt"})
    with open(os.path.join(args.out_dir, "config.json"), "w") as f:
        json.dump(hf_config(cfg), f, indent=2, sort_keys=True)
        f.write("\n")
    write_llmc(os.path.join(args.out_dir, "gpt2.bin"), cfg, w)
    with h5py.File(os.path.join(args.out_dir, "reference.h5"), "w") as out:
        out.attrs["made_by"] = b"tools/reference/gpt2_files.py"
        for k, v in dict(vocab_size=V, block_size=block, n_layer=n_layer, n_head=n_head,
                         n_embd=n_embd, B=B, T=T).items():
            out.attrs[k] = v
        out["ids"] = ids.int().numpy()
        out["logits"] = f32(logits)


if __name__ == "__main__":
    main()
