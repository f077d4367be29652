#!/usr/bin/env python3
"""Writes the seed corpora of the gpt2_weights and gpt2_tokenizer fuzz targets (tests/fuzz).

gpt2_weights: a GPT-2 of V=8, maxT=4, 1 layer, 1 head, n_embd 4 with small random weights, as
Hugging Face's model.safetensors (first byte 0) and as llm.c's version 3 file (first byte 1).
gpt2_tokenizer: GPT-2's byte alphabet, four merges making "hello" and <|endoftext|>, as
encoder.json and vocab.bpe behind their 2-byte length; and the same with vocab.bpe cut to one
merge. Run from the repository root: python3 tests/fuzz/make_gpt2_seeds.py
"""
import json
import random
import struct

V, T, L, NH, C = 8, 4, 1, 1, 4
rng = random.Random(1)


def floats(n):
    return [round(rng.uniform(-1, 1), 3) for _ in range(n)]


# (name, nanolab shape, stored transposed by Hugging Face's Conv1D), in llm.c's order.
layer = [("ln_1.weight", (C,), False), ("ln_1.bias", (C,), False),
         ("attn.c_attn.weight", (3 * C, C), True), ("attn.c_attn.bias", (3 * C,), False),
         ("attn.c_proj.weight", (C, C), True), ("attn.c_proj.bias", (C,), False),
         ("ln_2.weight", (C,), False), ("ln_2.bias", (C,), False),
         ("mlp.c_fc.weight", (4 * C, C), True), ("mlp.c_fc.bias", (4 * C,), False),
         ("mlp.c_proj.weight", (C, 4 * C), True), ("mlp.c_proj.bias", (C,), False)]
specs = [("wte.weight", (V, C), False), ("wpe.weight", (T, C), False)]
specs += [(f"h.{l}.{n}", s, t) for n, s, t in layer for l in range(L)]
specs += [("ln_f.weight", (C,), False), ("ln_f.bias", (C,), False)]

values = {}
for name, shape, _ in specs:
    n = 1
    for d in shape:
        n *= d
    values[name] = floats(n)


def transposed(v, rows, cols):
    return [v[r * cols + c] for c in range(cols) for r in range(rows)]


header, data, offset = {"__metadata__": {"format": "pt", "n_head": str(NH)}}, b"", 0
for name, shape, conv1d in specs:
    v = values[name]
    stored = shape
    if conv1d:
        v, stored = transposed(v, *shape), (shape[1], shape[0])
    raw = struct.pack(f"<{len(v)}f", *v)
    header[name] = {"dtype": "F32", "shape": list(stored), "data_offsets": [offset, offset + len(raw)]}
    data += raw
    offset += len(raw)
text = json.dumps(header, separators=(",", ":"))
text += " " * ((8 - len(text) % 8) % 8)
with open("tests/fuzz/corpus/gpt2_weights/safetensors", "wb") as f:
    f.write(b"\0" + struct.pack("<Q", len(text)) + text.encode() + data)

padded = 128
h = [20240326, 3, T, V, L, NH, C, padded] + [0] * 248
llmc = struct.pack("<256i", *h)
for name, shape, _ in specs:
    llmc += struct.pack(f"<{len(values[name])}f", *values[name])
    if name == "wte.weight":
        llmc += b"\0" * ((padded - V) * C * 4)
with open("tests/fuzz/corpus/gpt2_weights/llmc", "wb") as f:
    f.write(b"\1" + llmc)


def bytes_to_unicode():
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(0xA1, 0xAC + 1)) + list(range(0xAE, 0xFF + 1))
    cs, n = bs[:], 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, map(chr, cs)))


spell = bytes_to_unicode()
encoder = {spell[b]: b for b in range(256)}
merges = [("h", "e"), ("l", "l"), ("he", "ll"), ("hell", "o")]
for i, (a, b) in enumerate(merges):
    encoder[a + b] = 256 + i
encoder["<|endoftext|>"] = 260
encoder_bytes = json.dumps(encoder, ensure_ascii=False).encode()
for name, n in (("small", 4), ("vocab_cut", 1)):
    vocab = ("#version: 0.2\n" + "".join(f"{a} {b}\n" for a, b in merges[:n])).encode()
    with open(f"tests/fuzz/corpus/gpt2_tokenizer/{name}", "wb") as f:
        f.write(struct.pack("<H", len(encoder_bytes)) + encoder_bytes + vocab)
