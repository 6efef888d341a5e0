// libFuzzer target: a socket address as the kernel hands it back (accept4,
// recvmmsg's msg_name, getsockname, getpeername), turned into what JS sees
// (DescribeAddress: [host, port], [host, port, flowinfo, scopeId], a Unix
// name) and into error messages (Host, Port, UnixPathForDisplay).
//
// Input: 4 bytes of length (socklen_t, any value: the kernel reports the
// full length of a name even when it did not fit), 1 byte family selector
// (AF_INET, AF_INET6, AF_UNIX, or the raw family bytes), then the
// sockaddr's bytes (sun_path need not be NUL-terminated).
// Properties: nothing is read outside the sockaddr_storage; a Unix name is
// at most sun_path's size, a path has no NUL, and a name that JS could
// give back parses to the same name.
#include <netinet/in.h>
#include <sys/un.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>

#include "../sockaddr.h"

using namespace socketserver;

#define CHECK(cond) \
  do {              \
    if (!(cond)) __builtin_trap(); \
  } while (0)

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 5) return 0;
  socklen_t len;
  std::memcpy(&len, data, sizeof len);
  const uint8_t selector = data[4];
  data += 5;
  size -= 5;

  SockAddr addr;
  std::memcpy(&addr.storage, data, std::min(size, sizeof addr.storage));
  static const int kFamilies[] = {AF_INET, AF_INET6, AF_UNIX};
  if (selector % 4 < 3) addr.storage.ss_family = static_cast<sa_family_t>(kFamilies[selector % 4]);
  // Mostly lengths the kernel can report, sometimes anything.
  addr.len = (selector & 0x80) ? len : len % (sizeof(sockaddr_storage) + 8);

  AddressParts parts = DescribeAddress(addr);
  const std::string host = addr.Host();
  const int port = addr.Port();
  const std::string path = addr.UnixPath();
  const std::string shown = addr.UnixPathForDisplay();
  CHECK(port >= 0 && port <= 65535);
  CHECK(host.size() < 46);
  CHECK(shown.size() == path.size());

  const size_t base = offsetof(sockaddr_un, sun_path);
  switch (addr.Family()) {
    case AF_INET:
      CHECK(parts.kind == AddressParts::kInet);
      CHECK(!parts.host.empty() && parts.host == host && parts.port == port);
      break;
    case AF_INET6:
      CHECK(parts.kind == AddressParts::kInet6);
      CHECK(!parts.host.empty() && parts.host == host && parts.port == port);
      break;
    case AF_UNIX:
      CHECK(parts.kind == AddressParts::kUnix && parts.path == path);
      break;
    default:
      CHECK(parts.kind == (addr.len == 0 ? AddressParts::kUnix : AddressParts::kNone));
      break;
  }
  if (addr.Family() == AF_UNIX) {
    CHECK(path.size() <= sizeof(sockaddr_un::sun_path));
    CHECK(path.size() <= (addr.len > base ? addr.len - base : 0));
    const bool abstract = !path.empty() && path[0] == '\0';
    if (!abstract) CHECK(path.find('\0') == std::string::npos);
    // What JS received, it can pass back (to sendTo or bind): same name.
    if (abstract || path.size() < sizeof(sockaddr_un::sun_path)) {
      SockAddr again;
      CHECK(!ParseUnixPath(path, &again));
      CHECK(again.UnixPath() == path);
    }
  }
  return 0;
}
