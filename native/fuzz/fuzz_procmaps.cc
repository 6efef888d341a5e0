// libFuzzer target: /proc/self/maps text, as fork.cc reads it before
// fork() to mark every mapping MADV_DOFORK (ParseMapsRanges).
// Properties: no read outside the text (it need not end in a newline or
// hold only hex); every range returned is non-empty, in the user address
// range, and there is at most one per line.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>

#include "../procmaps.h"

#define CHECK(cond) \
  do {              \
    if (!(cond)) __builtin_trap(); \
  } while (0)

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string maps(reinterpret_cast<const char*>(data), size);
  const auto ranges = socketserver::ParseMapsRanges(maps);
  const size_t lines = static_cast<size_t>(std::count(maps.begin(), maps.end(), '\n')) + 1;
  CHECK(ranges.size() <= lines);
  for (const auto& r : ranges) {
    CHECK(r.start < r.end);
    CHECK(r.start < 0xffff800000000000UL);
  }
  return 0;
}
