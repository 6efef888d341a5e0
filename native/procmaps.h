// /proc/self/maps as text: the address ranges of its lines. Plain C++ (no
// N-API), so that fork.cc and the libFuzzer target (native/fuzz/) share it.
#pragma once

#include <string>
#include <vector>

namespace socketserver {

struct MapRange {
  unsigned long start;
  unsigned long end;
};

// The "start-end" ranges (hex) that begin the lines of `maps`, in order,
// leaving out empty or reversed ones and those outside the user address
// range ([vsyscall], which madvise refuses). Lines that do not start so are
// skipped.
std::vector<MapRange> ParseMapsRanges(const std::string& maps);

}  // namespace socketserver
