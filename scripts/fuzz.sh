#!/usr/bin/env bash
# libFuzzer targets for the native routines that interpret untrusted bytes
# (issue 5):  npm run fuzz [-- SECONDS [TARGET...]]
#
# Builds every native/fuzz/fuzz_*.cc (or the TARGETs named) with clang
# -fsanitize=fuzzer,address,undefined against the addon's plain-C++ sources
# (no N-API, no Node: see FUZZ_SOURCES) into build-fuzz/, then runs each for
# SECONDS (default 25) starting from its committed seed corpus
# native/fuzz/corpus/<target>/ (new inputs go to build-fuzz/corpus/<target>/,
# which is not committed). Any crash, sanitizer report, failed property
# (__builtin_trap) or timeout fails the run; the input is saved as
# build-fuzz/artifacts/<target>-crash-* : fix the code, then add the input to
# native/fuzz/corpus/<target>/ so every later run replays it.
#
# Needs clang with libFuzzer (Debian: apt-get install clang libclang-rt-14-dev).
set -euo pipefail
cd "$(dirname "$0")/.."

SECONDS_EACH="${1:-25}"
shift || true
FUZZ_SOURCES=(native/sockaddr.cc native/procmaps.cc native/proxy_protocol.cc)

CXX="${FUZZ_CXX:-}"
if [ -z "$CXX" ]; then
  for c in clang++ clang++-19 clang++-16 clang++-15 clang++-14; do
    if command -v "$c" >/dev/null 2>&1; then CXX=$c; break; fi
  done
fi
[ -n "$CXX" ] || { echo "fuzz.sh: clang++ not found (apt-get install clang libclang-rt-14-dev)" >&2; exit 2; }

if [ $# -gt 0 ]; then
  targets=("$@")
else
  targets=()
  for f in native/fuzz/fuzz_*.cc; do targets+=("$(basename "$f" .cc)"); done
fi

OUT=build-fuzz
mkdir -p "$OUT/artifacts"
FLAGS=(-std=c++17 -g -O1 -fno-omit-frame-pointer
       -fsanitize=fuzzer,address,undefined,float-cast-overflow -fno-sanitize-recover=all
       -Wall -Wextra -Inative)

export ASAN_OPTIONS="halt_on_error=1:detect_leaks=1:strict_string_checks=1"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1"

declare -a summary
status=0
for t in "${targets[@]}"; do
  src="native/fuzz/$t.cc"
  [ -f "$src" ] || { echo "fuzz.sh: no $src" >&2; exit 2; }
  echo "== build $t ($CXX)"
  "$CXX" "${FLAGS[@]}" "$src" "${FUZZ_SOURCES[@]}" -o "$OUT/$t"
  seeds="native/fuzz/corpus/$t"
  work="$OUT/corpus/$t"
  mkdir -p "$seeds" "$work"
  dict=()
  [ -f "native/fuzz/$t.dict" ] && dict=(-dict="native/fuzz/$t.dict")
  # Inputs up to 512 bytes; a PROXY v2 header with TLVs (HAProxy's with
  # send-proxy-v2-ssl-cn and a unique id) can be longer.
  max_len=512
  [ "$t" = fuzz_proxy_protocol ] && max_len=2048
  echo "== run $t for ${SECONDS_EACH}s (seeds: $(find "$seeds" -type f | wc -l))"
  log="$OUT/$t.log"
  rc=0
  "$OUT/$t" -max_total_time="$SECONDS_EACH" -timeout=10 -rss_limit_mb=2048 -max_len="$max_len" \
    -print_final_stats=1 -artifact_prefix="$OUT/artifacts/$t-" "${dict[@]}" \
    "$work" "$seeds" >"$log" 2>&1 || rc=$?
  done_line=$(grep -E '^#[0-9]+[[:space:]]+DONE' "$log" | tail -1 || true)
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  cov=$(echo "$done_line" | sed -n 's/.* cov: \([0-9]*\).*/\1/p')
  ft=$(echo "$done_line" | sed -n 's/.* ft: \([0-9]*\).*/\1/p')
  corp=$(echo "$done_line" | sed -n 's/.* corp: \([0-9]*\)\/.*/\1/p')
  if [ "$rc" -ne 0 ]; then
    status=1
    echo "!! $t FAILED (exit $rc): last lines of $log" >&2
    tail -40 "$log" >&2
    summary+=("$(printf '%-16s FAILED (see %s)' "$t" "$log")")
  else
    summary+=("$(printf '%-16s %10s execs  cov %5s  ft %5s  corpus %5s' "$t" "${execs:-?}" "${cov:-?}" "${ft:-?}" "${corp:-?}")")
  fi
done

echo "== fuzz summary (${SECONDS_EACH}s each)"
printf '%s\n' "${summary[@]}"
exit "$status"
