// A connected stream socket, as accepted by a Listener. I/O is attempted
// directly and without blocking; the JS layer waits on libuv's loop
// (poll()) only when the kernel says EAGAIN.
#pragma once

#include <napi.h>

#include "fd.h"
#include "poll_watch.h"
#include "socket_ops.h"

namespace socketserver {

class Connection : public Napi::ObjectWrap<Connection> {
 public:
  static Napi::Function Init(Napi::Env env);
  // Wraps an accepted descriptor; the new object owns it.
  static Napi::Object Wrap(Napi::Env env, UniqueFd fd);

  explicit Connection(const Napi::CallbackInfo& info);
  ~Connection() override;

 private:
  Napi::Value Fileno(const Napi::CallbackInfo& info);
  Napi::Value Recv(const Napi::CallbackInfo& info);
  Napi::Value RecvInto(const Napi::CallbackInfo& info);
  Napi::Value Send(const Napi::CallbackInfo& info);
  Napi::Value Poll(const Napi::CallbackInfo& info);
  Napi::Value CancelPoll(const Napi::CallbackInfo& info);
  Napi::Value Shutdown(const Napi::CallbackInfo& info);
  Napi::Value Close(const Napi::CallbackInfo& info);
  Napi::Value GetPeerName(const Napi::CallbackInfo& info);
  Napi::Value GetSockName(const Napi::CallbackInfo& info);
  Napi::Value SetSockOpt(const Napi::CallbackInfo& info);
  Napi::Value GetSockOpt(const Napi::CallbackInfo& info);

  void CloseNow();

  UniqueFd fd_;
  PollWatch watch_;
};

}  // namespace socketserver
