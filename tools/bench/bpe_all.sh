#!/usr/bin/env bash
# Every measurement of the bpe tokenizer in docs/tokenizers.md#measured, in one run (about half an
# hour on an idle 2-core machine, most of it spm_train): on NANOLAB_THREADS=1 and 2, bench_bpe
# (encode tiny Shakespeare and the first 32 MB of CORPUS with GPT-2's vocabulary against npm
# tiktoken, train vocab 4096 and 20,000 on tiny Shakespeare, spm_train at 4096); bench_bpe --cold
# on 1 and 2 threads (5 cold encodes of the first 32 MB of CORPUS, wall and CPU time); then
# bpe_corpus.sh (vocab VOCAB on CORPUS against spm_train, same threads, wall clock and peak RSS);
# then `nanolab tokenizer encode --gpt2 --shards` of CORPUS on 1 and 2 threads (MB/s as the
# command reports it). `uptime` before each part. Not a test: it prints.
#   NANOLAB_DATA=/work/shared/datasets tools/bench/bpe_all.sh BUILD_DIR CORPUS [VOCAB=32768] [THREADS=2]
# BUILD_DIR: a Release build with the benchmarks (bench_bpe); CORPUS: the linux_source dataset's
# linux.txt (datasets/linux_source/build.sh).
set -euo pipefail
build=$1 corpus=$2 vocab=${3:-32768} threads=${4:-2}
: "${NANOLAB_DATA:?set NANOLAB_DATA to the folder holding gpt2/ and tinyshakespeare/}"
here=$(dirname "$0")
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
for t in 1 2; do
  echo "== bench_bpe, $t thread(s); $(uptime)"
  OMP_WAIT_POLICY=passive NANOLAB_THREADS=$t "$build/bin/bench_bpe" --encode "$corpus" 32
done
for t in 1 2; do
  echo "== cold encodes, $t thread(s); $(uptime)"
  NANOLAB_THREADS=$t "$build/bin/bench_bpe" --cold "$corpus" 32 5
done
echo "== training on the corpus; $(uptime)"
"$here/bpe_corpus.sh" "$build" "$corpus" "$vocab" "$threads"
for t in 1 2; do
  echo "== sharding the corpus, $t thread(s); $(uptime)"
  NANOLAB_THREADS=$t "$build/bin/nanolab" tokenizer encode --gpt2 "$NANOLAB_DATA/gpt2" \
    --shards "$scratch/shards$t" "$corpus" 2>&1 | tail -1
done
echo "== end; $(uptime)"
