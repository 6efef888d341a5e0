#!/usr/bin/env bash
# Builds the prebuilt addons that `npm pack` ships:  npm run prebuilds [-- MAJOR ...]
#
# One binary per Node ABI, since the addon uses Node's C++ API (fork.cc):
# prebuilds/linux-x64/socketserver.abi<N>.glibc.node, named by prebuildify
# the way node-gyp-build (lib/native.ts) looks them up. The lines default to
# package.json's config.nodeLines; each is built against its own headers
# (scripts/node-line.sh), with the C++ standard those headers ask for.
set -euo pipefail
cd "$(dirname "$0")/.."
lines=("$@")
[ ${#lines[@]} -gt 0 ] || read -r -a lines <<<"$(node -p 'require("./package.json").config.nodeLines')"
for major in "${lines[@]}"; do
  dir=$(bash scripts/node-line.sh "$major")
  version=$("$dir/bin/node" -p 'process.versions.node')
  echo "== prebuild for Node $version (ABI $("$dir/bin/node" -p 'process.versions.modules'))"
  JOBS=${JOBS:-2} npm_config_nodedir="$dir" npx prebuildify --napi=false --tag-libc --strip --target "node@$version"
done
ls -l prebuilds/*/
