#include "address.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/un.h>

#include <cstddef>
#include <cstring>

#include "errors.h"

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
  size_t n = len - base;
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

namespace {

int ParsePort(Napi::Env env, Napi::Value v) {
  if (!v.IsNumber())
    ThrowTypeError(env, "ERR_INVALID_ARG_TYPE", "port must be a number");
  double d = v.As<Napi::Number>().DoubleValue();
  if (!(d >= 0 && d <= 65535) || d != static_cast<int>(d))
    ThrowRangeError(env, "ERR_SOCKET_BAD_PORT",
                    "port must be an integer >= 0 and <= 65535");
  return static_cast<int>(d);
}

void Resolve(Napi::Env env, const std::string& host, int family, SockAddr& out) {
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
  if (rc != 0 || res == nullptr) {
    Napi::Error e = Napi::Error::New(
        env, std::string("getaddrinfo ENOTFOUND ") + host + ": " + gai_strerror(rc));
    e.Value().Set("code", "ENOTFOUND");
    e.Value().Set("syscall", "getaddrinfo");
    e.Value().Set("hostname", host);
    throw e;
  }
  std::memcpy(&out.storage, res->ai_addr, res->ai_addrlen);
  out.len = res->ai_addrlen;
  freeaddrinfo(res);
}

SockAddr ParseInet(Napi::Env env, Napi::Value value, int family) {
  if (!value.IsArray())
    ThrowTypeError(env, "ERR_INVALID_ARG_TYPE",
                   "an IP address must be an array [host, port]");
  Napi::Array arr = value.As<Napi::Array>();
  if (arr.Length() < 2 || arr.Length() > (family == AF_INET6 ? 4u : 2u))
    ThrowTypeError(env, "ERR_INVALID_ARG_VALUE",
                   family == AF_INET6
                       ? "an IPv6 address must be [host, port, flowinfo?, scopeId?]"
                       : "an IPv4 address must be [host, port]");
  Napi::Value h = arr.Get(0u);
  if (!h.IsString())
    ThrowTypeError(env, "ERR_INVALID_ARG_TYPE", "host must be a string");
  std::string host = h.As<Napi::String>().Utf8Value();
  int port = ParsePort(env, arr.Get(1u));

  SockAddr out;
  if (family == AF_INET) {
    auto* sin = reinterpret_cast<sockaddr_in*>(&out.storage);
    sin->sin_family = AF_INET;
    out.len = sizeof(sockaddr_in);
    if (host.empty()) {
      sin->sin_addr.s_addr = htonl(INADDR_ANY);
    } else if (host == "<broadcast>") {
      sin->sin_addr.s_addr = htonl(INADDR_BROADCAST);
    } else if (inet_pton(AF_INET, host.c_str(), &sin->sin_addr) != 1) {
      Resolve(env, host, AF_INET, out);
    }
    reinterpret_cast<sockaddr_in*>(&out.storage)->sin_port = htons(port);
  } else {
    auto* sin6 = reinterpret_cast<sockaddr_in6*>(&out.storage);
    sin6->sin6_family = AF_INET6;
    out.len = sizeof(sockaddr_in6);
    if (host.empty()) {
      sin6->sin6_addr = in6addr_any;
    } else if (inet_pton(AF_INET6, host.c_str(), &sin6->sin6_addr) != 1) {
      Resolve(env, host, AF_INET6, out);
    }
    sin6 = reinterpret_cast<sockaddr_in6*>(&out.storage);
    sin6->sin6_port = htons(port);
    if (arr.Length() > 2) {
      Napi::Value fi = arr.Get(2u);
      if (!fi.IsNumber())
        ThrowTypeError(env, "ERR_INVALID_ARG_TYPE", "flowinfo must be a number");
      double f = fi.As<Napi::Number>().DoubleValue();
      if (!(f >= 0 && f <= 0xfffff) || f != static_cast<uint32_t>(f))
        ThrowRangeError(env, "ERR_OUT_OF_RANGE", "flowinfo must be 0-1048575");
      sin6->sin6_flowinfo = htonl(static_cast<uint32_t>(f));
    }
    if (arr.Length() > 3) {
      Napi::Value si = arr.Get(3u);
      if (!si.IsNumber())
        ThrowTypeError(env, "ERR_INVALID_ARG_TYPE", "scopeId must be a number");
      double s = si.As<Napi::Number>().DoubleValue();
      if (!(s >= 0 && s <= 0xffffffffu) || s != static_cast<uint32_t>(s))
        ThrowRangeError(env, "ERR_OUT_OF_RANGE", "scopeId must be a 32-bit unsigned integer");
      sin6->sin6_scope_id = static_cast<uint32_t>(s);
    }
  }
  return out;
}

SockAddr ParseUnix(Napi::Env env, Napi::Value value) {
  std::string path;
  if (value.IsString()) {
    path = value.As<Napi::String>().Utf8Value();
  } else if (value.IsBuffer()) {
    auto b = value.As<Napi::Buffer<char>>();
    path.assign(b.Data(), b.Length());
  } else {
    ThrowTypeError(env, "ERR_INVALID_ARG_TYPE",
                   "a Unix socket address must be a string path");
  }
  SockAddr out;
  auto* sun = reinterpret_cast<sockaddr_un*>(&out.storage);
  sun->sun_family = AF_UNIX;
  const bool abstract = !path.empty() && path[0] == '\0';
  // A path needs room for its NUL terminator; an abstract name does not.
  const size_t max = sizeof(sun->sun_path) - (abstract ? 0 : 1);
  if (path.size() > max)
    ThrowRangeError(env, "ERR_SOCKETSERVER_PATH_TOO_LONG",
                    "Unix socket path is " + std::to_string(path.size()) +
                        " bytes, at most " + std::to_string(max) + " fit");
  if (!abstract && path.find('\0') != std::string::npos)
    ThrowTypeError(env, "ERR_INVALID_ARG_VALUE",
                   "a Unix socket path must not contain NUL bytes");
  std::memcpy(sun->sun_path, path.data(), path.size());
  // Exact length, as Linux and Python do: an abstract name is not padded.
  out.len = offsetof(sockaddr_un, sun_path) + path.size() + (abstract || path.empty() ? 0 : 1);
  return out;
}

}  // namespace

