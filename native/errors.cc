#include "errors.h"

#include <netdb.h>
#include <uv.h>

#include <cerrno>

#include <string>

#include "address.h"

namespace socketserver {

Napi::Error SystemError(Napi::Env env, int err, const char* syscall,
                        const SockAddr* addr) {
  // libuv names errors by their negative value, as Node's own errors do.
  const char* code = uv_err_name(-err);
  std::string message = std::string(syscall) + " " + code + ": " +
                        uv_strerror(-err);
  std::string host, path;
  int port = -1;
  if (addr != nullptr) {
    if (addr->IsUnix()) {
      path = addr->UnixPath();
      message += " " + addr->UnixPathForDisplay();
    } else if (addr->IsInet()) {
      host = addr->Host();
      port = addr->Port();
      message += " " + host + ":" + std::to_string(port);
    }
  }
  Napi::Error error = Napi::Error::New(env, message);
  Napi::Object obj = error.Value();
  obj.Set("errno", Napi::Number::New(env, -err));
  obj.Set("code", Napi::String::New(env, code));
  obj.Set("syscall", Napi::String::New(env, syscall));
  if (addr != nullptr) {
    if (addr->IsUnix()) {
      obj.Set("path", Napi::String::New(env, path));
    } else if (addr->IsInet()) {
      obj.Set("address", Napi::String::New(env, host));
      obj.Set("port", Napi::Number::New(env, port));
    }
  }
  return error;
}

namespace {
template <typename E>
E WithCode(E error, const char* code) {
  error.Value().Set("code", Napi::String::New(error.Env(), code));
  return error;
}
}  // namespace

Napi::Error CodedError(Napi::Env env, const char* code, const std::string& message) {
  return WithCode(Napi::Error::New(env, message), code);
}

void ThrowError(Napi::Env env, const char* code, const std::string& message) {
  throw CodedError(env, code, message);
}

void ThrowTypeError(Napi::Env env, const char* code, const std::string& message) {
  throw WithCode(Napi::TypeError::New(env, message), code);
}

void ThrowRangeError(Napi::Env env, const char* code, const std::string& message) {
  throw WithCode(Napi::RangeError::New(env, message), code);
}

void ThrowNapiFailure(Napi::Env env, const char* call) {
  ThrowSystemError(env, EINVAL, call);
}

void ThrowGetAddrInfoError(Napi::Env env, const std::string& host, int gai_rc) {
  Napi::Error e = CodedError(env, "ENOTFOUND",
                             "getaddrinfo ENOTFOUND " + host + ": " + gai_strerror(gai_rc));
  e.Value().Set("syscall", "getaddrinfo");
  e.Value().Set("hostname", host);
  throw e;
}

}  // namespace socketserver
