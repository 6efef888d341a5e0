// The datagram fast path, the native side of lib/datagram.ts: taking the
// next datagram into a pooled buffer with its sender handed over without
// building arrays, and replies, to an address (sendTo) or to the sender of
// the last datagram taken (sendToLast), whose address the sender cache
// (Listener::last_from_) still holds. Where a datagram reply is sent: here.
// They are methods of the Listener (listener.h), whose queue they read.
#include <netinet/in.h>
#include <sys/socket.h>

#include <cstring>
#include <string>

#include "errors.h"
#include "listener.h"

namespace socketserver {

// sendTo(buffer, address) -> bytes sent | null when the kernel would block.
Napi::Value Listener::SendTo(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Uint8Array buf = RequireUint8Array(info, 0, "data");
  SockAddr to = ParseAddress(env, info[1], family_);
  ssize_t n = SendNonBlocking(env, fd_.Get(), buf.Data(), buf.ByteLength(), &to);
  return n < 0 ? env.Null() : Napi::Number::New(env, static_cast<double>(n));
}

namespace {
// Whether two senders differ in what the host string shows: the IP address
// (not the port, flow label or scope), or a Unix socket's whole name.
bool SameHost(const SockAddr& a, const SockAddr& b) {
  if (a.len != b.len || a.Family() != b.Family()) return false;
  switch (a.Family()) {
    case AF_INET:
      return std::memcmp(&reinterpret_cast<const sockaddr_in*>(&a.storage)->sin_addr,
                         &reinterpret_cast<const sockaddr_in*>(&b.storage)->sin_addr,
                         sizeof(in_addr)) == 0;
    case AF_INET6:
      return std::memcmp(&reinterpret_cast<const sockaddr_in6*>(&a.storage)->sin6_addr,
                         &reinterpret_cast<const sockaddr_in6*>(&b.storage)->sin6_addr,
                         sizeof(in6_addr)) == 0;
    default:
      return std::memcmp(&a.storage, &b.storage, a.len) == 0;
  }
}
}  // namespace

// takeDatagram(meta: Uint32Array(4), out: { host }, pool?, offset?) ->
// Buffer | length copied into pool at offset: the next
// datagram, without building arrays in C++. meta gets [port, truncated,
// flowinfo, scopeId]; out.host is set only when the sender's host differs
// from the previous datagram's (a server mostly hears the same few hosts).
Napi::Value Listener::TakeDatagram(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (type_ != SOCK_DGRAM)
    ThrowTypeError(env, "ERR_INVALID_ARG_TYPE", "takeDatagram() on a stream socket");
  Napi::Uint32Array meta = RequireUint32Array(info, 0, "meta", 4);
  Napi::Object out = RequireObject(info, 1, "out");
  // The pool to copy the payload into (optional): (target, offset).
  const bool pooled = !IsMissing(info, 2);
  Napi::Uint8Array target;
  int64_t offset = 0;
  if (pooled) {
    target = RequireUint8Array(info, 2, "pool");
    offset = RequireInt64(info, 3, "offset");
  }
  Pending p = PopPending(env);
  if (!SameHost(p.addr, last_from_)) {
    Napi::Value host;
    if (p.addr.Family() == AF_INET || p.addr.Family() == AF_INET6) {
      host = Napi::String::New(env, p.addr.Host());
    } else {
      std::string path = p.addr.UnixPath();
      host = Napi::String::New(env, path.data(), path.size());
    }
    out.Set("host", host);
  }
  last_from_ = p.addr;
  uint32_t* m = meta.Data();
  m[0] = 0;
  m[1] = p.truncated ? 1 : 0;
  m[2] = 0;
  m[3] = 0;
  if (p.addr.Family() == AF_INET || p.addr.Family() == AF_INET6) m[0] = static_cast<uint32_t>(p.addr.Port());
  if (p.addr.Family() == AF_INET6) {
    auto* sin6 = reinterpret_cast<const sockaddr_in6*>(&p.addr.storage);
    m[2] = ntohl(sin6->sin6_flowinfo);
    m[3] = sin6->sin6_scope_id;
  }
  // With a pool (target: Uint8Array, offset): the payload is copied there
  // and its length returned, when it fits; else a Buffer of its own.
  if (pooled) {
    if (offset >= 0 && static_cast<uint64_t>(offset) <= target.ByteLength() &&
        p.data.size() <= target.ByteLength() - static_cast<size_t>(offset)) {
      if (!p.data.empty()) std::memcpy(target.Data() + offset, p.data.data(), p.data.size());
      return Napi::Number::New(env, static_cast<double>(p.data.size()));
    }
  }
  return Napi::Buffer<uint8_t>::Copy(env, p.data.data(), p.data.size());
}

// sendToLast(data, port?, flowinfo?, scopeId?) -> bytes | null: sendTo()
// to the host of the last datagram taken (the one out.host names), with
// the given port (IP) or exactly that address (Unix).
Napi::Value Listener::SendToLast(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Uint8Array buf = RequireUint8Array(info, 0, "data");
  SockAddr to = last_from_;
  if (family_ == AF_UNIX && to.len < sizeof(sa_family_t)) {
    // An unnamed sender (''): the address sendTo('') would make.
    to.storage.ss_family = AF_UNIX;
    to.len = sizeof(sa_family_t);
  }
  if (to.Family() != family_)
    ThrowTypeError(env, "ERR_INVALID_ARG_VALUE", "no datagram was taken to reply to");
  if (family_ == AF_INET || family_ == AF_INET6) SetInetParts(env, &to, info[1], info[2], info[3]);
  ssize_t n = SendNonBlocking(env, fd_.Get(), buf.Data(), buf.ByteLength(), &to);
  return n < 0 ? env.Null() : Napi::Number::New(env, static_cast<double>(n));
}

}  // namespace socketserver
