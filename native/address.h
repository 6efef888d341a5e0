// Socket addresses: parsing the JS form ([host, port], [host, port, flowinfo,
// scopeId], or a Unix path, '\0name' for Linux's abstract namespace) into a
// sockaddr, and back.
#pragma once

#include <napi.h>
#include <sys/socket.h>

#include <string>

namespace socketserver {

struct SockAddr {
  sockaddr_storage storage{};
  socklen_t len = 0;

  sockaddr* Ptr() { return reinterpret_cast<sockaddr*>(&storage); }
  const sockaddr* Ptr() const { return reinterpret_cast<const sockaddr*>(&storage); }
  int Family() const { return storage.ss_family; }
  bool IsInet() const;
  bool IsUnix() const;

  std::string Host() const;   // numeric host, IP families only
  int Port() const;           // IP families only
  // The name as JS sees it: a path, '\0name' for an abstract name, '' unnamed.
  std::string UnixPath() const;
  // The same, with the leading NUL of an abstract name shown as '@'.
  std::string UnixPathForDisplay() const;
};

// Parses `value` as an address of `family`; resolves host names (blocking,
// as Python does), '' meaning "any". Throws TypeError/RangeError on a
// malformed address, a system error when a host name does not resolve.
SockAddr ParseAddress(Napi::Env env, Napi::Value value, int family);

Napi::Value AddressToJs(Napi::Env env, const SockAddr& addr);

}  // namespace socketserver
