#include "connection.h"

#include <sys/socket.h>

#include <cerrno>
#include <memory>

#include "addon.h"
#include "errors.h"
#include "proxy_protocol_napi.h"
#include "socket_ops.h"

namespace socketserver {


Napi::Function Connection::Init(Napi::Env env) {
  return DefineClass(
      env, "Connection",
      SocketMethods({
          InstanceMethod<&Connection::Recv>("recv"),
          InstanceMethod<&Connection::RecvInto>("recvInto"),
          InstanceMethod<&Connection::Send>("send"),
          InstanceMethod<&Connection::Shutdown>("shutdown"),
          InstanceMethod<&Connection::GetPeerName>("getPeerName"),
          InstanceMethod<&Connection::Release>("release"),
          InstanceMethod<&Connection::ProxyStep>("proxyStep"),
      }));
}

Napi::Object Connection::Wrap(Napi::Env env, UniqueFd fd) {
  Addon* addon = env.GetInstanceData<Addon>();
  Napi::Object obj = addon->connection_ctor.New({});
  Connection* c = Connection::Unwrap(obj);
  c->fd_ = std::move(fd);
  return obj;
}

Napi::Value Connection::Adopt(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int32_t fd = RequireInt32(info, 0, "fd");
  if (fd < 0) ThrowRangeError(env, "ERR_OUT_OF_RANGE", "fd must be >= 0");
  // Only a stream socket is adopted: a wrong number must fail here, not
  // become a Connection that reads some other file.
  if (GetIntSockOpt(env, fd, SOL_SOCKET, SO_TYPE) != SOCK_STREAM)
    ThrowTypeError(env, "ERR_INVALID_ARG_VALUE", "adoptConnection: fd is not a stream socket");
  return Wrap(env, UniqueFd(fd));
}

Napi::Value Connection::ProxyStep(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  ProxyMode mode = ProxyModeFromJs(env, RequireInt32(info, 0, "mode"));
  RequireOpen(env, fd_.Get(), "recv");
  return socketserver::ProxyStep(env, fd_.Get(), mode, &proxy_);
}

Napi::Value Connection::Release(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  RequireOpen(env, fd_.Get(), "release");
  // The poll handle goes first, while the descriptor is still ours.
  watch_.Close();
  return Napi::Number::New(env, fd_.Release());
}

Connection::Connection(const Napi::CallbackInfo& info)
    : SocketWrap<Connection>(info) {}

Connection::~Connection() {
  try {
    CloseNow();
  } catch (...) {
    // Destructors must not throw (a Worker's teardown can make N-API fail).
  }
}

void Connection::CloseNow() {
  // The poll handle goes first: libuv unregisters the descriptor number,
  // which must still be ours when it does.
  watch_.Close();
  fd_.Reset();
}

// recv(n) -> Buffer (empty at EOF) | null when the kernel would block.
Napi::Value Connection::Recv(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int64_t want = RequireInt64(info, 0, "bufsize");
  RequireOpen(env, fd_.Get(), "recv");
  if (want < 0) ThrowRangeError(env, "ERR_OUT_OF_RANGE", "bufsize must be >= 0");
  size_t n = static_cast<size_t>(want);
  // recv() lands in the environment's scratch buffer first, so that a
  // Buffer of the exact size can be made; only a larger read allocates.
  Addon* addon = env.GetInstanceData<Addon>();
  std::unique_ptr<uint8_t[]> big;
  uint8_t* dst = addon->scratch.get();
  if (n > Addon::kScratchSize) {
    big.reset(new uint8_t[n]);
    dst = big.get();
  }
  ssize_t got = RecvNonBlocking(env, fd_.Get(), dst, n);
  if (got < 0) return env.Null();
  return Napi::Buffer<uint8_t>::Copy(env, dst, static_cast<size_t>(got));
}

// recvInto(target: Uint8Array, offset, length) -> bytes received (0 at
// EOF) | null when the kernel would block. Lands straight in JS memory: the
// JS side hands out slices of one pooled ArrayBuffer, as Node's own reads
// do, instead of a new ArrayBuffer (a malloc) per read.
Napi::Value Connection::RecvInto(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Uint8Array target = RequireUint8Array(info, 0, "target");
  int64_t offset = RequireInt64(info, 1, "offset");
  int64_t length = RequireInt64(info, 2, "length");
  RequireOpen(env, fd_.Get(), "recv");
  if (offset < 0 || length < 0 || static_cast<uint64_t>(offset) + static_cast<uint64_t>(length) > target.ByteLength())
    ThrowRangeError(env, "ERR_OUT_OF_RANGE", "recvInto: offset/length outside the target");
  ssize_t got = RecvNonBlocking(env, fd_.Get(), target.Data() + offset, static_cast<size_t>(length));
  return got < 0 ? env.Null() : Napi::Number::New(env, static_cast<double>(got));
}

// send(buffer, offset?) -> bytes sent | null when the kernel would block.
Napi::Value Connection::Send(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Uint8Array buf = RequireUint8Array(info, 0, "data");
  size_t offset = IsMissing(info, 1) ? 0 : static_cast<uint32_t>(RequireInt64(info, 1, "offset"));
  if (offset > buf.ByteLength()) offset = buf.ByteLength();
  ssize_t n = SendNonBlocking(env, fd_.Get(), buf.Data() + offset,
                              buf.ByteLength() - offset, nullptr);
  return n < 0 ? env.Null() : Napi::Number::New(env, static_cast<double>(n));
}

Napi::Value Connection::Shutdown(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int how = RequireInt32(info, 0, "how");
  RequireOpen(env, fd_.Get(), "shutdown");
  if (::shutdown(fd_.Get(), how) != 0)
    ThrowSystemError(env, errno, "shutdown");
  return env.Undefined();
}

Napi::Value Connection::GetPeerName(const Napi::CallbackInfo& info) {
  return AddressToJs(info.Env(), socketserver::GetPeerName(info.Env(), fd_.Get()));
}

}  // namespace socketserver
