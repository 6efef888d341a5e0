#include "errors.h"

#include <uv.h>

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
Napi::Object WithCode(Napi::Object error, const char* code) {
  error.Set("code", Napi::String::New(error.Env(), code));
  return error;
}
}  // namespace

void ThrowTypeError(Napi::Env env, const char* code, const std::string& message) {
  Napi::TypeError e = Napi::TypeError::New(env, message);
  WithCode(e.Value(), code);
  throw e;
}

void ThrowRangeError(Napi::Env env, const char* code, const std::string& message) {
  Napi::RangeError e = Napi::RangeError::New(env, message);
  WithCode(e.Value(), code);
  throw e;
}

}  // namespace socketserver
