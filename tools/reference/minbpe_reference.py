"""A faithful re-implementation of minbpe's RegexTokenizer.train (Karpathy's minbpe,
minbpe/regex.py), used to make tests/fixtures/bpe_minbpe_*.model: the merges nanolab's bpe
tokenizer must learn merge for merge. It is the readable, slow reference (a full recount per
merge), not a tokenizer to use: no encode, no special tokens.

Usage: python3 tools/reference/minbpe_reference.py TEXT_FILE VOCAB_SIZE gpt2|gpt4 OUT.model
Writes minbpe's .model format: "minbpe v1", the pattern, the number of special tokens (0), then
one merge per line as "idx1 idx2" in the order learned (merge i makes id 256 + i).
Needs the `regex` module (Unicode classes \\p{L}, \\p{N} and possessive quantifiers).
"""
import sys

import regex

GPT2_SPLIT_PATTERN = r"""'(?:[sdmt]|ll|ve|re)| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""
GPT4_SPLIT_PATTERN = r"""'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]++[\r\n]*|\s*[\r\n]|\s+(?!\S)|\s+"""


def get_stats(ids, counts):
    # A dict keeps insertion order, so max() below breaks ties by the pair seen first.
    for pair in zip(ids, ids[1:]):
        counts[pair] = counts.get(pair, 0) + 1


def merge(ids, pair, idx):
    out, i = [], 0
    while i < len(ids):
        if i < len(ids) - 1 and ids[i] == pair[0] and ids[i + 1] == pair[1]:
            out.append(idx)
            i += 2
        else:
            out.append(ids[i])
            i += 1
    return out


def train(text, vocab_size, pattern):
    chunks = regex.findall(pattern, text)
    ids = [list(ch.encode("utf-8")) for ch in chunks]
    merges = []
    for i in range(vocab_size - 256):
        stats = {}
        for chunk_ids in ids:
            get_stats(chunk_ids, stats)
        if not stats:
            break
        pair = max(stats, key=stats.get)
        ids = [merge(chunk_ids, pair, 256 + i) for chunk_ids in ids]
        merges.append(pair)
    return merges


def main():
    path, vocab_size, name, out = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
    pattern = {"gpt2": GPT2_SPLIT_PATTERN, "gpt4": GPT4_SPLIT_PATTERN}[name]
    with open(path, encoding="utf-8", newline="") as f:
        text = f.read()
    merges = train(text, vocab_size, pattern)
    with open(out, "w") as f:
        f.write("minbpe v1\n")
        f.write(f"{pattern}\n")
        f.write("0\n")
        for a, b in merges:
            f.write(f"{a} {b}\n")


if __name__ == "__main__":
    main()
