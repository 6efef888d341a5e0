#!/usr/bin/env bash
# The C++ tests of the addon's plain-C++ parts (native/test/test_*.cc: no
# Node, no N-API):  npm run test:native [-- FILTER]
#
# Builds each test with AddressSanitizer + UndefinedBehaviorSanitizer (any
# report is fatal), -Wall -Wextra -Werror, as C++17 and as C++20 (the
# standards of the Node lines' headers), into build-native-test/, and runs
# it; FILTER runs only the test cases whose name contains it. One compiler
# job at a time. CMake builds the same tests (-DSOCKETSERVER_NATIVE_TESTS=ON,
# and in npm run build:asan; see CMakeLists.txt).
#
# A test's --bench argument prints its microbenchmark instead (build it
# with -O2 and no sanitizer for numbers worth quoting):
#   c++ -std=c++17 -O2 native/test/test_proxy_protocol.cc native/proxy_protocol.cc -o /tmp/t && /tmp/t --bench
set -euo pipefail
cd "$(dirname "$0")/.."

CXX="${CXX:-c++}"
# The plain-C++ sources the tests link against.
TEST_SOURCES=(native/proxy_protocol.cc)
OUT=build-native-test
mkdir -p "$OUT"
FLAGS=(-g -O1 -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=all
       -Wall -Wextra -Werror -Inative)
export ASAN_OPTIONS="halt_on_error=1:detect_leaks=1:strict_string_checks=1"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1"

status=0
for src in native/test/test_*.cc; do
  name=$(basename "$src" .cc)
  for std in c++17 c++20; do
    exe="$OUT/$name-$std"
    echo "== build $name ($CXX -std=$std)"
    "$CXX" -std="$std" "${FLAGS[@]}" "$src" "${TEST_SOURCES[@]}" -o "$exe"
    echo "== run $exe"
    "$exe" "$@" || status=1
  done
done
exit "$status"
