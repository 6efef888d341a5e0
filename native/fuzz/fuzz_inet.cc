// libFuzzer target: an IP address from JS, [host, port, flowinfo?, scopeId?],
// through the same checks and numeric parsing the addon uses (never the
// resolver: a host that is not numeric is where the addon would call
// getaddrinfo, which this target does not).
//
// Input: 1 byte family selector and argument count, 3 x 8 bytes of doubles
// (port, flowinfo, scope id: any bit pattern, NaN and infinities included),
// then the host string (any bytes).
// Properties: the number checks accept exactly the integers in range; a
// host with a NUL is refused (it would be cut short at the NUL); a parsed
// address reads back as the same address, and its text parses again to the
// same bytes.
#include <arpa/inet.h>
#include <netinet/in.h>

#include <cmath>
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

namespace {

double TakeDouble(const uint8_t*& data, size_t& size) {
  double d = 0;
  if (size >= sizeof d) {
    std::memcpy(&d, data, sizeof d);
    data += sizeof d;
    size -= sizeof d;
  }
  return d;
}

bool IsIntegerIn(double d, double lo, double hi) {
  return d >= lo && d <= hi && std::floor(d) == d;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const uint8_t selector = data[0];
  data++;
  size--;
  const int family = (selector & 1) ? AF_INET6 : AF_INET;
  const int extra = (selector >> 1) % 3;  // IPv6: 0, 1 or 2 of flowinfo, scopeId
  const double dport = TakeDouble(data, size);
  const double dflow = TakeDouble(data, size);
  const double dscope = TakeDouble(data, size);
  const std::string host(reinterpret_cast<const char*>(data), size);

  AddrError herr = CheckHost(host);
  CHECK(static_cast<bool>(herr) == (host.find('\0') != std::string::npos));
  if (herr) return 0;

  int port = -1;
  AddrError perr = CheckPort(dport, &port);
  CHECK(static_cast<bool>(perr) == !IsIntegerIn(dport, 0, 65535));
  if (perr) return 0;
  CHECK(port >= 0 && port <= 65535 && port == dport);

  SockAddr addr;
  if (!ParseNumericInet(host, port, family, &addr)) {
    CHECK(addr.len == 0);  // untouched: the addon would resolve the name
    return 0;
  }
  CHECK(addr.Family() == family && addr.IsInet() && !addr.IsUnix());
  CHECK(addr.len == (family == AF_INET ? sizeof(sockaddr_in) : sizeof(sockaddr_in6)));
  if (family == AF_INET6 && extra >= 1) {
    uint32_t flow = 0;
    AddrError ferr = CheckFlowInfo(dflow, &flow);
    CHECK(static_cast<bool>(ferr) == !IsIntegerIn(dflow, 0, 0xfffff));
    if (ferr) return 0;
    SetFlowInfo(&addr, flow);
    if (extra >= 2) {
      uint32_t scope = 0;
      AddrError serr = CheckScopeId(dscope, &scope);
      CHECK(static_cast<bool>(serr) == !IsIntegerIn(dscope, 0, 4294967295.0));
      if (serr) return 0;
      SetScopeId(&addr, scope);
    }
  }

  AddressParts parts = DescribeAddress(addr);
  CHECK(parts.kind == (family == AF_INET ? AddressParts::kInet : AddressParts::kInet6));
  CHECK(parts.port == port);
  CHECK(!parts.host.empty() && parts.host.size() < INET6_ADDRSTRLEN);
  if (family == AF_INET6) {
    auto* sin6 = reinterpret_cast<const sockaddr_in6*>(&addr.storage);
    CHECK(parts.flowinfo == ntohl(sin6->sin6_flowinfo));
    CHECK(parts.scope_id == sin6->sin6_scope_id);
  }
  // The text the address reads back as is numeric and means the same address.
  SockAddr again;
  CHECK(ParseNumericInet(parts.host, parts.port, family, &again));
  if (family == AF_INET6) {
    SetFlowInfo(&again, parts.flowinfo);
    SetScopeId(&again, parts.scope_id);
  }
  CHECK(again.len == addr.len);
  CHECK(std::memcmp(&again.storage, &addr.storage, addr.len) == 0);
  return 0;
}
