// The one place that turns an errno value into a Node-style system error:
// an Error with `code` ('EADDRINUSE'), `errno` (negative, as Node reports it),
// `syscall`, and `address`/`port` or `path` where an address is known.
#pragma once

#include <napi.h>

namespace socketserver {

struct SockAddr;

Napi::Error SystemError(Napi::Env env, int err, const char* syscall,
                        const SockAddr* addr = nullptr);

[[noreturn]] inline void ThrowSystemError(Napi::Env env, int err,
                                          const char* syscall,
                                          const SockAddr* addr = nullptr) {
  throw SystemError(env, err, syscall, addr);
}

// Argument errors, thrown before any descriptor is touched.
[[noreturn]] void ThrowTypeError(Napi::Env env, const char* code,
                                 const std::string& message);
[[noreturn]] void ThrowRangeError(Napi::Env env, const char* code,
                                  const std::string& message);

}  // namespace socketserver
