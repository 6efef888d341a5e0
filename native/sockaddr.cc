#include "sockaddr.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/un.h>

#include <algorithm>
#include <cstddef>
#include <cstring>

namespace socketserver {

bool SockAddr::IsInet() const {
  return Family() == AF_INET || Family() == AF_INET6;
}

bool SockAddr::IsUnix() const { return Family() == AF_UNIX; }

std::string SockAddr::Host() const {
  char buf[INET6_ADDRSTRLEN] = "";
  if (Family() == AF_INET) {
    auto* sin = reinterpret_cast<const sockaddr_in*>(&storage);
    inet_ntop(AF_INET, &sin->sin_addr, buf, sizeof buf);
  } else if (Family() == AF_INET6) {
    auto* sin6 = reinterpret_cast<const sockaddr_in6*>(&storage);
    inet_ntop(AF_INET6, &sin6->sin6_addr, buf, sizeof buf);
  }
  return buf;
}

int SockAddr::Port() const {
  if (Family() == AF_INET)
    return ntohs(reinterpret_cast<const sockaddr_in*>(&storage)->sin_port);
  if (Family() == AF_INET6)
    return ntohs(reinterpret_cast<const sockaddr_in6*>(&storage)->sin6_port);
  return 0;
}

std::string SockAddr::UnixPath() const {
  auto* sun = reinterpret_cast<const sockaddr_un*>(&storage);
  const size_t base = offsetof(sockaddr_un, sun_path);
  if (len <= base) return "";
  // The kernel reports a name's full length even where it did not fit (and
  // a 108-byte path's length counts a terminator sun_path has no room for):
  // never read past sun_path.
  size_t n = std::min<size_t>(len - base, sizeof(sun->sun_path));
  if (sun->sun_path[0] == '\0') {
    // Abstract name: every byte counts, NULs included.
    return std::string(sun->sun_path, n);
  }
  return std::string(sun->sun_path, strnlen(sun->sun_path, n));
}

std::string SockAddr::UnixPathForDisplay() const {
  std::string p = UnixPath();
  if (!p.empty() && p[0] == '\0') p[0] = '@';
  return p;
}

AddrError CheckPort(double d, int* port) {
  if (!(d >= 0 && d <= 65535) || d != static_cast<int>(d))
    return AddrError::Range("ERR_SOCKET_BAD_PORT", "port must be an integer >= 0 and <= 65535");
  *port = static_cast<int>(d);
  return {};
}

AddrError CheckFlowInfo(double d, uint32_t* flowinfo) {
  if (!(d >= 0 && d <= 0xfffff) || d != static_cast<uint32_t>(d))
    return AddrError::Range("ERR_OUT_OF_RANGE", "flowinfo must be 0-1048575");
  *flowinfo = static_cast<uint32_t>(d);
  return {};
}

AddrError CheckScopeId(double d, uint32_t* scope_id) {
  if (!(d >= 0 && d <= 0xffffffffu) || d != static_cast<uint32_t>(d))
    return AddrError::Range("ERR_OUT_OF_RANGE", "scopeId must be a 32-bit unsigned integer");
  *scope_id = static_cast<uint32_t>(d);
  return {};
}

AddrError CheckHost(const std::string& host) {
  if (host.find('\0') != std::string::npos)
    return AddrError::Type("ERR_INVALID_ARG_VALUE", "host name must not contain NUL bytes");
  return {};
}

bool ParseNumericInet(const std::string& host, int port, int family, SockAddr* out) {
  SockAddr a;
  if (family == AF_INET) {
    auto* sin = reinterpret_cast<sockaddr_in*>(&a.storage);
    sin->sin_family = AF_INET;
    a.len = sizeof(sockaddr_in);
    if (host.empty()) {
      sin->sin_addr.s_addr = htonl(INADDR_ANY);
    } else if (host == "<broadcast>") {
      sin->sin_addr.s_addr = htonl(INADDR_BROADCAST);
    } else if (inet_pton(AF_INET, host.c_str(), &sin->sin_addr) != 1) {
      return false;
    }
  } else if (family == AF_INET6) {
    auto* sin6 = reinterpret_cast<sockaddr_in6*>(&a.storage);
    sin6->sin6_family = AF_INET6;
    a.len = sizeof(sockaddr_in6);
    if (host.empty()) {
      sin6->sin6_addr = in6addr_any;
    } else if (inet_pton(AF_INET6, host.c_str(), &sin6->sin6_addr) != 1) {
      return false;
    }
  } else {
    return false;
  }
  SetPort(&a, port);
  *out = a;
  return true;
}

int ResolveInet(const std::string& host, int port, int family, SockAddr* out) {
  addrinfo hints{};
  hints.ai_family = family;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_ADDRCONFIG;
  addrinfo* res = nullptr;
  int rc = getaddrinfo(host.c_str(), nullptr, &hints, &res);
  if (rc == EAI_ADDRFAMILY || rc == EAI_NONAME || rc == EAI_NODATA) {
    // Retry without AI_ADDRCONFIG: on a machine with only loopback, glibc
    // refuses names such as 'localhost' for a family no interface carries.
    hints.ai_flags = 0;
    rc = getaddrinfo(host.c_str(), nullptr, &hints, &res);
  }
  if (rc != 0 || res == nullptr) return rc != 0 ? rc : EAI_NONAME;
  SockAddr a;
  std::memcpy(&a.storage, res->ai_addr, res->ai_addrlen);
  a.len = res->ai_addrlen;
  freeaddrinfo(res);
  SetPort(&a, port);
  *out = a;
  return 0;
}

void SetPort(SockAddr* addr, int port) {
  if (addr->Family() == AF_INET)
    reinterpret_cast<sockaddr_in*>(&addr->storage)->sin_port = htons(static_cast<uint16_t>(port));
  else if (addr->Family() == AF_INET6)
    reinterpret_cast<sockaddr_in6*>(&addr->storage)->sin6_port = htons(static_cast<uint16_t>(port));
}

void SetFlowInfo(SockAddr* addr, uint32_t flowinfo) {
  if (addr->Family() == AF_INET6)
    reinterpret_cast<sockaddr_in6*>(&addr->storage)->sin6_flowinfo = htonl(flowinfo);
}

void SetScopeId(SockAddr* addr, uint32_t scope_id) {
  if (addr->Family() == AF_INET6)
    reinterpret_cast<sockaddr_in6*>(&addr->storage)->sin6_scope_id = scope_id;
}

AddrError ParseUnixPath(const std::string& path, SockAddr* out) {
  SockAddr a;
  auto* sun = reinterpret_cast<sockaddr_un*>(&a.storage);
  sun->sun_family = AF_UNIX;
  const bool abstract = !path.empty() && path[0] == '\0';
  // A path needs room for its NUL terminator; an abstract name does not.
  const size_t max = sizeof(sun->sun_path) - (abstract ? 0 : 1);
  if (path.size() > max)
    return AddrError::Range("ERR_SOCKETSERVER_PATH_TOO_LONG",
                            "Unix socket path is " + std::to_string(path.size()) +
                                " bytes, at most " + std::to_string(max) + " fit");
  if (!abstract && path.find('\0') != std::string::npos)
    return AddrError::Type("ERR_INVALID_ARG_VALUE",
                           "a Unix socket path must not contain NUL bytes");
  std::memcpy(sun->sun_path, path.data(), path.size());
  // Exact length, as Linux and Python do: an abstract name is not padded.
  a.len = offsetof(sockaddr_un, sun_path) + path.size() + (abstract || path.empty() ? 0 : 1);
  *out = a;
  return {};
}

AddressParts DescribeAddress(const SockAddr& addr) {
  AddressParts p;
  if (addr.Family() == AF_INET) {
    p.kind = AddressParts::kInet;
    p.host = addr.Host();
    p.port = addr.Port();
  } else if (addr.Family() == AF_INET6) {
    auto* sin6 = reinterpret_cast<const sockaddr_in6*>(&addr.storage);
    p.kind = AddressParts::kInet6;
    p.host = addr.Host();
    p.port = addr.Port();
    p.flowinfo = ntohl(sin6->sin6_flowinfo);
    p.scope_id = sin6->sin6_scope_id;
  } else if (addr.Family() == AF_UNIX || addr.len == 0) {
    p.kind = AddressParts::kUnix;
    p.path = addr.UnixPath();
  }
  return p;
}

}  // namespace socketserver
