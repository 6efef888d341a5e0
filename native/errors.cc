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

namespace {
[[noreturn]] void ThrowArgType(Napi::Env env, const char* what, const char* type) {
  ThrowTypeError(env, "ERR_INVALID_ARG_TYPE", std::string("The \"") + what + "\" argument must be " + type);
}

Napi::Value Checked(const Napi::CallbackInfo& info, size_t i, const char* what, const char* type,
                    bool (Napi::Value::*is)() const) {
  Napi::Value v = info[i];
  if (!(v.*is)()) ThrowArgType(info.Env(), what, type);
  return v;
}
}  // namespace

double RequireNumber(const Napi::CallbackInfo& info, size_t i, const char* what) {
  return Checked(info, i, what, "of type number", &Napi::Value::IsNumber).As<Napi::Number>().DoubleValue();
}

int32_t RequireInt32(const Napi::CallbackInfo& info, size_t i, const char* what) {
  return Checked(info, i, what, "of type number", &Napi::Value::IsNumber).As<Napi::Number>().Int32Value();
}

int64_t RequireInt64(const Napi::CallbackInfo& info, size_t i, const char* what) {
  return Checked(info, i, what, "of type number", &Napi::Value::IsNumber).As<Napi::Number>().Int64Value();
}

bool RequireBoolean(const Napi::CallbackInfo& info, size_t i, const char* what) {
  return Checked(info, i, what, "of type boolean", &Napi::Value::IsBoolean).As<Napi::Boolean>().Value();
}

Napi::Function RequireFunction(const Napi::CallbackInfo& info, size_t i, const char* what) {
  return Checked(info, i, what, "of type function", &Napi::Value::IsFunction).As<Napi::Function>();
}

Napi::Object RequireObject(const Napi::CallbackInfo& info, size_t i, const char* what) {
  return Checked(info, i, what, "of type object", &Napi::Value::IsObject).As<Napi::Object>();
}

Napi::Array RequireArray(const Napi::CallbackInfo& info, size_t i, const char* what) {
  return Checked(info, i, what, "an instance of Array", &Napi::Value::IsArray).As<Napi::Array>();
}

std::string RequireString(const Napi::CallbackInfo& info, size_t i, const char* what) {
  return Checked(info, i, what, "of type string", &Napi::Value::IsString).As<Napi::String>().Utf8Value();
}

Napi::Uint8Array RequireUint8Array(const Napi::CallbackInfo& info, size_t i, const char* what) {
  Napi::Value v = info[i];
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array)
    ThrowArgType(info.Env(), what, "an instance of Buffer or Uint8Array");
  return v.As<Napi::Uint8Array>();
}

Napi::Uint32Array RequireUint32Array(const Napi::CallbackInfo& info, size_t i, const char* what,
                                     size_t min_length) {
  Napi::Value v = info[i];
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_uint32_array ||
      v.As<Napi::TypedArray>().ElementLength() < min_length)
    ThrowArgType(info.Env(), what, ("a Uint32Array of at least " + std::to_string(min_length) + " elements").c_str());
  return v.As<Napi::Uint32Array>();
}

bool IsMissing(const Napi::CallbackInfo& info, size_t i) {
  return info[i].IsUndefined() || info[i].IsNull();
}

int32_t OptionalInt32(const Napi::CallbackInfo& info, size_t i, const char* what, int32_t fallback) {
  return IsMissing(info, i) ? fallback : RequireInt32(info, i, what);
}

double OptionalNumber(const Napi::CallbackInfo& info, size_t i, const char* what, double fallback) {
  return IsMissing(info, i) ? fallback : RequireNumber(info, i, what);
}

bool OptionalBoolean(const Napi::CallbackInfo& info, size_t i, const char* what, bool fallback) {
  return IsMissing(info, i) ? fallback : RequireBoolean(info, i, what);
}

std::string OptionalString(const Napi::CallbackInfo& info, size_t i, const char* what,
                           const char* fallback) {
  return IsMissing(info, i) ? std::string(fallback) : RequireString(info, i, what);
}

}  // namespace socketserver