SockAddr ParseAddress(Napi::Env env, Napi::Value value, int family) {
  switch (family) {
    case AF_INET:
    case AF_INET6:
      return ParseInet(env, value, family);
    case AF_UNIX:
      return ParseUnix(env, value);
    default:
      ThrowRangeError(env, "ERR_SOCKETSERVER_UNSUPPORTED",
                      "unsupported address family " + std::to_string(family));
  }
}

Napi::Value AddressToJs(Napi::Env env, const SockAddr& addr) {
  if (addr.Family() == AF_INET) {
    Napi::Array a = Napi::Array::New(env, 2);
    a.Set(0u, Napi::String::New(env, addr.Host()));
    a.Set(1u, Napi::Number::New(env, addr.Port()));
    return a;
  }
  if (addr.Family() == AF_INET6) {
    auto* sin6 = reinterpret_cast<const sockaddr_in6*>(&addr.storage);
    Napi::Array a = Napi::Array::New(env, 4);
    a.Set(0u, Napi::String::New(env, addr.Host()));
    a.Set(1u, Napi::Number::New(env, addr.Port()));
    a.Set(2u, Napi::Number::New(env, ntohl(sin6->sin6_flowinfo)));
    a.Set(3u, Napi::Number::New(env, sin6->sin6_scope_id));
    return a;
  }
  if (addr.Family() == AF_UNIX || addr.len == 0) {
    std::string p = addr.UnixPath();
    return Napi::String::New(env, p.data(), p.size());
  }
  return env.Null();
}

}  // namespace socketserver
