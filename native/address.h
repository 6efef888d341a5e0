// Socket addresses in JS form ([host, port], [host, port, flowinfo,
// scopeId], or a Unix path, '\0name' for Linux's abstract namespace): the
// N-API side of sockaddr.h, which holds the byte-level logic.
#pragma once

#include <napi.h>

#include "sockaddr.h"

namespace socketserver {

// Parses `value` as an address of `family`; resolves host names (blocking,
// as Python does), '' meaning "any". Throws TypeError/RangeError on a
// malformed address, a system error when a host name does not resolve.
SockAddr ParseAddress(Napi::Env env, Napi::Value value, int family);

Napi::Value AddressToJs(Napi::Env env, const SockAddr& addr);

// Sets the port (and for IPv6 the flowinfo and scope id; undefined: 0) of
// an IP address, checked as ParseAddress() checks them.
void SetInetParts(Napi::Env env, SockAddr* addr, Napi::Value port, Napi::Value flowinfo,
                  Napi::Value scope_id);

}  // namespace socketserver
