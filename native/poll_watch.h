// Waiting for a descriptor's readiness on the main loop: PollWatch (one per
// socket) and the Dispatcher that runs the callbacks of the waits that fired
// in one loop turn together; and the small helpers for libuv handles and
// for calling JavaScript from a libuv callback that they and fork.cc share.
#pragma once

#include <napi.h>
#include <uv.h>

#include <vector>


namespace socketserver {

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

  // What the calls of one firing need, taken before the first call: a
  // callback may start a new wait or close the socket (and so free the
  // watch). The owner stays alive meanwhile through the handle scope.
  struct Waiters {
    napi_value read_cb = nullptr;
    napi_value write_cb = nullptr;
    napi_value owner = nullptr;  // undefined when there is none
    napi_value argv[2] = {nullptr, nullptr};  // status, events
  };
  // Takes the waiters of `fired`, then lets libuv watch what is still armed
  // (which may drop the owner reference: the handle scope holds it now).
  Waiters TakeWaiters(napi_env env, int fired, int status, int events);
  // Calls the reader's callback, then the writer's. A throw is reported and
  // the next callback still runs; returns false (and calls nothing more)
  // once the environment can no longer run JavaScript. `in_scope`: inside
  // the Dispatcher's callback scope (a plain call), else each call is a
  // callback of its own (napi_make_callback).
  static bool CallWaiters(napi_env env, const Waiters& w, bool in_scope);

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
