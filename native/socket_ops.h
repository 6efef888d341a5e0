// The socket system calls the addon makes on the main thread, each checked
// and retried on EINTR, with errors thrown as system errors (errors.h):
// creating a descriptor, options, names, and non-blocking recv/send.
#pragma once

#include <napi.h>
#include <sys/types.h>

#include <cstddef>
#include <cstdint>

#include "address.h"
#include "fd.h"

namespace socketserver {

// socket(family, type | SOCK_NONBLOCK | SOCK_CLOEXEC). Throws a system error.
UniqueFd CreateSocket(Napi::Env env, int family, int type);

// getsockopt() of an integer option. Throws a system error (EBADF,
// ENOTSOCK, ENOPROTOOPT).
int GetIntSockOpt(Napi::Env env, int fd, int level, int name);

// Takes `fd` as a socket of `family` and `type` (SO_DOMAIN, SO_TYPE must
// match: a wrong number fails here instead of becoming a server that reads
// some other file), made non-blocking and close-on-exec. Throws a system
// error (EBADF, ENOTSOCK) or a TypeError ERR_INVALID_ARG_VALUE; on any
// throw the caller still owns `fd`.
UniqueFd AdoptSocket(Napi::Env env, int fd, int family, int type);

// dup() of `fd`, close-on-exec. Throws a system error.
UniqueFd DupSocket(Napi::Env env, int fd);

// setSockOpt(level, name, value) and getSockOpt(level, name) of the JS
// classes: setsockopt with an integer (or boolean) value, or a Buffer for
// raw bytes; getsockopt of an integer. Arguments checked as errors.h says.
void SetSockOpt(const Napi::CallbackInfo& info, int fd);
Napi::Value GetSockOpt(const Napi::CallbackInfo& info, int fd);
SockAddr GetSockName(Napi::Env env, int fd);
SockAddr GetPeerName(Napi::Env env, int fd);

// Throws the system error EBADF of `syscall` unless `fd` is a live
// descriptor (the socket was closed).
void RequireOpen(Napi::Env env, int fd, const char* syscall);

// Receives into `dst` without blocking. Returns bytes received (0 at EOF),
// or -1 when the kernel would block. Throws a system error.
ssize_t RecvNonBlocking(Napi::Env env, int fd, uint8_t* dst, size_t len);

// Sends from JS-owned bytes without blocking. Returns bytes sent, or -1 when
// the kernel would block. Never raises SIGPIPE. Throws a system error.
ssize_t SendNonBlocking(Napi::Env env, int fd, const uint8_t* data, size_t len,
                        const SockAddr* to);

}  // namespace socketserver
