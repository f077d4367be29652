#!/usr/bin/env bash
# The `scaffold` CTest test: `nanolab plugins new` writes a project for a plugin of every kind of
# the program's plugin kind table (tools/nanolab/scaffold/<kind>.cpp.in for each); the projects
# are configured once, as subfolders of one, against this BUILD tree (-Dnanolab_DIR, no install),
# built, and each project's own CTest test runs its kind's contract suite on its plugin;
# `nanolab plugins` then lists them. The examples of docs/plugins.md must be these files, to the byte (each follows a
# line `<!-- nanolab plugins new KIND NAME -->`). A second `new` into the same folder, an unknown
# kind and a bad name are refused with exit 2 and change nothing.
# usage: scaffold_test.sh NANOLAB BUILD_DIR SOURCE_DIR WORK_DIR CMAKE CTEST
set -euo pipefail
nanolab=$1 build=$2 source=$3 work=$4 cmake=$5 ctest=$6
rm -rf "$work"
mkdir -p "$work/src"
fail() { echo "FAIL: $*"; exit 1; }

# The kinds are the program's (its plugin kind table, listed when a kind is unknown); each must
# have a skeleton, and every skeleton must be of a kind.
status=0; "$nanolab" plugins new sampler my_sampler --dir "$work/src" 2>"$work/err.txt" || status=$?
listed=$(sed -n "s/.*expected one of \(.*\)\$/\1/p" "$work/err.txt")
IFS=', ' read -r -a kinds <<<"$listed"
[[ ${#kinds[@]} -ge 5 ]] || fail "the program lists the kinds '$listed' ($(cat "$work/err.txt"))"
skeletons=()
for skeleton in "$source"/tools/nanolab/scaffold/*.cpp.in; do
  skeletons+=("$(basename "$skeleton" .cpp.in)")
done
[[ $(printf '%s\n' "${skeletons[@]}" | sort) == $(printf '%s\n' "${kinds[@]}" | sort) ]] ||
  fail "skeletons for ${skeletons[*]}, but the kinds are ${kinds[*]}"

echo 'cmake_minimum_required(VERSION 3.25)
project(scaffold_test LANGUAGES CXX)
enable_testing()' >"$work/src/CMakeLists.txt"
for kind in "${kinds[@]}"; do
  name=my_$kind
  "$nanolab" plugins new "$kind" "$name" --dir "$work/src" >"$work/new_$kind.txt"
  [[ -f $work/src/$name/$name.cpp && -f $work/src/$name/CMakeLists.txt ]] ||
    fail "plugins new $kind $name wrote $(ls "$work/src/$name")"
  echo "add_subdirectory($name)" >>"$work/src/CMakeLists.txt"
  # The documented example is the generated file.
  awk -v marker="<!-- nanolab plugins new $kind $name -->" '
    $0 == marker { found = 1; next }
    found == 1 && /^```cpp$/ { found = 2; next }
    found == 2 && /^```$/ { exit }
    found == 2 { print }' "$source/docs/plugins.md" >"$work/doc_$kind.cpp"
  diff -u "$work/doc_$kind.cpp" "$work/src/$name/$name.cpp" ||
    fail "docs/plugins.md's $kind example is not what plugins new writes (diff above)"
done

# Refusals: exit 2, one message, nothing written or changed.
before=$(cat "$work/src/my_loss/my_loss.cpp")
status=0; "$nanolab" plugins new loss my_loss --dir "$work/src" 2>"$work/err.txt" || status=$?
[[ $status == 2 ]] && grep -q "already exists" "$work/err.txt" || fail "again: exit $status: $(cat "$work/err.txt")"
[[ $(cat "$work/src/my_loss/my_loss.cpp") == "$before" ]] || fail "a second new changed my_loss.cpp"
status=0; "$nanolab" plugins new sampler my_sampler --dir "$work/src" 2>"$work/err.txt" || status=$?
[[ $status == 2 ]] && grep -q "no plugin kind 'sampler'; expected one of attention" "$work/err.txt" ||
  fail "unknown kind: exit $status: $(cat "$work/err.txt")"
status=0; "$nanolab" plugins new loss My-Loss --dir "$work/src" 2>"$work/err.txt" || status=$?
[[ $status == 2 ]] && grep -q "'My-Loss' is not a plugin name" "$work/err.txt" ||
  fail "bad name: exit $status: $(cat "$work/err.txt")"
[[ ! -e $work/src/my_sampler && ! -e $work/src/My-Loss ]] || fail "a refused new wrote a folder"

"$cmake" -S "$work/src" -B "$work/build" -Dnanolab_DIR="$build" -DCMAKE_BUILD_TYPE=Release \
  >"$work/configure.log" 2>&1 || { cat "$work/configure.log"; fail "configure"; }
"$cmake" --build "$work/build" -j2 >"$work/build.log" 2>&1 || { cat "$work/build.log"; fail "build"; }

status=0
"$ctest" --test-dir "$work/build" --output-on-failure >"$work/ctest.txt" 2>&1 || status=$?
cat "$work/ctest.txt"
[[ $status == 0 ]] || fail "ctest of the generated plugins exited $status"
grep -q "100% tests passed, 0 tests failed out of ${#kinds[@]}\$" "$work/ctest.txt" ||
  fail "the contract tests of the generated plugins did not all pass"

path=
for kind in "${kinds[@]}"; do path+=${path:+:}$work/build/my_$kind; done
status=0
NANOLAB_PLUGIN_PATH=$path "$nanolab" plugins >"$work/plugins.txt" || status=$?
[[ $status == 0 ]] || { cat "$work/plugins.txt"; fail "nanolab plugins exited $status"; }
for kind in "${kinds[@]}"; do
  grep -Eq "^$kind +my_$kind +0\.1\.0 +$(realpath "$work/build/my_$kind/my_$kind.so")\$" \
    "$work/plugins.txt" || { cat "$work/plugins.txt"; fail "my_$kind is not listed"; }
done
echo PASS
