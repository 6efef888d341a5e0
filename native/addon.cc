// Entry point. The addon is context-aware: everything it keeps lives in the
// per-environment Addon instance, so it loads in worker threads too.
#include "addon.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <cerrno>

#include "activation.h"
#include "connection.h"
#include "errors.h"
#include "fork.h"
#include "listener.h"
#include "proxy_protocol_napi.h"
#include "test_faults.h"

namespace socketserver {

Addon::Addon(Napi::Env env, Napi::Object exports) : dispatcher(new Dispatcher(env)) {
  LoadTestFaults(env);  // test-only switches (test_faults.h); throws on an unknown name
  Napi::Function connection = Connection::Init(env);
  Napi::Function listener = Listener::Init(env);
  connection_ctor = Napi::Persistent(connection);
  listener_ctor = Napi::Persistent(listener);

  Napi::Object constants = Napi::Object::New(env);
  auto c = [&](const char* name, int value) { constants.Set(name, Napi::Number::New(env, value)); };
  c("AF_INET", AF_INET);
  c("AF_INET6", AF_INET6);
  c("AF_UNIX", AF_UNIX);
  c("SOCK_STREAM", SOCK_STREAM);
  c("SOCK_DGRAM", SOCK_DGRAM);
  c("SOL_SOCKET", SOL_SOCKET);
  c("SO_REUSEADDR", SO_REUSEADDR);
  c("SO_REUSEPORT", SO_REUSEPORT);
  c("SO_RCVBUF", SO_RCVBUF);
  c("SO_SNDBUF", SO_SNDBUF);
  c("SO_KEEPALIVE", SO_KEEPALIVE);
  c("IPPROTO_TCP", IPPROTO_TCP);
  c("TCP_NODELAY", TCP_NODELAY);
  c("SHUT_RD", SHUT_RD);
  c("SHUT_WR", SHUT_WR);
  c("SHUT_RDWR", SHUT_RDWR);
  c("POLLIN", UV_READABLE);
  c("POLLOUT", UV_WRITABLE);
  c("EV_READY", kReady);
  c("EV_TIMEOUT", kTimeout);
  c("EV_WOKEN", kWoken);
  c("EV_ERROR", kError);

  InitFork(env, exports);
  InitActivation(env, exports);
  InitProxyProtocol(env, exports);
  exports.Set("adoptConnection", Napi::Function::New<Connection::Adopt>(env, "adoptConnection"));
  DefineAddon(exports, {
      InstanceMethod<&Addon::MakeSystemError>("makeSystemError", napi_enumerable),
      InstanceValue("Listener", listener, napi_enumerable),
      InstanceValue("Connection", connection, napi_enumerable),
      InstanceValue("constants", constants, napi_enumerable),
  });
}

// makeSystemError(errno, syscall): the same errors native calls throw, for
// failures reported asynchronously (a poll error, an error on the serve thread).
Napi::Value Addon::MakeSystemError(const Napi::CallbackInfo& info) {
  int64_t err = RequireInt64(info, 0, "errno");
  if (err < 0) err = -err;
  if (err > 4095) err = EIO;  // not an errno
  std::string syscall = OptionalString(info, 1, "syscall", "unknown");
  return SystemError(info.Env(), static_cast<int>(err), syscall.c_str()).Value();
}

}  // namespace socketserver

using SocketServerAddon = socketserver::Addon;
NODE_API_ADDON(SocketServerAddon)
