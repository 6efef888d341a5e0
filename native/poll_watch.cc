#include "poll_watch.h"

#include "addon.h"

#include <cerrno>
#include <cstdlib>
#include <new>
#include <vector>

#include "errors.h"

namespace socketserver {

int PollWatch::Waiting() const { return waiting_; }

uv_close_cb FreeOnClose() { return reinterpret_cast<uv_close_cb>(&std::free); }

uv_poll_t* NewPollHandle() {
  void* p = std::malloc(sizeof(uv_poll_t));
  if (p == nullptr) throw std::bad_alloc();
  return static_cast<uv_poll_t*>(p);
}

namespace {
// Whether the environment can still run JavaScript: false once it is torn
// down (worker.terminate(), process.exit() in a worker). N-API has no query
// for it, but refuses a call that may run JavaScript then (a coercion), as
// Node itself checks before it reports a callback's exception.
bool CanRunJs(napi_env env) {
  napi_value value, result;
  return napi_get_boolean(env, true, &value) == napi_ok && napi_coerce_to_bool(env, value, &result) == napi_ok;
}
}  // namespace

bool ReportThrown(napi_env env) {
  napi_value thrown;
  if (napi_get_and_clear_last_exception(env, &thrown) != napi_ok) return false;
  // Terminating: what is pending is the termination itself; say nothing.
  if (!CanRunJs(env)) return false;
  // Whatever was thrown (an Error or not) reaches the process as an
  // uncaught exception, as what Node's own callbacks throw does.
  napi_fatal_exception(env, thrown);
  // With no handler, that ended the environment.
  return CanRunJs(env);
}

bool CallFromLoop(napi_env env, napi_value recv, napi_value fn, size_t argc, const napi_value* argv) {
  if (recv == nullptr) napi_get_undefined(env, &recv);
  napi_value result;
  if (napi_make_callback(env, nullptr, recv, fn, argc, argv, &result) == napi_pending_exception)
    return ReportThrown(env);
  return true;
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
  if (armed_ == 0 && waiting_ == 0 && queued_ == 0) ResetQuietly(owner_);
}

namespace {
Dispatcher* DispatcherOf(napi_env env) {
  void* data = nullptr;
  if (env == nullptr || napi_get_instance_data(env, &data) != napi_ok || data == nullptr) return nullptr;
  return static_cast<Addon*>(data)->dispatcher.get();
}
}  // namespace

void PollWatch::Start(Napi::Env env, int fd, int events, Napi::Object owner,
                      Napi::Function callback) {
  if (events != UV_READABLE && events != UV_WRITABLE)
    ThrowRangeError(env, "ERR_OUT_OF_RANGE", "poll events must be POLLIN or POLLOUT");
  if (waiting_ & events) {
    ThrowError(env, kErrBusy, "a wait in that direction is already pending on this socket");
  }
  if (handle_ == nullptr) {
    uv_loop_t* loop = nullptr;
    if (napi_get_uv_event_loop(env, &loop) != napi_ok || loop == nullptr)
      ThrowNapiFailure(env, "napi_get_uv_event_loop");
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
  if (queued_ != 0) {
    queued_ &= ~events;
    if (queued_ == 0) {
      if (Dispatcher* d = DispatcherOf(env_)) d->Forget(this);
    }
  }
  Apply();
}

void PollWatch::WakeAll() {
  if (env_ == nullptr) return;
  // Waits that fired but whose callbacks have not run yet are woken too.
  int fired = waiting_ | queued_;
  if (fired == 0) return;
  if (queued_ != 0) {
    queued_ = 0;
    if (Dispatcher* d = DispatcherOf(env_)) d->Forget(this);
  }
  waiting_ = fired;
  armed_ = 0;
  Fire(this, fired, UV_EBADF, 0);
}

void PollWatch::Close() {
  if (queued_ != 0) {
    queued_ = 0;
    if (Dispatcher* d = DispatcherOf(env_)) d->Forget(this);
  }
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

PollWatch::Waiters PollWatch::TakeWaiters(napi_env env, int fired, int status, int events) {
  Waiters w;
  if (fired & UV_READABLE) napi_get_reference_value(env, on_read_, &w.read_cb);
  if (fired & UV_WRITABLE) napi_get_reference_value(env, on_write_, &w.write_cb);
  if (!owner_.IsEmpty()) napi_get_reference_value(env, owner_, &w.owner);
  if (w.owner == nullptr) napi_get_undefined(env, &w.owner);
  napi_create_int32(env, status, &w.argv[0]);
  napi_create_int32(env, events, &w.argv[1]);
  Apply();
  return w;
}

bool PollWatch::CallWaiters(napi_env env, const Waiters& w, bool in_scope) {
  for (napi_value cb : {w.read_cb, w.write_cb}) {
    if (cb == nullptr) continue;
    if (in_scope) {
      napi_value result;
      if (napi_call_function(env, w.owner, cb, 2, w.argv, &result) == napi_pending_exception &&
          !ReportThrown(env))
        return false;
    } else if (!CallFromLoop(env, w.owner, cb, 2, w.argv)) {
      return false;
    }
  }
  return true;
}

void PollWatch::Fire(PollWatch* self, int fired, int status, int events) {
  napi_env env = self->env_;
  fired &= self->waiting_;
  self->waiting_ &= ~fired;
  napi_handle_scope scope;
  if (napi_open_handle_scope(env, &scope) != napi_ok) return;
  CallWaiters(env, self->TakeWaiters(env, fired, status, events), /* in_scope */ false);
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
  fired &= self->waiting_;
  if (fired == 0) {
    self->Apply();
    return;
  }
  Dispatcher* d = DispatcherOf(self->env_);
  if (d != nullptr) {
    // The waiters' callbacks run after the poll phase, with the others'.
    self->waiting_ &= ~fired;
    bool was_queued = self->queued_ != 0;
    self->queued_ |= fired;
    self->queued_status_ = status;
    self->queued_events_ = events;
    if (was_queued || d->Queue(self)) {
      self->Apply();
      return;
    }
    self->queued_ &= ~fired;
    self->waiting_ |= fired;
  }
  Fire(self, fired, status, events);
}

Dispatcher::~Dispatcher() {
  for (PollWatch* w : queue_) if (w != nullptr) w->queued_ = 0;
  for (PollWatch* w : running_) if (w != nullptr) w->queued_ = 0;
  if (check_ != nullptr) {
    check_->data = nullptr;
    uv_close(reinterpret_cast<uv_handle_t*>(check_), FreeOnClose());
    check_ = nullptr;
  }
  // Quietly: the environment may be going away.
  if (async_ != nullptr) napi_async_destroy(env_, async_);
  if (resource_ != nullptr) napi_delete_reference(env_, resource_);
}

bool Dispatcher::Queue(PollWatch* watch) {
  if (check_ == nullptr) {
    uv_loop_t* loop = nullptr;
    if (napi_get_uv_event_loop(env_, &loop) != napi_ok || loop == nullptr) return false;
    void* p = std::malloc(sizeof(uv_check_t));
    if (p == nullptr) return false;
    auto* h = static_cast<uv_check_t*>(p);
    if (uv_check_init(loop, h) != 0) {
      std::free(h);
      return false;
    }
    h->data = this;
    uv_unref(reinterpret_cast<uv_handle_t*>(h));  // only ever busy while callbacks are due
    check_ = h;
  }
  if (!started_) {
    if (uv_check_start(check_, OnCheck) != 0) return false;
    started_ = true;
  }
  try {
    queue_.push_back(watch);
  } catch (...) {
    return false;
  }
  return true;
}

void Dispatcher::Forget(PollWatch* watch) {
  for (PollWatch*& w : queue_) if (w == watch) w = nullptr;
  for (PollWatch*& w : running_) if (w == watch) w = nullptr;
}

void Dispatcher::OnCheck(uv_check_t* handle) {
  auto* self = static_cast<Dispatcher*>(handle->data);
  if (self != nullptr) self->RunQueued();
}

void Dispatcher::RunQueued() {
  running_.swap(queue_);
  queue_.clear();
  if (started_) {
    uv_check_stop(check_);
    started_ = false;
  }
  napi_env env = env_;
  napi_handle_scope outer;
  if (running_.empty() || napi_open_handle_scope(env, &outer) != napi_ok) {
    for (PollWatch* w : running_) if (w != nullptr) w->queued_ = 0;
    running_.clear();
    return;
  }
  napi_value resource = nullptr;
  if (resource_ == nullptr) {
    napi_value name;
    if (napi_create_object(env, &resource) != napi_ok ||
        napi_create_reference(env, resource, 1, &resource_) != napi_ok ||
        napi_create_string_utf8(env, "socketserver.poll", NAPI_AUTO_LENGTH, &name) != napi_ok ||
        napi_async_init(env, resource, name, &async_) != napi_ok) {
      resource = nullptr;
    }
  } else {
    napi_get_reference_value(env, resource_, &resource);
  }
  napi_callback_scope scope = nullptr;
  if (resource == nullptr || async_ == nullptr ||
      napi_open_callback_scope(env, resource, async_, &scope) != napi_ok) {
    scope = nullptr;
  }
  bool ok = true;
  for (size_t i = 0; i < running_.size(); i++) {
    PollWatch* w = running_[i];
    if (w == nullptr) continue;
    running_[i] = nullptr;
    int fired = w->queued_;
    w->queued_ = 0;
    if (fired == 0) continue;
    if (!ok || scope == nullptr) {
      // Could not open a scope: call each as its own callback.
      if (ok) {
        w->waiting_ |= fired;
        PollWatch::Fire(w, fired, w->queued_status_, w->queued_events_);
      }
      continue;
    }
    napi_handle_scope inner;
    if (napi_open_handle_scope(env, &inner) != napi_ok) {
      ok = false;
      continue;
    }
    // A throw is reported and the next waiters are still called; only an
    // environment that can no longer run JavaScript stops here.
    ok = PollWatch::CallWaiters(
        env, w->TakeWaiters(env, fired, w->queued_status_, w->queued_events_), /* in_scope */ true);
    napi_close_handle_scope(env, inner);
  }
  running_.clear();
  if (scope != nullptr) napi_close_callback_scope(env, scope);
  napi_close_handle_scope(env, outer);
}

}  // namespace socketserver
