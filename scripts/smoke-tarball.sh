#!/usr/bin/env bash
# Installs a packed tarball as a user would and serves with it, on each Node
# line:  scripts/smoke-tarball.sh socketserver-0.1.0.tgz [MAJOR ...]
#
# Per line (default: package.json's config.nodeLines): a fresh temp project,
# `npm install --ignore-scripts` of the tarball, then test/smoke/smoke.mjs
# from that project. Both run with a PATH that holds only that line's node
# and npm, so nothing can be compiled: the addon must be a prebuilt one.
#
# Then, on the last line, what happens where no prebuilt binary fits (the
# tarball's prebuilds/ removed after the install):
#   - no compiler: the native classes throw ERR_SOCKETSERVER_NATIVE and
#     'socketserver/js' serves;
#   - a compiler, `npm rebuild socketserver`: the install script builds
#     from source, and that build serves;
# and that an install that runs the install script (a compiler in reach)
# builds nothing when a prebuilt binary fits.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
tarball=$(readlink -f "${1:?usage: scripts/smoke-tarball.sh TARBALL [MAJOR ...]}")
shift
lines=("$@")
[ ${#lines[@]} -gt 0 ] || read -r -a lines <<<"$(node -p 'require("./package.json").config.nodeLines')"
npm_cli=$(readlink -f "$(command -v npm)")
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

# new_project NAME NODEDIR: a folder with an empty ESM project and the smoke
# script, and bin/ holding only that Node and npm (the restricted PATH).
new_project() {
  local p=$WORK/$1
  mkdir -p "$p/bin" "$p/app"
  ln -s "$2/bin/node" "$p/bin/node"
  ln -s "$npm_cli" "$p/bin/npm"
  echo '{ "name": "smoke", "version": "1.0.0", "private": true, "type": "module" }' >"$p/app/package.json"
  cp "$ROOT/test/smoke/smoke.mjs" "$p/app/"
  for tool in cc gcc g++ c++ make python3; do
    if PATH="$p/bin" command -v "$tool" >/dev/null 2>&1; then
      echo "smoke-tarball: $tool is on the restricted PATH" >&2
      exit 2
    fi
  done
  echo "$p"
}

status=0
for major in "${lines[@]}"; do
  dir=$(bash scripts/node-line.sh "$major")
  echo "== Node $("$dir/bin/node" --version): npm install --ignore-scripts $(basename "$tarball"), no compiler on PATH"
  p=$(new_project "line-$major" "$dir")
  (
    cd "$p/app"
    export PATH="$p/bin"
    npm install --ignore-scripts --no-audit --no-fund --prefer-offline --loglevel=error "$tarball"
    [ ! -e node_modules/socketserver/build ] || { echo "smoke-tarball: the install built something" >&2; exit 1; }
    node smoke.mjs --addon prebuilt
  ) || status=1
done

major=${lines[-1]}
dir=$(bash scripts/node-line.sh "$major")
echo "== Node $("$dir/bin/node" --version), no prebuilt binary fits: no compiler, then npm rebuild with one"
p=$(new_project fallback "$dir")
(
  cd "$p/app"
  PATH="$p/bin" npm install --ignore-scripts --no-audit --no-fund --prefer-offline --loglevel=error "$tarball"
  rm -rf node_modules/socketserver/prebuilds
  PATH="$p/bin" node smoke.mjs --addon none
  # With the compiler back, and this line's headers for node-gyp.
  PATH="$dir/bin:$PATH" npm_config_nodedir="$dir" SOCKETSERVER_REQUIRE_NATIVE=1 npm rebuild socketserver --loglevel=error
  PATH="$p/bin" node smoke.mjs --addon built
) || status=1

echo "== Node $("$dir/bin/node" --version): npm install with its install script and a compiler in reach, a prebuilt binary fits"
p=$(new_project scripts "$dir")
(
  cd "$p/app"
  PATH="$dir/bin:$PATH" npm_config_nodedir="$dir" SOCKETSERVER_REQUIRE_NATIVE=1 \
    npm install --no-audit --no-fund --prefer-offline --loglevel=error "$tarball"
  [ ! -e node_modules/socketserver/build ] || { echo "smoke-tarball: the install built from source though a prebuilt binary fits" >&2; exit 1; }
  PATH="$p/bin" node smoke.mjs --addon prebuilt
) || status=1
exit $status
