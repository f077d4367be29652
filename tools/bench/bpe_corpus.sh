#!/usr/bin/env bash
# BPE training at scale, side by side (docs/tokenizers.md#training-at-scale): `nanolab tokenizer
# train` and SentencePiece's `spm_train --model_type=bpe` (Debian `sentencepiece`) train the same
# vocabulary on the same file with the same thread count, each timed and measured by
# /usr/bin/time -v (wall clock, peak RSS). Not a test: it prints.
#   tools/bench/bpe_corpus.sh BUILD_DIR CORPUS [VOCAB=32768] [THREADS=2] [REPS=1]
# CORPUS: the linux_source dataset's linux.txt (datasets/linux_source/build.sh).
set -euo pipefail
build=$1 corpus=$2 vocab=${3:-32768} threads=${4:-2} reps=${5:-1}
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
measure() {  # NAME COMMAND...: one line of wall seconds and peak RSS
  local name=$1
  shift
  /usr/bin/time -v -o "$scratch/time" "$@" > "$scratch/out" 2>&1 ||
    { echo "$name failed:"; tail -5 "$scratch/out"; exit 1; }
  awk -v name="$name" -F': ' '
    /Elapsed \(wall clock\)/ { n = split($2, t, ":"); s = 0; for (i = 1; i <= n; ++i) s = s * 60 + t[i] }
    /Maximum resident set size/ { rss = $2 }
    END { printf "%-10s %8.1f s  peak RSS %6.0f MiB\n", name, s, rss / 1024 }' "$scratch/time"
}
echo "corpus $corpus ($(stat -c %s "$corpus") bytes), vocab $vocab, $threads thread(s); $(uptime)"
for ((r = 1; r <= reps; ++r)); do
  NANOLAB_THREADS=$threads OMP_WAIT_POLICY=passive measure nanolab \
    "$build/bin/nanolab" tokenizer train "$corpus" --vocab-size "$vocab" -o "$scratch/nanolab.tok"
  measure spm_train spm_train --input="$corpus" --model_prefix="$scratch/spm" --vocab_size="$vocab" \
    --model_type=bpe --num_threads="$threads" --minloglevel=2
done
echo "end: $(uptime)"
