#!/usr/bin/env bash
# Builds linux_source's raw file, linux.txt: the first 128 MiB of the text files of Debian's
# linux-source-6.1 package (the Linux kernel sources, GPL-2.0; see recipe.toml), offline. The
# documentation (.rst, .txt) and the C sources (.c, .h) are concatenated in byte order of their
# paths (LC_ALL=C), so the file and its sha256 depend only on the package's version.
#   apt-get install linux-source-6.1        # /usr/src/linux-source-6.1.tar.xz
#   datasets/linux_source/build.sh [TARBALL] [OUT]
# OUT defaults to the nanolab cache, where `dataset = "linux_source"` finds it.
set -euo pipefail
tarball=${1:-/usr/src/linux-source-6.1.tar.xz}
out=${2:-${XDG_CACHE_HOME:-$HOME/.cache}/nanolab/linux_source/linux.txt}
[ -f "$tarball" ] || { echo "build.sh: $tarball not found; apt-get install linux-source-6.1" >&2; exit 3; }
mkdir -p "$(dirname "$out")"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
tar -xJf "$tarball" -C "$tmp" --wildcards '*.rst' '*.txt' '*.c' '*.h'
(cd "$tmp" && find . -type f \( -name '*.rst' -o -name '*.txt' -o -name '*.c' -o -name '*.h' \) -print0 |
   LC_ALL=C sort -z | xargs -0 cat) | head -c 134217728 > "$out.partial" || true
[ "$(stat -c %s "$out.partial")" = 134217728 ] || { echo "build.sh: fewer than 128 MiB of text" >&2; exit 3; }
mv "$out.partial" "$out"
sha256sum "$out"
