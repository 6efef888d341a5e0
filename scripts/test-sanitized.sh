#!/usr/bin/env bash
# The whole mocha suite against an AddressSanitizer + UndefinedBehaviorSanitizer
# build of the addon (issue 5):  npm run test:sanitized [-- mocha args]
#
#   1. builds build-asan/Release/socketserver.node (cmake-js,
#      -DSOCKETSERVER_SANITIZE=ON; SKIP_BUILD=1 reuses an existing one);
#   2. runs mocha with SOCKETSERVER_NATIVE pointing at it and gcc's ASan and
#      UBSan runtimes LD_PRELOADed (node is not instrumented, so the ASan
#      runtime must come first in the process, before the addon loads);
#   3. fails if any process wrote a sanitizer report.
# Before mocha it runs the C++ tests that build made (build-asan/tests/).
#
# Every process of the run inherits the environment: the test process, the
# children made by ForkingMixIn's fork(), and the node / python3 processes
# the tests spawn. ASan and LSan reports go to files (log_path), one per
# process, so a report from a forked child that _exit()s, or from a process
# whose exit status a test ignores, still fails the run. gcc's UBSan runtime
# ignores log_path when ASan is loaded too, so its reports ("runtime error:")
# are looked for in the test output, which forked children share. Reports
# are fatal in the process (halt_on_error, -fno-sanitize-recover).
#
# Leaks: LeakSanitizer stays on (detect_leaks=1). At exit Node tears its
# environment down, which runs the finalizers of every live wrapped object
# (our Listener, Connection, ChildWatch), so whatever our addon still holds
# then is a real leak. scripts/lsan.supp suppresses only the functions with
# which V8 allocates its heap-page metadata (left behind by node children
# that end in process.exit()) and the non-node programs the tests spawn;
# never a pattern that could match a stack of ours (LSan matches any frame,
# and our allocations' stacks run through node's frames below ours).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

if [ -z "${SKIP_BUILD:-}" ] || [ ! -f build-asan/Release/socketserver.node ]; then
  CMAKE_BUILD_PARALLEL_LEVEL="${CMAKE_BUILD_PARALLEL_LEVEL:-2}" npm run build:asan
fi
# The C++ tests (native/test/), built by the same cmake-js run with the same
# sanitizers (CMakeLists.txt): plain executables, no preload needed.
shopt -s nullglob
for t in build-asan/tests/*; do
  [ -x "$t" ] || continue
  echo "test-sanitized: $t"
  ASAN_OPTIONS="halt_on_error=1:detect_leaks=1:strict_string_checks=1" UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1" \
    "$t" >"$t.log" 2>&1 || { cat "$t.log" >&2; echo "test-sanitized: $t FAILED" >&2; exit 1; }
  tail -1 "$t.log"
done
shopt -u nullglob
# The test sources are compiled without the sanitizers (tsc is not ours).
rm -rf .test-out && npx tsc -p tsconfig.test.json  # no stale files of tests moved or removed

ASAN_LIB=$(gcc -print-file-name=libasan.so)
UBSAN_LIB=$(gcc -print-file-name=libubsan.so)
for lib in "$ASAN_LIB" "$UBSAN_LIB"; do
  case "$lib" in
    /*) [ -f "$lib" ] || { echo "test-sanitized: $lib not found" >&2; exit 2; } ;;
    *) echo "test-sanitized: gcc has no $lib (install gcc's libasan/libubsan)" >&2; exit 2 ;;
  esac
done

REPORTS="$ROOT/build-asan/reports"
OUTPUT="$ROOT/build-asan/mocha-output.txt"
rm -rf "$REPORTS"
mkdir -p "$REPORTS"

status=0
env \
  SOCKETSERVER_NATIVE="$ROOT/build-asan/Release/socketserver.node" \
  LD_PRELOAD="$ASAN_LIB:$UBSAN_LIB" \
  ASAN_OPTIONS="halt_on_error=1:exitcode=86:detect_leaks=1:log_path=$REPORTS/asan:log_exe_name=1:strict_string_checks=1:check_initialization_order=1:detect_stack_use_after_return=0" \
  LSAN_OPTIONS="suppressions=$ROOT/scripts/lsan.supp:print_suppressions=0:exitcode=86" \
  UBSAN_OPTIONS="halt_on_error=1:exitcode=87:print_stacktrace=1:report_error_type=1:log_path=$REPORTS/ubsan:log_exe_name=1" \
  node_modules/.bin/mocha "$@" 2>&1 | tee "$OUTPUT" || status=$?

shopt -s nullglob
reports=("$REPORTS"/*)
if [ ${#reports[@]} -gt 0 ]; then
  echo "test-sanitized: ${#reports[@]} sanitizer report file(s):" >&2
  for f in "${reports[@]}"; do
    echo "===== $f" >&2
    cat "$f" >&2
  done
  [ "$status" -ne 0 ] || status=1
fi
# gcc's UBSan runtime ignores log_path when ASan is loaded too: its reports
# go to stderr, which forked children share with the test process.
if grep -qE 'runtime error:|ERROR: (Address|Leak|UndefinedBehavior)Sanitizer' "$OUTPUT"; then
  echo "test-sanitized: sanitizer report(s) in the test output ($OUTPUT):" >&2
  grep -nE -A3 'runtime error:|ERROR: (Address|Leak|UndefinedBehavior)Sanitizer' "$OUTPUT" >&2 || true
  [ "$status" -ne 0 ] || status=1
fi
if [ "$status" -eq 0 ]; then
  echo "test-sanitized: mocha passed, no ASan/UBSan/LSan report (build-asan/Release/socketserver.node)"
else
  echo "test-sanitized: FAILED (status $status)" >&2
fi
exit "$status"
