#!/usr/bin/env bash
# Installs every Debian 12 package that nanolab's build, tests and benchmarks need.
# Safe to run twice (apt-get skips what is installed); prints what it installs. Run as root (or with
# sudo available). NANOLAB_DEPS selects the groups: `all` (default: build, browser, sanitizer,
# bench), `test` (build, browser and sanitizer: what tools/test.sh and CI need), `build` (build only).
set -euo pipefail

build_packages=(
  build-essential cmake pkg-config ccache git
  libdnnl-dev ocl-icd-opencl-dev   # oneDNN; its CMake config needs OpenCL's headers
  libtbb-dev                       # oneTBB
  libboost-dev                     # Boost.DLL (header-only)
  libtomlplusplus-dev              # experiment files
  nlohmann-json3-dev               # JSON: safetensors headers, config.json, compare --format json
  libhdf5-dev hdf5-tools           # run logs
  libgtest-dev libbenchmark-dev    # tests, micro-benchmarks
  libcli11-dev                     # the command line of `nanolab` (header-only)
  libcpp-httplib-dev               # the HTTP server of `nanolab serve`
  libpcre2-dev                     # the bpe tokenizer's pre-splitting (GPT-2/GPT-4 patterns)
  libopenmpi-dev openmpi-bin       # mpirun -np N nanolab run (docs/scaling.md); optional to build
  python3 python3-numpy python3-h5py  # test fixtures and readers
  python3-pandas                   # tools/runs_to_pandas.py and its test
  python3-scipy                    # the reference of compare's statistics (t quantile, Welch's test)
)
# The browser.* tests drive the page of `nanolab serve` and the file of `nanolab report` in
# headless Chromium with Selenium (chromium-driver); they are skipped, with a message, without them.
# (The page's charting library, uPlot, is npm's: the build installs it, cmake/NanolabPage.cmake.)
browser_packages=(chromium chromium-driver python3-selenium)
# The ASan+UBSan build and the libFuzzer targets (cmake/NanolabSanitize.cmake) are compiled with
# clang 14. libomp-14-dev only for clang's omp.h: the build still links GNU OpenMP, as oneDNN does.
sanitizer_packages=(clang-14 libclang-rt-14-dev libomp-14-dev)
bench_packages=(
  python3-torch libopenblas0-openmp  # the PyTorch reference (see docs/performance.md)
  hyperfine
  sentencepiece                      # spm_train, the BPE training comparison (docs/tokenizers.md)
)

packages=("${build_packages[@]}")
# The build runs `npm ci` for the page of `nanolab serve` (uPlot, cmake/NanolabPage.cmake). A
# machine with its own Node.js keeps its npm (Debian's npm package conflicts with other Node.js
# builds); one without gets Debian's.
if ! command -v npm >/dev/null; then packages+=(npm); fi
case "${NANOLAB_DEPS:-all}" in
  all) packages+=("${browser_packages[@]}" "${sanitizer_packages[@]}" "${bench_packages[@]}") ;;
  test) packages+=("${browser_packages[@]}" "${sanitizer_packages[@]}") ;;
  build) ;;
  *) echo "install-deps: NANOLAB_DEPS must be all, test or build, not '$NANOLAB_DEPS'" >&2; exit 2 ;;
esac

sudo=""
if [ "$(id -u)" != 0 ]; then sudo="sudo"; fi

# The bpe tokenizer's reference, the npm `tiktoken` package (the WASM build of tiktoken), pinned by
# tools/reference/tiktoken/package-lock.json and installed there with npm (above), by `npm ci`
# (which reinstalls from scratch) only when the package is not there yet. Without npm the tests
# that need it say so (and fail under CI=true).
install_tiktoken() {
  [ "${NANOLAB_DEPS:-all}" != build ] || return 0
  if ! command -v npm >/dev/null; then
    echo "install-deps: npm not found: the tiktoken reference tests will be skipped" >&2
    return 0
  fi
  local dir
  dir="$(cd "$(dirname "$0")" && pwd)/reference/tiktoken"
  if [ ! -f "$dir/node_modules/tiktoken/package.json" ]; then
    echo "install-deps: npm ci in $dir"
    (cd "$dir" && npm ci --no-audit --no-fund --silent)
  fi
}

missing=()
for p in "${packages[@]}"; do
  [[ $(dpkg-query -W -f='${Status}' "$p" 2>/dev/null) == "install ok installed" ]] || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages already installed"
  install_tiktoken
  exit 0
fi
echo "install-deps: installing ${missing[*]}"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
install_tiktoken
echo "install-deps: done"
