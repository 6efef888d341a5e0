// What the JS classes of both kinds of socket (Listener, Connection) share:
// the descriptor, its readiness waits, and the methods that are the same on
// both (fileno, setSockOpt/getSockOpt, getSockName, poll/cancelPoll,
// close), written once here. The native side of lib/socket.ts's common
// socket methods.
//
// A class derives from SocketWrap<itself> (instead of Napi::ObjectWrap),
// lists SocketMethods() among its own in Init(), and defines CloseNow():
// what closing it takes beyond the descriptor and its waits.
#pragma once

#include <napi.h>
#include <uv.h>

#include <initializer_list>
#include <vector>

#include "address.h"
#include "errors.h"
#include "fd.h"
#include "poll_watch.h"
#include "socket_ops.h"

namespace socketserver {

template <typename T>
class SocketWrap : public Napi::ObjectWrap<T> {
 public:
  using Descriptor = typename Napi::ObjectWrap<T>::PropertyDescriptor;

  explicit SocketWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<T>(info) {}

 protected:
  // The shared methods, then the class's own. (The shared ones are
  // registered by value: a pointer to a base's member, converted, is not a
  // template argument.)
  static std::vector<Descriptor> SocketMethods(std::initializer_list<Descriptor> own) {
    using Method = Napi::Value (T::*)(const Napi::CallbackInfo&);
    using Base = Napi::ObjectWrap<T>;
    std::vector<Descriptor> all = {
        Base::InstanceMethod("fileno", static_cast<Method>(&SocketWrap::Fileno)),
        Base::InstanceMethod("setSockOpt", static_cast<Method>(&SocketWrap::SetSockOpt)),
        Base::InstanceMethod("getSockOpt", static_cast<Method>(&SocketWrap::GetSockOpt)),
        Base::InstanceMethod("getSockName", static_cast<Method>(&SocketWrap::GetSockName)),
        Base::InstanceMethod("poll", static_cast<Method>(&SocketWrap::Poll)),
        Base::InstanceMethod("cancelPoll", static_cast<Method>(&SocketWrap::CancelPoll)),
        Base::InstanceMethod("close", static_cast<Method>(&SocketWrap::Close)),
    };
    all.insert(all.end(), own.begin(), own.end());
    return all;
  }

  // fileno() -> the descriptor, -1 once closed.
  Napi::Value Fileno(const Napi::CallbackInfo& info) {
    return Napi::Number::New(info.Env(), fd_.Get());
  }

  // setSockOpt(level, name, value: number | boolean | Buffer)
  Napi::Value SetSockOpt(const Napi::CallbackInfo& info) {
    socketserver::SetSockOpt(info, fd_.Get());
    return info.Env().Undefined();
  }

  // getSockOpt(level, name) -> number
  Napi::Value GetSockOpt(const Napi::CallbackInfo& info) {
    return socketserver::GetSockOpt(info, fd_.Get());
  }

  Napi::Value GetSockName(const Napi::CallbackInfo& info) {
    return AddressToJs(info.Env(), socketserver::GetSockName(info.Env(), fd_.Get()));
  }

  // poll(events, callback): callback(status, events) once the socket is ready.
  Napi::Value Poll(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    int events = RequireInt32(info, 0, "events");
    Napi::Function callback = RequireFunction(info, 1, "callback");
    RequireOpen(env, fd_.Get(), "uv_poll_start");
    watch_.Start(env, fd_.Get(), events, this->Value(), callback);
    return env.Undefined();
  }

  // cancelPoll(events?): both directions when none is given.
  Napi::Value CancelPoll(const Napi::CallbackInfo& info) {
    watch_.Cancel(OptionalInt32(info, 0, "events", UV_READABLE | UV_WRITABLE));
    return info.Env().Undefined();
  }

  Napi::Value Close(const Napi::CallbackInfo& info) {
    // An explicit close: whoever waits on the socket (a reply waiting to be
    // sent, a reader) hears of it.
    watch_.WakeAll();
    static_cast<T*>(this)->CloseNow();
    return info.Env().Undefined();
  }

  UniqueFd fd_;
  // Declared after fd_, so destroyed before it: libuv unregisters the
  // descriptor number, which must still be ours then.
  PollWatch watch_;
};

}  // namespace socketserver
