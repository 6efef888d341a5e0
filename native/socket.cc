#include "socket.h"

#include <sys/socket.h>

#include <cerrno>
#include <cstdlib>
#include <new>
#include <vector>

#include "errors.h"

namespace socketserver {

UniqueFd CreateSocket(Napi::Env env, int family, int type) {
  int fd = ::socket(family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) ThrowSystemError(env, errno, "socket");
  return UniqueFd(fd);
}

void RequireOpen(Napi::Env env, int fd) {
  if (fd < 0) {
    Napi::Error e = Napi::Error::New(env, "the socket is closed");
    e.Value().Set("code", "EBADF");
    e.Value().Set("errno", -EBADF);
    throw e;
  }
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
  RequireOpen(env, fd);
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
  RequireOpen(env, fd);
  int v = 0;
  socklen_t len = sizeof v;
  if (::getsockopt(fd, IntArg(env, level, "level"), IntArg(env, name, "option name"),
                   &v, &len) != 0)
    ThrowSystemError(env, errno, "getsockopt");
  return Napi::Number::New(env, v);
}

SockAddr GetSockName(Napi::Env env, int fd) {
  RequireOpen(env, fd);
  SockAddr a;
  a.len = sizeof a.storage;
  if (::getsockname(fd, a.Ptr(), &a.len) != 0) ThrowSystemError(env, errno, "getsockname");
  return a;
}

SockAddr GetPeerName(Napi::Env env, int fd) {
  RequireOpen(env, fd);
  SockAddr a;
  a.len = sizeof a.storage;
  if (::getpeername(fd, a.Ptr(), &a.len) != 0) ThrowSystemError(env, errno, "getpeername");
  return a;
}

ssize_t SendNonBlocking(Napi::Env env, int fd, const uint8_t* data, size_t len,
                        const SockAddr* to) {
  RequireOpen(env, fd);
  for (;;) {
    ssize_t n = to ? ::sendto(fd, data, len, MSG_DONTWAIT | MSG_NOSIGNAL, to->Ptr(), to->len)
                   : ::send(fd, data, len, MSG_DONTWAIT | MSG_NOSIGNAL);
    if (n >= 0) return n;
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) return -1;
    ThrowSystemError(env, errno, to ? "sendto" : "send", to);
  }
}

int PollWatch::Waiting() const { return waiting_; }

uv_close_cb FreeOnClose() { return reinterpret_cast<uv_close_cb>(&std::free); }

uv_poll_t* NewPollHandle() {
  void* p = std::malloc(sizeof(uv_poll_t));
  if (p == nullptr) throw std::bad_alloc();
  return static_cast<uv_poll_t*>(p);
}

void CallFromLoop(napi_env env, napi_value recv, napi_value fn, size_t argc, const napi_value* argv) {
  if (recv == nullptr) napi_get_undefined(env, &recv);
  napi_value result;
  if (napi_make_callback(env, nullptr, recv, fn, argc, argv, &result) == napi_pending_exception) {
    // A terminating environment (worker.terminate()) is the one case our
    // callbacks meet: clear it and stop; anything else reaches the process
    // as an uncaught exception, as Node's own callbacks' errors do.
    napi_value error;
    if (napi_get_and_clear_last_exception(env, &error) == napi_ok) {
      bool is_error = false;
      napi_is_error(env, error, &is_error);
      if (is_error) napi_fatal_exception(env, error);
    }
  }
}


void PollWatch::Apply() {
  if (handle_ != nullptr && armed_ != started_) {
    if (armed_ == 0) {
      uv_poll_stop(handle_);
    } else if (uv_poll_start(handle_, armed_, OnPoll) != 0) {
      // The descriptor can no longer be watched: stop; the waiters hear of
      // it from their next recv()/send().
      armed_ = 0;
      uv_poll_stop(handle_);
    }
    started_ = armed_;
  }
  if (armed_ == 0 && waiting_ == 0) ResetQuietly(owner_);
}

