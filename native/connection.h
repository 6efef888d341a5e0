// A connected stream socket, as accepted by a Listener. I/O is attempted
// directly and without blocking; the JS layer waits on libuv's loop
// (poll()) only when the kernel says EAGAIN.
#pragma once

#include <napi.h>

#include <memory>

#include "fd.h"
#include "proxy_protocol.h"
#include "socket_wrap.h"

namespace socketserver {

class Connection : public SocketWrap<Connection> {
 public:
  static Napi::Function Init(Napi::Env env);
  // Wraps an accepted descriptor; the new object owns it.
  static Napi::Object Wrap(Napi::Env env, UniqueFd fd);
  // adoptConnection(fd) -> Connection: takes ownership of a connected
  // stream socket's descriptor handed over by another thread of this
  // process (a worker thread's request, lib/worker-pool.ts). Descriptors
  // are process-wide; the caller must own `fd` and give it up by calling.
  static Napi::Value Adopt(const Napi::CallbackInfo& info);

  explicit Connection(const Napi::CallbackInfo& info);
  ~Connection() override;

 private:
  friend class SocketWrap<Connection>;  // Close() calls CloseNow()

  Napi::Value Recv(const Napi::CallbackInfo& info);
  Napi::Value RecvInto(const Napi::CallbackInfo& info);
  Napi::Value Send(const Napi::CallbackInfo& info);
  Napi::Value Shutdown(const Napi::CallbackInfo& info);
  Napi::Value GetPeerName(const Napi::CallbackInfo& info);
  // release() -> fd: gives up the descriptor without closing it (handed
  // to a worker thread); the object is closed afterwards (fileno() -1).
  Napi::Value Release(const Napi::CallbackInfo& info);
  // proxyStep(mode) -> null | [header, rest]: one step of the PROXY
  // protocol header the connection starts with (proxy_protocol_napi.h).
  Napi::Value ProxyStep(const Napi::CallbackInfo& info);

  void CloseNow();

  // The header being read (proxyStep), until it is complete or failed.
  std::unique_ptr<ProxyParser> proxy_;
};

}  // namespace socketserver
