#!/usr/bin/env bash
# Sets up a fresh Debian 12 machine, builds nanolab and runs every test: the README's test command
# and what CI runs (.ci/run). Test data is found through NANOLAB_DATA (default: ../shared/datasets
# beside the clone); a test whose data file is missing is skipped with a message naming the file.
# Then a second build with clang's AddressSanitizer + UndefinedBehaviorSanitizer (build-asan,
# cmake/NanolabSanitize.cmake) runs the unit and plugin suites again, and each libFuzzer target
# (tests/fuzz) for NANOLAB_FUZZ_SECONDS (30) from its committed seeds; NANOLAB_SANITIZERS=0 skips
# it. docs/fuzzing.md says what it covers and what it costs.
set -euo pipefail
cd "$(dirname "$0")/.."
NANOLAB_DEPS=test tools/install-deps.sh
build=${NANOLAB_BUILD_DIR:-build}
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$build" -j"$(nproc)"
export NANOLAB_DATA=${NANOLAB_DATA:-$(cd .. && pwd)/shared/datasets}
ctest --test-dir "$build" --output-on-failure -j"$(nproc)" --timeout 600

if [ "${NANOLAB_SANITIZERS:-1}" = 0 ]; then exit 0; fi
# Only the unit and plugin suites: the integration suite trains for minutes even unsanitized, and
# ASan makes that 2-3x slower, past CI's 25 minutes (docs/fuzzing.md).
san=${NANOLAB_SANITIZE_BUILD_DIR:-build-asan}
CC=clang-14 CXX=clang++-14 cmake -S . -B "$san" -DCMAKE_BUILD_TYPE=Release \
  -DNANOLAB_SANITIZE=address,undefined -DNANOLAB_BUILD_FUZZ=ON -DNANOLAB_BUILD_BENCH=OFF \
  -DNANOLAB_BUILD_INTEGRATION_TESTS=OFF \
  -DNANOLAB_FUZZ_SECONDS="${NANOLAB_FUZZ_SECONDS:-30}" >/dev/null
cmake --build "$san" -j"$(nproc)"
. tools/sanitizers/env.sh
ctest --test-dir "$san" --output-on-failure -j"$(nproc)" --timeout 600 -L 'unit|plugins'
# Each target uses one core and fuzzes for its own time budget: one per core at a time.
ctest --test-dir "$san" --output-on-failure -j"$(nproc)" --timeout 600 -L fuzz
