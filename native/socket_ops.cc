#include "socket_ops.h"

#include <sys/socket.h>

#include <cerrno>
#include <string>

#include "errors.h"

namespace socketserver {

UniqueFd CreateSocket(Napi::Env env, int family, int type) {
  int fd = ::socket(family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) ThrowSystemError(env, errno, "socket");
  return UniqueFd(fd);
}

void RequireOpen(Napi::Env env, int fd, const char* syscall) {
  if (fd < 0) ThrowSystemError(env, EBADF, syscall);
}

namespace {
int IntArg(Napi::Env env, Napi::Value v, const char* what) {
  if (!v.IsNumber())
    ThrowTypeError(env, "ERR_INVALID_ARG_TYPE", std::string(what) + " must be a number");
  return v.As<Napi::Number>().Int32Value();
}
}  // namespace

void SetSockOpt(Napi::Env env, int fd, Napi::Value level, Napi::Value name,
                Napi::Value value) {
  RequireOpen(env, fd, "setsockopt");
  int lvl = IntArg(env, level, "level");
  int opt = IntArg(env, name, "option name");
  int rc;
  if (value.IsBuffer()) {
    auto b = value.As<Napi::Buffer<uint8_t>>();
    rc = ::setsockopt(fd, lvl, opt, b.Data(), b.Length());
  } else if (value.IsBoolean() || value.IsNumber()) {
    int v = value.IsBoolean() ? value.As<Napi::Boolean>().Value()
                              : value.As<Napi::Number>().Int32Value();
    rc = ::setsockopt(fd, lvl, opt, &v, sizeof v);
  } else {
    ThrowTypeError(env, "ERR_INVALID_ARG_TYPE",
                   "option value must be a number, boolean or Buffer");
  }
  if (rc != 0) ThrowSystemError(env, errno, "setsockopt");
}

Napi::Value GetSockOpt(Napi::Env env, int fd, Napi::Value level, Napi::Value name) {
  RequireOpen(env, fd, "getsockopt");
  int v = 0;
  socklen_t len = sizeof v;
  if (::getsockopt(fd, IntArg(env, level, "level"), IntArg(env, name, "option name"),
                   &v, &len) != 0)
    ThrowSystemError(env, errno, "getsockopt");
  return Napi::Number::New(env, v);
}

SockAddr GetSockName(Napi::Env env, int fd) {
  RequireOpen(env, fd, "getsockname");
  SockAddr a;
  a.len = sizeof a.storage;
  if (::getsockname(fd, a.Ptr(), &a.len) != 0) ThrowSystemError(env, errno, "getsockname");
  return a;
}

SockAddr GetPeerName(Napi::Env env, int fd) {
  RequireOpen(env, fd, "getpeername");
  SockAddr a;
  a.len = sizeof a.storage;
  if (::getpeername(fd, a.Ptr(), &a.len) != 0) ThrowSystemError(env, errno, "getpeername");
  return a;
}

ssize_t RecvNonBlocking(Napi::Env env, int fd, uint8_t* dst, size_t len) {
  RequireOpen(env, fd, "recv");
  ssize_t n = RetryOnEintr([&] { return ::recv(fd, dst, len, MSG_DONTWAIT); });
  if (n >= 0) return n;
  if (errno == EAGAIN || errno == EWOULDBLOCK) return -1;
  ThrowSystemError(env, errno, "recv");
}

ssize_t SendNonBlocking(Napi::Env env, int fd, const uint8_t* data, size_t len,
                        const SockAddr* to) {
  RequireOpen(env, fd, to ? "sendto" : "send");
  ssize_t n = RetryOnEintr([&] {
    return to ? ::sendto(fd, data, len, MSG_DONTWAIT | MSG_NOSIGNAL, to->Ptr(), to->len)
              : ::send(fd, data, len, MSG_DONTWAIT | MSG_NOSIGNAL);
  });
  if (n >= 0) return n;
  if (errno == EAGAIN || errno == EWOULDBLOCK) return -1;
  ThrowSystemError(env, errno, to ? "sendto" : "send", to);
}

}  // namespace socketserver
