#!/usr/bin/env bash
# Sets up a fresh Debian 12 machine, builds nanolab and runs every test: the README's test command
# and what CI runs (.ci/run). Test data is found through NANOLAB_DATA (default: ../shared/datasets
# beside the clone); a test whose data file is missing is skipped with a message naming the file.
set -euo pipefail
cd "$(dirname "$0")/.."
NANOLAB_DEPS=test tools/install-deps.sh
build=${NANOLAB_BUILD_DIR:-build}
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$build" -j"$(nproc)"
export NANOLAB_DATA=${NANOLAB_DATA:-$(cd .. && pwd)/shared/datasets}
ctest --test-dir "$build" --output-on-failure -j"$(nproc)" --timeout 600
