#!/usr/bin/python3
"""The PyTorch reference for nanolab's speed: the GPT nanolab trains, timed per training iteration.

The model is tools/reference/gpt.py, the same functions the golden test's fixture is made with:
the architecture of framework/src/model/gpt.cpp with the causal_mha attention plugin (token +
position embeddings, pre-LayerNorm blocks, q/k/v from one c_attn (3C, C), scaled causal softmax,
c_proj, MLP C -> 4C -> C with tanh GELU, final layer norm, lm_head tied to wte; biases only when
the configuration has them; dropout at nanolab's sites), with GPT-2's initialisation. AdamW as
gpt.py sets it up (nanolab's adamw plugin: weight decay on >= 2-D parameters only, bias
correction, eps 1e-8); gradients clipped to a global norm of 1.0 as nanolab's trainer does. float32.

One iteration = a random batch of (B, T) ids and targets, zero_grad, forward, cross-entropy,
backward, clip, AdamW step: what nanolab's trainer times as one step. Prints one JSON object:
the configuration, the median (and min, mean) ms per iteration over --iters iterations after
--warmup, peak RSS of this process (resource.getrusage, so torch's own libraries are included, as
nanolab's are in its RSS), the parameter count, and the BLAS library torch has loaded.
--sample instead times generation without a KV cache (nanoGPT's generate: the whole cropped
context through the model for every new token). --matmul prints the GFLOP/s of one square f32
matmul, the check that the OpenMP build of OpenBLAS is in use (the reference BLAS runs ~50x slower).

Not a training script (no data, no evaluation, no checkpoints). The model is the one the tests
compare nanolab with (tools/reference/golden_gpt.py writes their fixture from gpt.py); this script
only times it.

Run it with the OpenMP OpenBLAS (docs/performance.md, /work/shared/STACK.md):
  LD_LIBRARY_PATH=/usr/lib/x86_64-linux-gnu/openblas-openmp OMP_WAIT_POLICY=PASSIVE \
    /usr/bin/python3 tools/bench/reference_gpt.py --config A --threads 2
"""
import argparse
import json
import os
import resource
import statistics
import sys
import time

# The benchmark configurations A, B and C. `bias`, `dropout` and `betas` follow the nanolab
# experiment each is run from (tools/bench/run): A is experiments/shakespeare_char_baby.toml, B is
# experiments/shakespeare_char.toml, C is GPT-2 small (biases, betas of nanoGPT's GPT-2 runs).
CONFIGS = {
    "A": dict(n_layer=4, n_head=4, n_embd=128, block_size=64, batch_size=12, vocab_size=65,
              bias=False, dropout=0.0, betas=(0.9, 0.99), weight_decay=0.1),
    "B": dict(n_layer=6, n_head=6, n_embd=384, block_size=256, batch_size=64, vocab_size=65,
              bias=False, dropout=0.2, betas=(0.9, 0.99), weight_decay=0.1),
    "C": dict(n_layer=12, n_head=12, n_embd=768, block_size=64, batch_size=4, vocab_size=50257,
              bias=True, dropout=0.0, betas=(0.9, 0.95), weight_decay=0.1),
}
LR = 1e-3
GRAD_CLIP = 1.0


def count_params(cfg, with_wpe=True):
    """Parameters of the model, the tied wte/lm_head once; without wpe is nanoGPT's
    get_num_params() count, the N of the usual 6*N*tokens estimate (the position table is a
    lookup, not a matmul; wte is also the lm_head, a matmul, so it stays)."""
    C, L, V, T = cfg["n_embd"], cfg["n_layer"], cfg["vocab_size"], cfg["block_size"]
    b = 1 if cfg["bias"] else 0
    ln = C * (1 + b)
    block = 2 * ln + 3 * C * C + b * 3 * C + C * C + b * C + 4 * C * C + b * 4 * C + 4 * C * C + b * C
    n = V * C + L * block + ln
    return n + (T * C if with_wpe else 0)


def peak_rss_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # Linux gives KiB


def blas_libraries():
    with open("/proc/self/maps") as maps:
        return sorted({line.split()[-1] for line in maps if "blas" in line})


def model_config(cfg, gpt):
    return gpt.Config(cfg["vocab_size"], cfg["block_size"], cfg["n_layer"], cfg["n_head"],
                      cfg["n_embd"], cfg["bias"], cfg["dropout"])


