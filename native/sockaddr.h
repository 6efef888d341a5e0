// Socket addresses as bytes: the sockaddr the addon hands to the kernel and
// the one the kernel hands back, and the checks and conversions between
// them and their parts (host, port, flowinfo, scope id, Unix path).
//
// Plain C++ with no N-API: address.cc turns JS values into these calls and
// their results (or AddrError) back into JS values and exceptions, and the
// libFuzzer targets (native/fuzz/) call the same functions directly.
#pragma once

#include <sys/socket.h>

#include <cstdint>
#include <string>
#include <utility>

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
  // `len` may be anything (it comes from the kernel): only the bytes of
  // sun_path it covers are read.
  std::string UnixPath() const;
  // The same, with the leading NUL of an abstract name shown as '@'.
  std::string UnixPathForDisplay() const;
};

// A malformed address: the N-API layer throws it as a TypeError (kType) or
// a RangeError (kRange) with this `code` and message.
struct AddrError {
  enum Kind { kNone, kType, kRange };
  Kind kind = kNone;
  const char* code = "";
  std::string message;

  explicit operator bool() const { return kind != kNone; }
  static AddrError Type(const char* code, std::string message) {
    return {kType, code, std::move(message)};
  }
  static AddrError Range(const char* code, std::string message) {
    return {kRange, code, std::move(message)};
  }
};

// A port, flowinfo or scope id as JS gives it (a double): integral and in
// range, or an error.
AddrError CheckPort(double d, int* port);
AddrError CheckFlowInfo(double d, uint32_t* flowinfo);
AddrError CheckScopeId(double d, uint32_t* scope_id);

// A host as JS gives it: refused if it has a NUL byte, which the C
// functions that take it (inet_pton, getaddrinfo) would take for its end:
// '127.0.0.1\0anything' must not mean 127.0.0.1 (Python: TypeError).
AddrError CheckHost(const std::string& host);

// Fills `out` (AF_INET or AF_INET6) from a numeric `host` ('' is "any",
// '<broadcast>' IPv4's broadcast address) and `port`. Returns false, with
// `out` untouched, when `host` is not numeric: a name for ResolveInet().
bool ParseNumericInet(const std::string& host, int port, int family, SockAddr* out);

// Resolves `host` with getaddrinfo (blocking, as Python does) and sets
// `port`. Returns 0, or the EAI_* code with `out` untouched.
int ResolveInet(const std::string& host, int port, int family, SockAddr* out);

// Sets an IPv6 address's flowinfo / scope id (host byte order in, as JS
// gives them).
void SetPort(SockAddr* addr, int port);  // IP families; a checked port (CheckPort)
void SetFlowInfo(SockAddr* addr, uint32_t flowinfo);
void SetScopeId(SockAddr* addr, uint32_t scope_id);

// A Unix socket name: a path (NUL-terminated in the sockaddr), '\0name' for
// the abstract namespace (every byte counts, no terminator), '' unnamed.
// `out` gets the exact length, as Linux and Python use it.
AddrError ParseUnixPath(const std::string& path, SockAddr* out);

// An address as JS shows it: [host, port], [host, port, flowinfo, scopeId],
// a Unix name, or nothing (null) for another family.
struct AddressParts {
  enum Kind { kNone, kInet, kInet6, kUnix };
  Kind kind = kNone;
  std::string host;
  int port = 0;
  uint32_t flowinfo = 0;  // host byte order
  uint32_t scope_id = 0;
  std::string path;
};
AddressParts DescribeAddress(const SockAddr& addr);

}  // namespace socketserver
