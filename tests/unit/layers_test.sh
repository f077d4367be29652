#!/usr/bin/env bash
# The `layers` CTest test: includes point one way. The folders of framework/src are layers, lowest
# first, as README.md lists them; a file may include the private headers of its own
# folder and of lower ones, and every file may include the public headers (nanolab/...). Plugins
# include only public headers (and files of their own folder); the `nanolab` program (tools/)
# only public headers and its own files. Each include against the order is one line of output.
# usage: layers_test.sh SOURCE_DIR
set -uo pipefail
source=$1
layers=(runtime tensor autograd ops plugin model optim config data store train report search)
rank() {
  local i
  for i in "${!layers[@]}"; do [[ ${layers[$i]} == "$1" ]] && { echo "$i"; return; }; done
  echo -1
}

bad=0
check() {  # file, its layer rank (or -1: public headers and its own folder only)
  local file=$1 own=$2 header folder r
  while IFS= read -r header; do
    folder=${header%%/*}
    [[ $header == */* ]] || continue                 # a file of its own folder
    [[ $folder == nanolab ]] && continue             # the public headers
    r=$(rank "$folder")
    if [[ $own -lt 0 || $r -lt 0 || $r -gt $own ]]; then
      echo "${file#"$source"/}: includes \"$header\""
      bad=1
    fi
  done < <(sed -n 's/^#include "\([^"]*\)".*/\1/p' "$file")
}

for dir in "$source"/framework/src/*/; do
  layer=$(basename "$dir")
  own=$(rank "$layer")
  [[ $own -ge 0 ]] || { echo "framework/src/$layer: a folder that is not in the layer order"; bad=1; }
  while IFS= read -r f; do check "$f" "$own"; done < <(find "$dir" -name '*.cpp' -o -name '*.hpp')
done
while IFS= read -r f; do check "$f" -1; done < <(find "$source"/plugins "$source"/tools/nanolab \
  "$source"/framework/include -name '*.cpp' -o -name '*.hpp' -o -name '*.cpp.in')
[[ $bad == 0 ]] && echo "PASS: includes follow ${layers[*]}"
exit $bad