def time_training(cfg, iters, warmup, torch, gpt):
    """Returns the weights (a dict, gpt.py's), the seconds of each timed iteration and every loss."""
    mc = model_config(cfg, gpt)
    w = gpt.make_weights(mc, torch.Generator().manual_seed(1337))  # GPT-2's initialisation
    params = list(w.values())
    opt = gpt.adamw(w, lr=LR, betas=cfg["betas"], weight_decay=cfg["weight_decay"])
    B, T, V = cfg["batch_size"], cfg["block_size"], cfg["vocab_size"]
    gen = torch.Generator().manual_seed(1337)
    times, losses = [], []
    for i in range(warmup + iters):
        t0 = time.perf_counter()
        ids = torch.randint(0, V, (B, T), generator=gen)
        targets = torch.randint(0, V, (B, T), generator=gen)
        opt.zero_grad(set_to_none=False)
        loss = gpt.loss_of(gpt.forward(mc, w, ids, training=True), targets)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, GRAD_CLIP)
        opt.step()
        losses.append(loss.item())
        if i >= warmup:
            times.append(time.perf_counter() - t0)
    return w, times, losses


def time_sampling(cfg, w, tokens, torch, gpt):
    """Tokens/s of nanoGPT's generate (no KV cache): every new token runs the model on the last
    block_size tokens of the context; multinomial draw at temperature 1."""
    mc = model_config(cfg, gpt)
    gen = torch.Generator().manual_seed(1)
    ctx = torch.zeros((1, 1), dtype=torch.long)
    with torch.no_grad():
        t0 = time.perf_counter()
        for _ in range(tokens):
            logits = gpt.forward(mc, w, ctx[:, -cfg["block_size"]:])[:, -1, :]
            nxt = torch.multinomial(torch.softmax(logits, dim=-1), 1, generator=gen)
            ctx = torch.cat([ctx, nxt], dim=1)
        return tokens / (time.perf_counter() - t0)


def matmul_gflops(n, torch):
    a, b = torch.randn(n, n), torch.randn(n, n)
    for _ in range(2):
        a @ b
    ts = []
    for _ in range(7):
        t0 = time.perf_counter()
        a @ b
        ts.append(time.perf_counter() - t0)
    return 2.0 * n ** 3 / statistics.median(ts) * 1e-9


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--config", choices=sorted(CONFIGS), default="A")
    ap.add_argument("--threads", type=int, default=int(os.environ.get("NANOLAB_THREADS", os.cpu_count())))
    ap.add_argument("--iters", type=int, default=50, help="timed iterations")
    ap.add_argument("--warmup", type=int, default=5, help="untimed iterations first")
    ap.add_argument("--sample", type=int, default=0, metavar="TOKENS",
                    help="after training, time the generation of this many tokens")
    ap.add_argument("--matmul", type=int, default=0, metavar="N",
                    help="only time an N x N x N f32 matmul and print its GFLOP/s")
    args = ap.parse_args()

    import torch  # after argparse, so that --help does not pay for loading torch

    sys.dont_write_bytecode = True  # no __pycache__ left in the source tree
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                    "reference"))
    import gpt  # tools/reference/gpt.py; it imports torch, so the runner never loads it

    torch.set_num_threads(args.threads)
    out = {"threads": args.threads, "torch": torch.__version__, "blas": blas_libraries(),
           "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY", "")}
    if args.matmul:
        out.update(matmul_n=args.matmul, matmul_gflops=matmul_gflops(args.matmul, torch),
                   blas=blas_libraries())  # BLAS is loaded lazily: read again after the matmul
        print(json.dumps(out))
        return
    cfg = CONFIGS[args.config]
    w, times, losses = time_training(cfg, args.iters, args.warmup, torch, gpt)
    n = sum(t.numel() for t in w.values())
    if n != count_params(cfg):
        raise SystemExit(f"reference_gpt: the model has {n} parameters, count_params says "
                         f"{count_params(cfg)}: fix one of them")
    out.update(config=args.config, shape=cfg, iters=args.iters, warmup=args.warmup,
               ms_per_iter=1e3 * statistics.median(times), ms_min=1e3 * min(times),
               ms_mean=1e3 * statistics.fmean(times),
               tokens_per_s=cfg["batch_size"] * cfg["block_size"] / statistics.median(times),
               params=n, first_loss=losses[0], last_loss=losses[-1], blas=blas_libraries())
    if args.sample:
        out.update(sample_tokens=args.sample,
                   sample_tokens_per_s=time_sampling(cfg, w, args.sample, torch, gpt))
    out["peak_rss_mb"] = peak_rss_mb()
    print(json.dumps(out))


if __name__ == "__main__":
    main()
