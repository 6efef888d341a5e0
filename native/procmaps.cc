#include "procmaps.h"

#include <cstdlib>

namespace socketserver {

std::vector<MapRange> ParseMapsRanges(const std::string& maps) {
  std::vector<MapRange> ranges;
  size_t pos = 0;
  while (pos < maps.size()) {
    size_t eol = maps.find('\n', pos);
    if (eol == std::string::npos) eol = maps.size();
    const char* line = maps.c_str() + pos;
    char* end = nullptr;
    unsigned long start = std::strtoul(line, &end, 16);
    if (end != nullptr && *end == '-') {
      unsigned long stop = std::strtoul(end + 1, nullptr, 16);
      // [vsyscall] lies outside the user address range; madvise refuses it.
      if (stop > start && start < 0xffff800000000000UL) ranges.push_back({start, stop});
    }
    pos = eol + 1;
  }
  return ranges;
}

}  // namespace socketserver
