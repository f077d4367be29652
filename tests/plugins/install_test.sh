#!/usr/bin/env bash
# The `install` CTest test: installs this build into a prefix inside the build folder, builds the
# out-of-tree example plugin (tests/plugins/out_of_tree) against that prefix with
# find_package(nanolab) + nanolab_add_plugin, then runs the INSTALLED `nanolab plugins` with
# NANOLAB_PLUGIN_PATH pointing at the example's build and checks that it lists the plugin from
# there, and that `plugins show` prints its option.
# usage: install_test.sh BUILD_DIR EXAMPLE_SOURCE_DIR WORK_DIR CMAKE
set -euo pipefail
build=$1 example=$2 work=$3 cmake=$4
prefix=$work/prefix
rm -rf "$work"
mkdir -p "$work"

"$cmake" --install "$build" --prefix "$prefix" >"$work/install.log"
"$cmake" -S "$example" -B "$work/example" -DCMAKE_PREFIX_PATH="$prefix" \
  -DCMAKE_BUILD_TYPE=Release >"$work/configure.log"
"$cmake" --build "$work/example" >"$work/build.log"

plugin=$work/example/reverse_bytes.so
[[ -f $plugin ]] || { echo "FAIL: the example did not build $plugin"; exit 1; }

status=0
NANOLAB_PLUGIN_PATH=$work/example "$prefix/bin/nanolab" plugins >"$work/plugins.txt" || status=$?
cat "$work/plugins.txt"
# 0, or 4 if a shipped plugin had a problem: the example must be listed either way, and a
# problem would be printed above.
[[ $status == 0 ]] || { echo "FAIL: installed nanolab plugins exited $status"; exit 1; }
grep -Eq "^tokenizer +reverse_bytes +0\.1\.0 +$(realpath "$plugin")\$" "$work/plugins.txt" ||
  { echo "FAIL: reverse_bytes from $plugin is not listed"; exit 1; }
# The installed program must use the installed framework, not the build's. ldd's output is taken
# whole first: piped into `grep -q`, which stops reading at the first match, ldd could die of
# SIGPIPE and fail the pipeline under pipefail.
libs=$(ldd "$prefix/bin/nanolab")
grep -q "libnanolab.so.* => $(realpath "$prefix")/" <<<"$libs" ||
  { echo "$libs"; echo "FAIL: the installed program does not load the installed libnanolab"; exit 1; }

NANOLAB_PLUGIN_PATH=$work/example "$prefix/bin/nanolab" plugins show reverse_bytes >"$work/show.txt"
grep -Eq '^ +note +string +"" +any +free text' "$work/show.txt" ||
  { cat "$work/show.txt"; echo "FAIL: plugins show does not print the option"; exit 1; }
echo "PASS"
