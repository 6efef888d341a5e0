#include "address.h"

#include <netdb.h>
#include <sys/socket.h>

#include <string>

#include "errors.h"

namespace socketserver {

namespace {

void ThrowIf(Napi::Env env, const AddrError& e) {
  if (e.kind == AddrError::kType) ThrowTypeError(env, e.code, e.message);
  if (e.kind == AddrError::kRange) ThrowRangeError(env, e.code, e.message);
}

double Number(Napi::Env env, Napi::Value v, const char* what) {
  if (!v.IsNumber())
    ThrowTypeError(env, "ERR_INVALID_ARG_TYPE", std::string(what) + " must be a number");
  return v.As<Napi::Number>().DoubleValue();
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
  ThrowIf(env, CheckHost(host));
  int port = 0;
  ThrowIf(env, CheckPort(Number(env, arr.Get(1u), "port"), &port));

  SockAddr out;
  if (!ParseNumericInet(host, port, family, &out)) {
    int rc = ResolveInet(host, port, family, &out);
    if (rc != 0) {
      ThrowGetAddrInfoError(env, host, rc);
    }
  }
  if (family == AF_INET6 && arr.Length() > 2) {
    uint32_t flowinfo = 0;
    ThrowIf(env, CheckFlowInfo(Number(env, arr.Get(2u), "flowinfo"), &flowinfo));
    SetFlowInfo(&out, flowinfo);
  }
  if (family == AF_INET6 && arr.Length() > 3) {
    uint32_t scope_id = 0;
    ThrowIf(env, CheckScopeId(Number(env, arr.Get(3u), "scopeId"), &scope_id));
    SetScopeId(&out, scope_id);
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
  ThrowIf(env, ParseUnixPath(path, &out));
  return out;
}

}  // namespace

void SetInetParts(Napi::Env env, SockAddr* addr, Napi::Value port, Napi::Value flowinfo,
                  Napi::Value scope_id) {
  int p = 0;
  ThrowIf(env, CheckPort(Number(env, port, "port"), &p));
  SetPort(addr, p);
  if (addr->Family() != AF_INET6) return;
  uint32_t f = 0, s = 0;
  if (!flowinfo.IsUndefined()) ThrowIf(env, CheckFlowInfo(Number(env, flowinfo, "flowinfo"), &f));
  if (!scope_id.IsUndefined()) ThrowIf(env, CheckScopeId(Number(env, scope_id, "scopeId"), &s));
  SetFlowInfo(addr, f);
  SetScopeId(addr, s);
}

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
  AddressParts p = DescribeAddress(addr);
  switch (p.kind) {
    case AddressParts::kInet: {
      Napi::Array a = Napi::Array::New(env, 2);
      a.Set(0u, Napi::String::New(env, p.host));
      a.Set(1u, Napi::Number::New(env, p.port));
      return a;
    }
    case AddressParts::kInet6: {
      Napi::Array a = Napi::Array::New(env, 4);
      a.Set(0u, Napi::String::New(env, p.host));
      a.Set(1u, Napi::Number::New(env, p.port));
      a.Set(2u, Napi::Number::New(env, p.flowinfo));
      a.Set(3u, Napi::Number::New(env, p.scope_id));
      return a;
    }
    case AddressParts::kUnix:
      return Napi::String::New(env, p.path.data(), p.path.size());
    case AddressParts::kNone:
      break;
  }
  return env.Null();
}

}  // namespace socketserver
