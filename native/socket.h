// What listening and connected sockets share: creating a descriptor, socket
// options, names, and waiting for readiness on the main loop (PollWatch).
#pragma once

#include <napi.h>
#include <uv.h>

#include <vector>

#include "address.h"
#include "fd.h"

namespace socketserver {

// socket(family, type | SOCK_NONBLOCK | SOCK_CLOEXEC). Throws a system error.
UniqueFd CreateSocket(Napi::Env env, int family, int type);

// setsockopt with an integer (or boolean) value, or a Buffer for raw bytes.
void SetSockOpt(Napi::Env env, int fd, Napi::Value level, Napi::Value name,
                Napi::Value value);
Napi::Value GetSockOpt(Napi::Env env, int fd, Napi::Value level, Napi::Value name);
SockAddr GetSockName(Napi::Env env, int fd);
SockAddr GetPeerName(Napi::Env env, int fd);

// Throws the system error EBADF of `syscall` unless `fd` is a live
// descriptor (the socket was closed).
void RequireOpen(Napi::Env env, int fd, const char* syscall);

// Sends from JS-owned bytes without blocking. Returns bytes sent, or -1 when
// the kernel would block. Never raises SIGPIPE. Throws a system error.
ssize_t SendNonBlocking(Napi::Env env, int fd, const uint8_t* data, size_t len,
                        const SockAddr* to);

// Drops a reference without throwing: node-addon-api's Reset() throws when
// napi_delete_reference fails, which it can while an environment (a
// terminated Worker) is torn down, and this runs in destructors, cleanup
// hooks and libuv callbacks, where nothing may throw.
template <typename R>
void ResetQuietly(R& ref) noexcept {
  try {
    ref.Reset();
  } catch (...) {
    ref.SuppressDestruct();
  }
}

// libuv handles the addon allocates are malloc()ed and closed with this
// callback: libc's free(), not a function of ours. A Worker's loop runs
// the close callbacks of its last handles after Node has unloaded the
// addon from that environment, when our own code is no longer mapped.
// (free takes the handle's address, as a close callback receives it.)
uv_close_cb FreeOnClose();
uv_poll_t* NewPollHandle();

// Calls a JS function from a libuv callback with raw N-API: no C++
// exception and no node-addon-api error wrapping, which aborts the process
// when the environment is terminating (worker.terminate()). What it throws
// is reported by ReportThrown(). Returns false when the environment can no
// longer run JavaScript: the caller calls nothing more.
bool CallFromLoop(napi_env env, napi_value recv, napi_value fn, size_t argc, const napi_value* argv);

// After a call into JavaScript returned napi_pending_exception: reports
// what was thrown, an Error or any other value, as an uncaught exception
// (process 'uncaughtException'), as Node does for its own callbacks; says
// nothing while the environment is terminating. Returns whether the
// environment can still run JavaScript.
bool ReportThrown(napi_env env);

// Readiness waits on libuv's main loop for one descriptor: one waiter for
// readability and one for writability, independent of each other. Start()
// calls `callback(status, events)` once when its direction is ready (or
// with a negative status on error). The owner object stays alive while a
// wait is pending. Close() must run before the descriptor is closed,
// because libuv unregisters the descriptor number from epoll.
//
// A direction stays armed in libuv after it fires ("sticky"): a reader
// usually waits again within the same callback, and re-arming would cost
// an epoll_ctl DEL and ADD per wait. A direction that fires with nobody
// waiting is disarmed, so level-triggered readiness cannot spin.
class PollWatch {
 public:
  PollWatch() = default;
  PollWatch(const PollWatch&) = delete;
  PollWatch& operator=(const PollWatch&) = delete;
  ~PollWatch() { Close(); }

  // `events` is UV_READABLE or UV_WRITABLE. Passing the same callback
  // each time (one per socket and direction) saves making a reference.
  void Start(Napi::Env env, int fd, int events, Napi::Object owner,
             Napi::Function callback);
  // Cancels pending waits of the given directions without calling back.
  void Cancel(int events = UV_READABLE | UV_WRITABLE);
  // Calls back the pending waiters (status UV_EBADF) and stops watching: for
  // an explicit close(), so that nobody waits on a socket that is gone.
  void WakeAll();
  void Close();

 private:
  friend class Dispatcher;
  static void OnPoll(uv_poll_t* handle, int status, int events);
  int Waiting() const;
  // Tells libuv to watch `armed_`, if that is not what it watches already.
  void Apply();

  // Fires the waiters of `fired`; the caller has updated armed_ already.
  static void Fire(PollWatch* self, int fired, int status, int events);

  uv_poll_t* handle_ = nullptr;
  int armed_ = 0;    // directions libuv should watch
  int started_ = 0;  // directions libuv watches now
  int waiting_ = 0;  // directions with a pending waiter
  // Directions that fired and wait in the environment's Dispatcher for
  // their callback; status/events as libuv gave them.
  int queued_ = 0;
  int queued_status_ = 0;
  int queued_events_ = 0;
  napi_env env_ = nullptr;
  Napi::ObjectReference owner_;
  Napi::FunctionReference on_read_;   // kept across waits
  Napi::FunctionReference on_write_;
};

// Runs the callbacks of the waits that fired during one turn of libuv's
// poll phase together, in one callback scope, from a check handle that
// runs right after that phase: promise continuations and process.nextTick
// callbacks run once per turn rather than once per ready socket (what a
// napi_make_callback per event costs). One per environment.
class Dispatcher {
 public:
  explicit Dispatcher(napi_env env) : env_(env) {}
  Dispatcher(const Dispatcher&) = delete;
  Dispatcher& operator=(const Dispatcher&) = delete;
  ~Dispatcher();

  // Queues `watch`, whose fired directions it has moved from waiting_ to
  // queued_. Returns false when it cannot (no loop, no memory): the caller
  // then calls them at once.
  bool Queue(PollWatch* watch);
  // Forgets `watch` (it is closing or cancelled those directions).
  void Forget(PollWatch* watch);

 private:
  static void OnCheck(uv_check_t* handle);
  void RunQueued();

  napi_env env_;
  uv_check_t* check_ = nullptr;
  bool started_ = false;
  std::vector<PollWatch*> queue_;
  std::vector<PollWatch*> running_;
  napi_ref resource_ = nullptr;
  napi_async_context async_ = nullptr;
};

}  // namespace socketserver
