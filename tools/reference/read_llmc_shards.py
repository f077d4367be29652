#!/usr/bin/env python3
"""Reads llm.c token shards as llm.c's Python side does, and prints their ids.

A reference for nanolab's shard writer (`nanolab tokenizer encode --shards`): the header is read
as llm.c's dev/data/data_common.py and train_gpt2.py read it (256 int32: magic 20240520, version
1 for uint16 ids or 2 for uint32, token count), and the ids through numpy.memmap at offset 1024,
as a training script maps a shard too large to read. Every check llm.c makes is an assert here.
Prints the ids of all the files given, in that order, on one line separated by spaces.

    python3 tools/reference/read_llmc_shards.py DIR/corpus_val_000000.bin DIR/corpus_train_000001.bin
"""
import os
import sys

import numpy as np


def read_shard(path):
    header = np.fromfile(path, dtype=np.int32, count=256)
    assert header[0] == 20240520, f"{path}: magic number mismatch in the data .bin file"
    assert header[1] in (1, 2), f"{path}: unsupported version"
    ntok = int(header[2])
    dtype = np.uint16 if header[1] == 1 else np.uint32
    size = np.dtype(dtype).itemsize
    assert os.path.getsize(path) == 256 * 4 + ntok * size, f"{path}: token count does not match the size"
    return np.memmap(path, dtype=dtype, mode="r", offset=256 * 4, shape=(ntok,))


def main():
    ids = []
    for path in sys.argv[1:]:
        ids.extend(int(t) for t in read_shard(path))
    print(" ".join(map(str, ids)))


if __name__ == "__main__":
    main()