void PollWatch::Start(Napi::Env env, int fd, int events, Napi::Object owner,
                      Napi::Function callback) {
  if (events != UV_READABLE && events != UV_WRITABLE)
    ThrowRangeError(env, "ERR_OUT_OF_RANGE", "poll events must be POLLIN or POLLOUT");
  if (waiting_ & events) {
    Napi::Error e = Napi::Error::New(env, "a wait in that direction is already pending on this socket");
    e.Value().Set("code", "ERR_SOCKETSERVER_BUSY");
    throw e;
  }
  if (handle_ == nullptr) {
    uv_loop_t* loop = nullptr;
    if (napi_get_uv_event_loop(env, &loop) != napi_ok || loop == nullptr)
      throw Napi::Error::New(env, "no event loop");
    uv_poll_t* h = NewPollHandle();
    int rc = uv_poll_init_socket(loop, h, fd);
    if (rc != 0) {
      std::free(h);
      ThrowSystemError(env, -rc, "uv_poll_init");
    }
    h->data = this;
    handle_ = h;
    env_ = env;
  }
  if ((started_ & events) == 0) {
    int rc = uv_poll_start(handle_, started_ | events, OnPoll);
    if (rc != 0) ThrowSystemError(env, -rc, "uv_poll_start");
    started_ |= events;
  }
  armed_ |= events;
  waiting_ |= events;
  if (owner_.IsEmpty()) owner_ = Napi::Persistent(owner);
  Napi::FunctionReference& slot = events == UV_READABLE ? on_read_ : on_write_;
  if (slot.IsEmpty() || !slot.Value().StrictEquals(callback)) slot = Napi::Persistent(callback);
}

void PollWatch::Cancel(int events) {
  waiting_ &= ~events;
  armed_ &= ~events;
  Apply();
}

void PollWatch::WakeAll() {
  if (waiting_ == 0 || env_ == nullptr) return;
  int fired = waiting_;
  armed_ = 0;
  Fire(this, fired, UV_EBADF, 0);
}

void PollWatch::Close() {
  ResetQuietly(on_read_);
  ResetQuietly(on_write_);
  ResetQuietly(owner_);
  armed_ = started_ = waiting_ = 0;
  if (handle_ != nullptr) {
    handle_->data = nullptr;
    uv_close(reinterpret_cast<uv_handle_t*>(handle_), FreeOnClose());
    handle_ = nullptr;
  }
}

void PollWatch::Fire(PollWatch* self, int fired, int status, int events) {
  napi_env env = self->env_;
  fired &= self->waiting_;
  self->waiting_ &= ~fired;
  // Take what the calls need first: a callback may start a new wait or
  // close the socket (and so free `self`). The owner stays alive meanwhile
  // through the handle scope.
  napi_handle_scope scope;
  if (napi_open_handle_scope(env, &scope) != napi_ok) return;
  napi_value read_cb = nullptr, write_cb = nullptr, owner = nullptr;
  if (fired & UV_READABLE) napi_get_reference_value(env, self->on_read_, &read_cb);
  if (fired & UV_WRITABLE) napi_get_reference_value(env, self->on_write_, &write_cb);
  if (!self->owner_.IsEmpty()) napi_get_reference_value(env, self->owner_, &owner);
  self->Apply();
  napi_value argv[2];
  napi_create_int32(env, status, &argv[0]);
  napi_create_int32(env, events, &argv[1]);
  if (read_cb != nullptr) CallFromLoop(env, owner, read_cb, 2, argv);
  if (write_cb != nullptr) CallFromLoop(env, owner, write_cb, 2, argv);
  napi_close_handle_scope(env, scope);
}

void PollWatch::OnPoll(uv_poll_t* handle, int status, int events) {
  auto* self = static_cast<PollWatch*>(handle->data);
  if (self == nullptr) return;
  // Errors and hang-ups wake every waiter: the next recv()/send() reports them.
  int fired = status < 0 ? self->armed_ : (events & self->armed_);
  // A direction that fired with nobody waiting is disarmed (it would spin).
  self->armed_ &= ~(fired & ~self->waiting_);
  if (status < 0) self->armed_ = 0;
  Fire(self, fired, status, events);
}

}  // namespace socketserver
