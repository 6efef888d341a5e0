// The one place where the addon's errors are made (libuv's rule: errno
// names in one place), and the argument checks that throw them:
//
// - system errors: an errno value as a Node-style Error with `code`
//   ('EADDRINUSE'), `errno` (negative, as Node reports it), `syscall`, and
//   `address`/`port` or `path` where an address is known;
// - our own coded errors (ERR_SOCKETSERVER_*), and TypeError/RangeError
//   for bad arguments (ERR_INVALID_ARG_TYPE, ERR_OUT_OF_RANGE, ...);
// - Require*()/Optional*(): the type checks of a method's arguments.
//
// No other file sets a `code` or makes a Napi::Error itself.
#pragma once

#include <napi.h>

#include <cstddef>
#include <cstdint>
#include <string>

namespace socketserver {

struct SockAddr;

Napi::Error SystemError(Napi::Env env, int err, const char* syscall,
                        const SockAddr* addr = nullptr);

[[noreturn]] inline void ThrowSystemError(Napi::Env env, int err,
                                          const char* syscall,
                                          const SockAddr* addr = nullptr) {
  throw SystemError(env, err, syscall, addr);
}

// Every other error the addon throws with a `code` is made here too, so
// that no code is set by hand elsewhere.
//
// An Error (class Error) with `code`: a state the call cannot work in
// (ERR_SOCKETSERVER_BUSY, ERR_SOCKETSERVER_UNSUPPORTED).
Napi::Error CodedError(Napi::Env env, const char* code, const std::string& message);
[[noreturn]] void ThrowError(Napi::Env env, const char* code, const std::string& message);

// Argument errors, thrown before any descriptor is touched.
[[noreturn]] void ThrowTypeError(Napi::Env env, const char* code,
                                 const std::string& message);
[[noreturn]] void ThrowRangeError(Napi::Env env, const char* code,
                                  const std::string& message);

// An N-API call that failed (it gives a status, not an errno): a system
// error EINVAL whose `syscall` names the call, e.g. napi_get_uv_event_loop
// when there is no loop to watch on.
[[noreturn]] void ThrowNapiFailure(Napi::Env env, const char* call);

// A host name that did not resolve: code ENOTFOUND, syscall getaddrinfo,
// `hostname`, as Node's dns errors; `gai_rc` is getaddrinfo()'s result.
[[noreturn]] void ThrowGetAddrInfoError(Napi::Env env, const std::string& host, int gai_rc);

// Argument checks, as better-sqlite3's REQUIRE_ARGUMENT_*: argument `i` of
// the call must have the type, else a TypeError ERR_INVALID_ARG_TYPE that
// names it (`what`), thrown before anything is done. Nothing is converted
// unchecked. The Optional* forms take undefined (or a missing argument) and
// null as `fallback`.
double RequireNumber(const Napi::CallbackInfo& info, size_t i, const char* what);
int32_t RequireInt32(const Napi::CallbackInfo& info, size_t i, const char* what);
int64_t RequireInt64(const Napi::CallbackInfo& info, size_t i, const char* what);
bool RequireBoolean(const Napi::CallbackInfo& info, size_t i, const char* what);
Napi::Function RequireFunction(const Napi::CallbackInfo& info, size_t i, const char* what);
Napi::Object RequireObject(const Napi::CallbackInfo& info, size_t i, const char* what);
Napi::Array RequireArray(const Napi::CallbackInfo& info, size_t i, const char* what);
std::string RequireString(const Napi::CallbackInfo& info, size_t i, const char* what);
// A Buffer or another Uint8Array.
Napi::Uint8Array RequireUint8Array(const Napi::CallbackInfo& info, size_t i, const char* what);
// A Uint32Array of at least `min_length` elements.
Napi::Uint32Array RequireUint32Array(const Napi::CallbackInfo& info, size_t i, const char* what,
                                     size_t min_length);

bool IsMissing(const Napi::CallbackInfo& info, size_t i);  // undefined, absent or null
int32_t OptionalInt32(const Napi::CallbackInfo& info, size_t i, const char* what, int32_t fallback);
double OptionalNumber(const Napi::CallbackInfo& info, size_t i, const char* what, double fallback);
bool OptionalBoolean(const Napi::CallbackInfo& info, size_t i, const char* what, bool fallback);
std::string OptionalString(const Napi::CallbackInfo& info, size_t i, const char* what,
                           const char* fallback);

// The codes of our own errors (Node's own codes are written out).
inline constexpr const char kErrBusy[] = "ERR_SOCKETSERVER_BUSY";
inline constexpr const char kErrUnsupported[] = "ERR_SOCKETSERVER_UNSUPPORTED";

}  // namespace socketserver
