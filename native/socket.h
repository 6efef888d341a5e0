// What listening and connected sockets share: creating a descriptor, socket
// options, names, and waiting for readiness on the main loop (PollWatch).
#pragma once

#include <napi.h>
#include <uv.h>

#include "address.h"
#include "fd.h"

namespace socketserver {

// socket(family, type | SOCK_NONBLOCK | SOCK_CLOEXEC). Throws a system error.
UniqueFd CreateSocket(Napi::Env env, int family, int type);

// setsockopt with an integer (or boolean) value, or a Buffer for raw bytes.
void SetSockOpt(Napi::Env env, int fd, Napi::Value level, Napi::Value name,
                Napi::Value value);
Napi::Value GetSockOpt(Napi::Env env, int fd, Napi::Value level, Napi::Value name);
SockAddr GetSockName(Napi::Env env, int fd);
SockAddr GetPeerName(Napi::Env env, int fd);

// Throws TypeError unless `fd` is a live descriptor (the socket was closed).
void RequireOpen(Napi::Env env, int fd);

// Sends from JS-owned bytes without blocking. Returns bytes sent, or -1 when
// the kernel would block. Never raises SIGPIPE. Throws a system error.
ssize_t SendNonBlocking(Napi::Env env, int fd, const uint8_t* data, size_t len,
                        const SockAddr* to);

// One-shot readiness waits on libuv's main loop for one descriptor: one
// waiter for readability and one for writability, independent of each
// other. Start() calls `callback(status, events)` once when its direction is
// ready (or with a negative status on error). The owner object stays alive
// while a wait is pending. Close() must run before the descriptor is closed,
// because libuv unregisters the descriptor number from epoll.
class PollWatch {
 public:
  PollWatch() = default;
  PollWatch(const PollWatch&) = delete;
  PollWatch& operator=(const PollWatch&) = delete;
  ~PollWatch() { Close(); }

  // `events` is UV_READABLE or UV_WRITABLE.
  void Start(Napi::Env env, int fd, int events, Napi::Object owner,
             Napi::Function callback);
  // Cancels pending waits of the given directions without calling back.
  void Cancel(int events = UV_READABLE | UV_WRITABLE);
  void Close();

 private:
  static void OnPoll(uv_poll_t* handle, int status, int events);
  int Active() const;
  void Update();

  uv_poll_t* handle_ = nullptr;
  napi_env env_ = nullptr;
  Napi::ObjectReference owner_;
  Napi::FunctionReference on_read_;
  Napi::FunctionReference on_write_;
};

}  // namespace socketserver
