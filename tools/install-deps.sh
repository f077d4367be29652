#!/usr/bin/env bash
# Installs every Debian 12 package that nanolab's build, tests and benchmarks need.
# Safe to run twice (apt-get skips what is installed); prints what it installs. Run as root (or with
# sudo available). Set NANOLAB_DEPS=build to skip the benchmark-only packages.
set -euo pipefail

build_packages=(
  build-essential cmake pkg-config ccache git
  libdnnl-dev ocl-icd-opencl-dev   # oneDNN; its CMake config needs OpenCL's headers
  libtbb-dev                       # oneTBB
  libboost-dev                     # Boost.DLL (header-only)
  libtomlplusplus-dev              # experiment files
  libhdf5-dev hdf5-tools           # run logs
  libgtest-dev libbenchmark-dev    # tests, micro-benchmarks
  python3 python3-numpy python3-h5py  # test fixtures and readers
)
bench_packages=(
  python3-torch libopenblas0-openmp  # the PyTorch reference (see docs/performance.md)
  hyperfine
)

packages=("${build_packages[@]}")
if [ "${NANOLAB_DEPS:-all}" != build ]; then packages+=("${bench_packages[@]}"); fi

sudo=""
if [ "$(id -u)" != 0 ]; then sudo="sudo"; fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages already installed"
  exit 0
fi
echo "install-deps: installing ${missing[*]}"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "install-deps: done"
