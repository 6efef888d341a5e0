// libFuzzer target: a Unix socket name from JS (any bytes: a path, '\0name'
// for the abstract namespace) parsed into a sockaddr_un, then read back as
// JS would see it.  Properties: never reads or writes outside the sockaddr;
// an accepted name has the exact length Linux expects and reads back
// unchanged; a refused one is too long or a path with a NUL in it.
#include <sys/un.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "../sockaddr.h"

using socketserver::AddrError;
using socketserver::ParseUnixPath;
using socketserver::SockAddr;

#define CHECK(cond) \
  do {              \
    if (!(cond)) {  \
      __builtin_trap(); \
    }               \
  } while (0)

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path(reinterpret_cast<const char*>(data), size);
  SockAddr addr;
  AddrError err = ParseUnixPath(path, &addr);
  const bool abstract = !path.empty() && path[0] == '\0';
  const size_t base = offsetof(sockaddr_un, sun_path);
  if (err) {
    const bool too_long = path.size() > sizeof(sockaddr_un::sun_path) - (abstract ? 0 : 1);
    const bool nul = !abstract && path.find('\0') != std::string::npos;
    CHECK(too_long || nul);
    CHECK(addr.len == 0);  // untouched
    return 0;
  }
  CHECK(addr.Family() == AF_UNIX);
  CHECK(addr.IsUnix() && !addr.IsInet());
  CHECK(addr.len == base + path.size() + (abstract || path.empty() ? 0 : 1));
  CHECK(addr.len <= sizeof(sockaddr_un));
  CHECK(addr.UnixPath() == path);
  std::string shown = addr.UnixPathForDisplay();
  CHECK(shown.size() == path.size());
  if (abstract) CHECK(shown[0] == '@');
  return 0;
}
