#include "socket_ops.h"

#include <fcntl.h>
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

int GetIntSockOpt(Napi::Env env, int fd, int level, int name) {
  int value = 0;
  socklen_t len = sizeof(value);
  if (::getsockopt(fd, level, name, &value, &len) != 0) ThrowSystemError(env, errno, "getsockopt");
  return value;
}

UniqueFd AdoptSocket(Napi::Env env, int fd, int family, int type) {
  int domain = GetIntSockOpt(env, fd, SOL_SOCKET, SO_DOMAIN);
  int kind = GetIntSockOpt(env, fd, SOL_SOCKET, SO_TYPE);
  if (domain != family || kind != type)
    ThrowTypeError(env, "ERR_INVALID_ARG_VALUE",
                   "fd " + std::to_string(fd) + " is a socket of family " + std::to_string(domain) +
                       " and type " + std::to_string(kind) + ", not family " + std::to_string(family) +
                       " and type " + std::to_string(type));
  int flags = ::fcntl(fd, F_GETFL);
  if (flags < 0) ThrowSystemError(env, errno, "fcntl");
  if ((flags & O_NONBLOCK) == 0 && ::fcntl(fd, F_SETFL, flags | O_NONBLOCK) != 0)
    ThrowSystemError(env, errno, "fcntl");
  int fdflags = ::fcntl(fd, F_GETFD);
  if (fdflags < 0) ThrowSystemError(env, errno, "fcntl");
  if ((fdflags & FD_CLOEXEC) == 0 && ::fcntl(fd, F_SETFD, fdflags | FD_CLOEXEC) != 0)
    ThrowSystemError(env, errno, "fcntl");
  return UniqueFd(fd);
}

UniqueFd DupSocket(Napi::Env env, int fd) {
  RequireOpen(env, fd, "dup");
  int copy = ::fcntl(fd, F_DUPFD_CLOEXEC, 0);
  if (copy < 0) ThrowSystemError(env, errno, "dup");
  return UniqueFd(copy);
}

void RequireOpen(Napi::Env env, int fd, const char* syscall) {
  if (fd < 0) ThrowSystemError(env, EBADF, syscall);
}

void SetSockOpt(const Napi::CallbackInfo& info, int fd) {
  Napi::Env env = info.Env();
  int lvl = RequireInt32(info, 0, "level");
  int opt = RequireInt32(info, 1, "name");
  Napi::Value value = info[2];
  if (!value.IsBuffer() && !value.IsBoolean() && !value.IsNumber())
    ThrowTypeError(env, "ERR_INVALID_ARG_TYPE",
                   "The \"value\" argument must be of type number or boolean, or a Buffer");
  RequireOpen(env, fd, "setsockopt");
  int rc;
  if (value.IsBuffer()) {
    auto b = value.As<Napi::Buffer<uint8_t>>();
    rc = ::setsockopt(fd, lvl, opt, b.Data(), b.Length());
  } else {
    int v = value.IsBoolean() ? value.As<Napi::Boolean>().Value()
                              : value.As<Napi::Number>().Int32Value();
    rc = ::setsockopt(fd, lvl, opt, &v, sizeof v);
  }
  if (rc != 0) ThrowSystemError(env, errno, "setsockopt");
}

Napi::Value GetSockOpt(const Napi::CallbackInfo& info, int fd) {
  Napi::Env env = info.Env();
  int lvl = RequireInt32(info, 0, "level");
  int opt = RequireInt32(info, 1, "name");
  RequireOpen(env, fd, "getsockopt");
  return Napi::Number::New(env, GetIntSockOpt(env, fd, lvl, opt));
}

namespace {
// getsockname() or getpeername(), whose signatures are the same.
SockAddr NameOf(Napi::Env env, int fd, int (*get)(int, sockaddr*, socklen_t*), const char* syscall) {
  RequireOpen(env, fd, syscall);
  SockAddr a;
  a.len = sizeof a.storage;
  if (get(fd, a.Ptr(), &a.len) != 0) ThrowSystemError(env, errno, syscall);
  return a;
}
}  // namespace

SockAddr GetSockName(Napi::Env env, int fd) { return NameOf(env, fd, ::getsockname, "getsockname"); }

SockAddr GetPeerName(Napi::Env env, int fd) { return NameOf(env, fd, ::getpeername, "getpeername"); }

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
