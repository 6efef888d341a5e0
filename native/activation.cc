#include "activation.h"

#include <fcntl.h>
#include <sys/socket.h>

#include <cerrno>

#include "errors.h"
#include "socket_ops.h"

namespace socketserver {
namespace {

int32_t RequireFd(const Napi::CallbackInfo& info) {
  int32_t fd = RequireInt32(info, 0, "fd");
  if (fd < 0) ThrowRangeError(info.Env(), "ERR_OUT_OF_RANGE", "fd must be >= 0");
  return fd;
}

// socketKind(fd) -> { family, type, listening }
Napi::Value SocketKind(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int32_t fd = RequireFd(info);
  Napi::Object kind = Napi::Object::New(env);
  kind.Set("family", Napi::Number::New(env, GetIntSockOpt(env, fd, SOL_SOCKET, SO_DOMAIN)));
  int type = GetIntSockOpt(env, fd, SOL_SOCKET, SO_TYPE);
  kind.Set("type", Napi::Number::New(env, type));
  // SO_ACCEPTCONN is defined for every socket; only a stream one can listen.
  kind.Set("listening", Napi::Boolean::New(env, GetIntSockOpt(env, fd, SOL_SOCKET, SO_ACCEPTCONN) != 0));
  return kind;
}

// setCloexec(fd): FD_CLOEXEC on, as sd_listen_fds() does.
Napi::Value SetCloexec(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int32_t fd = RequireFd(info);
  int flags = ::fcntl(fd, F_GETFD);
  if (flags < 0) ThrowSystemError(env, errno, "fcntl");
  if ((flags & FD_CLOEXEC) == 0 && ::fcntl(fd, F_SETFD, flags | FD_CLOEXEC) != 0)
    ThrowSystemError(env, errno, "fcntl");
  return env.Undefined();
}

}  // namespace

void InitActivation(Napi::Env env, Napi::Object exports) {
  exports.Set("socketKind", Napi::Function::New<SocketKind>(env, "socketKind"));
  exports.Set("setCloexec", Napi::Function::New<SetCloexec>(env, "setCloexec"));
}

}  // namespace socketserver
