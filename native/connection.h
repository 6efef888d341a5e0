// A connected stream socket, as accepted by a Listener. I/O is attempted
// directly and without blocking; the JS layer waits on libuv's loop
// (poll()) only when the kernel says EAGAIN.
#pragma once

#include <napi.h>

#include "fd.h"
#include "socket_wrap.h"

namespace socketserver {

class Connection : public SocketWrap<Connection> {
 public:
  static Napi::Function Init(Napi::Env env);
  // Wraps an accepted descriptor; the new object owns it.
  static Napi::Object Wrap(Napi::Env env, UniqueFd fd);

  explicit Connection(const Napi::CallbackInfo& info);
  ~Connection() override;

 private:
  friend class SocketWrap<Connection>;  // Close() calls CloseNow()

  Napi::Value Recv(const Napi::CallbackInfo& info);
  Napi::Value RecvInto(const Napi::CallbackInfo& info);
  Napi::Value Send(const Napi::CallbackInfo& info);
  Napi::Value Shutdown(const Napi::CallbackInfo& info);
  Napi::Value GetPeerName(const Napi::CallbackInfo& info);

  void CloseNow();
};

}  // namespace socketserver
