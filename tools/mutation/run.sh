#!/usr/bin/env bash
# Mutation check of the training loop's tests (docs/reliability.md, "What the tests prove"). Each
# mutant below is a realistic bug put into a copy of the tree, one at a time: the copy is rebuilt
# and the tests named for that mutant are run; at least one of them must fail. The unmutated copy
# must pass them all first. Prints, for each mutant, the tests that killed it; exits 1 if a mutant
# survives. Usage: tools/mutation/run.sh [BUILD_DIR] (default /tmp/nanolab-mutation; the copy and
# its build live there, so a second run only rebuilds what the mutants touch). About 5 minutes.
set -euo pipefail
src=$(cd "$(dirname "$0")/../.." && pwd)
work=${1:-/tmp/nanolab-mutation}
mkdir -p "$work/tree"
# The tree as it is (modification times kept, so a second run rebuilds only what changed).
tar -C "$src" --exclude='./build*' --exclude=./.git -cf - . | tar -C "$work/tree" -xf -
cmake -S "$work/tree" -B "$work/build" -DCMAKE_BUILD_TYPE=Release -DNANOLAB_BUILD_BENCH=OFF >/dev/null
export NANOLAB_DATA=${NANOLAB_DATA:-$src/../shared/datasets}

# Each mutant: its name, the file, the text replaced (it must occur once), the text put in its
# place, and a ctest regex of the tests that must kill it.
names=() files=() olds=() news=() killers=()
mutant() { names+=("$1") files+=("$2") olds+=("$3") news+=("$4") killers+=("$5"); }
mutant "clip by the first parameter only" framework/src/train/clip.cpp \
  'for (const Parameter& p : params)' \
  'for (const Parameter& p : Parameters(params.begin(), params.begin() + 1))' \
  'GradientClipper|Accumulation.TheLoopClips'
mutant "clipping threshold x100" framework/src/train/trainer.cpp \
  'clipper_.clip(params, c_.grad_clip)' 'clipper_.clip(params, c_.grad_clip * 100)' \
  'Accumulation|GradientClipper'
mutant "loss not divided by grad_accum_steps" framework/src/train/trainer.cpp \
  'const int64_t parts = c_.grad_accum_steps * world_size_;' 'const int64_t parts = world_size_;' \
  'Accumulation|Mpi.TwoRanksAccumulating'
mutant "tokens_seen not restored on resume" framework/src/train/counters.cpp \
  'field = it == ck.counters.end() ? 0 : it->second;' \
  'field = it == ck.counters.end() || std::string(name) == "tokens_seen" ? 0 : it->second;' \
  'Counters|Run.ResumeAfter'

run_tests() {  # the tests matching a regex; ctest's status, its output in ctest.log
  ctest --test-dir "$work/build" -R "$1" -j2 --timeout 600 >"$work/ctest.log" 2>&1
}
build() { cmake --build "$work/build" -j2 >"$work/build.log" 2>&1 || { tail -30 "$work/build.log"; exit 1; }; }

build
all=$(IFS='|'; echo "${killers[*]}")
if ! run_tests "$all"; then
  echo "mutation: the unmutated tree fails its tests:"; grep -E "Failed|\*\*\*" "$work/ctest.log"; exit 1
fi
echo "mutation: the unmutated tree passes $(grep -oE 'tests passed, [0-9]+ tests failed out of [0-9]+' "$work/ctest.log")"

survivors=0
for i in "${!names[@]}"; do
  file=$work/tree/${files[$i]}
  cp "$file" "$work/original"
  python3 - "$file" "${olds[$i]}" "${news[$i]}" <<'PY'
import sys
path, old, new = sys.argv[1:]
s = open(path).read()
if s.count(old) != 1: sys.exit(f"mutation: '{old}' occurs {s.count(old)} times in {path}")
open(path, "w").write(s.replace(old, new))
PY
  build
  if run_tests "${killers[$i]}"; then
    echo "SURVIVED: ${names[$i]} (tests: ${killers[$i]})"; survivors=$((survivors + 1))
  else
    echo "killed: ${names[$i]}, by: $(grep -oE '[0-9]+ - [^ ]+ \((Failed|Timeout|SEGFAULT|Subprocess aborted)\)' \
      "$work/ctest.log" | sed 's/^[0-9]* - //; s/ (.*//' | tr '\n' ' ')"
  fi
  cp "$work/original" "$file"
done
build
[ "$survivors" = 0 ]
