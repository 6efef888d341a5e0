#include "test_faults.h"

#include <atomic>
#include <cstdlib>
#include <string>

#include "errors.h"

namespace socketserver {

namespace {

constexpr const char* kNames[] = {
    "childwatch_loop",
    "childwatch_poll_start",
    "serve_tsfn_call",
    "check_fork_lock",
};
static_assert(sizeof kNames / sizeof kNames[0] == static_cast<unsigned>(TestFault::kCount),
              "one name per TestFault");

struct Parsed {
  unsigned bits = 0;
  std::string unknown;  // the first name that is not a switch, if any
};

// What the variable said, parsed on first use (thread-safe) and never
// changed after: process-wide like the environment variable it mirrors.
const Parsed& Switches() {
  static const Parsed parsed = [] {
    Parsed p;
    const char* value = std::getenv("SOCKETSERVER_TEST_FAULTS");
    if (value == nullptr) return p;
    std::string list(value);
    size_t start = 0;
    while (start <= list.size()) {
      size_t end = list.find(',', start);
      if (end == std::string::npos) end = list.size();
      std::string name = list.substr(start, end - start);
      start = end + 1;
      if (name.empty()) continue;
      bool known = false;
      for (unsigned i = 0; i < static_cast<unsigned>(TestFault::kCount); i++) {
        if (name == kNames[i]) {
          p.bits |= 1u << i;
          known = true;
        }
      }
      if (!known && p.unknown.empty()) p.unknown = name;
    }
    return p;
  }();
  return parsed;
}

std::atomic<unsigned> g_bits{0};  // a copy of Switches().bits, for the hot reads

}  // namespace

void LoadTestFaults(Napi::Env env) {
  const Parsed& p = Switches();
  if (!p.unknown.empty()) {
    std::string known;
    for (const char* n : kNames) known += std::string(known.empty() ? "" : ", ") + n;
    ThrowTypeError(env, "ERR_INVALID_ARG_VALUE",
                   "SOCKETSERVER_TEST_FAULTS: unknown switch '" + p.unknown + "' (known: " + known + ")");
  }
  g_bits.store(p.bits, std::memory_order_relaxed);
}

bool TestFaultOn(TestFault fault) {
  return (g_bits.load(std::memory_order_relaxed) >> static_cast<unsigned>(fault)) & 1u;
}

}  // namespace socketserver
