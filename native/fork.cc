#include "fork.h"

#include <fcntl.h>
#include <node.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <dirent.h>
#include <pthread.h>
#include <unistd.h>
#include <uv.h>
#include <v8.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "addon.h"
#include "errors.h"
#include "fd.h"
#include "procmaps.h"
#include "poll_watch.h"
#include "test_faults.h"

namespace socketserver {

std::shared_mutex& ForkLock() {
  static std::shared_mutex lock;
  return lock;
}

namespace {

// The check_fork_lock bookkeeping: per thread, 0 for a thread that is not a
// native thread of ours, else 1 + its ForkQuiet holds. In POSIX
// thread-specific data, not C++ thread_local: the addon is dlopen()ed, so
// its thread_local variables live in dynamic TLS, and LeakSanitizer's scan
// of that at exit crashed its tracer (gcc 12) while serve threads ran.
// Kept only while the switch is on, so that nothing is done otherwise.
struct QuietLedger {
  bool on = false;
  pthread_key_t key{};
};

std::atomic<bool> g_fork_rule_reported{false};

void ReportForkRule(const std::string& what) {
  if (g_fork_rule_reported.exchange(true)) return;
  std::fprintf(stderr, "socketserver: check_fork_lock: %s\n", what.c_str());
  std::fflush(stderr);
}

const QuietLedger& Ledger() {
  static const QuietLedger ledger = [] {
    QuietLedger l;
    if (!TestFaultOn(TestFault::kCheckForkLock)) return l;
    l.on = ::pthread_key_create(&l.key, nullptr) == 0;
    if (!l.on) ReportForkRule("cannot keep track of the holds (pthread_key_create)");
    return l;
  }();
  return ledger;
}

uintptr_t Entry(const QuietLedger& l) { return reinterpret_cast<uintptr_t>(::pthread_getspecific(l.key)); }

void SetEntry(const QuietLedger& l, uintptr_t v) {
  if (::pthread_setspecific(l.key, reinterpret_cast<void*>(v)) != 0)
    ReportForkRule("cannot keep track of the holds (pthread_setspecific)");
}

// One hold more (+1) or less (-1) for a native thread; nothing for others.
void CountHold(int delta) {
  const QuietLedger& l = Ledger();
  if (!l.on) return;
  uintptr_t v = Entry(l);
  if (v != 0) SetEntry(l, delta > 0 ? v + 1 : v - 1);
}

}  // namespace

void ForkQuiet::lock() {
  ForkLock().lock_shared();
  owns_ = true;
  CountHold(+1);
}

void ForkQuiet::unlock() {
  CountHold(-1);
  owns_ = false;
  ForkLock().unlock_shared();
}

void MarkNativeThread() {
  const QuietLedger& l = Ledger();
  if (l.on) SetEntry(l, 1);
}

void CheckForkQuiet(const char* what) {
  const QuietLedger& l = Ledger();
  if (!l.on || Entry(l) != 1) return;  // not a native thread, or it holds the lock
  ReportForkRule(std::string("a native thread took ") + what + " without the fork lock");
}

namespace {

std::atomic<bool> g_in_child{false};

int64_t NowUs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000000 + ts.tv_nsec / 1000;
}

// --- Step 1: park V8's platform worker threads -------------------------------
//
// A worker that holds the platform's task-queue lock at fork() time leaves
// it locked forever in the child, whose main thread then hangs on its next
// task post. So before forking we post one task per worker that blocks on
// our own condition variable, and fork only once all of them run it.

struct ParkState {
  std::mutex mu;
  std::condition_variable cv;
  int parked = 0;
  bool release = false;
};

class ParkTask : public v8::Task {
 public:
  explicit ParkTask(std::shared_ptr<ParkState> state) : state_(std::move(state)) {}
  void Run() override {
    std::unique_lock<std::mutex> lock(state_->mu);
    if (state_->release) return;  // a late task of an attempt already given up
    state_->parked++;
    state_->cv.notify_all();
    state_->cv.wait(lock, [this] { return state_->release; });
  }

 private:
  std::shared_ptr<ParkState> state_;
};

class WorkerPark {
 public:
  // Returns true once every worker is parked; false (nothing parked) when
  // they did not all arrive within `timeout_ms`.
  bool Park(node::MultiIsolatePlatform* platform, int timeout_ms) {
    state_ = std::make_shared<ParkState>();
    // NumberOfWorkerThreads() also counts the delayed-task scheduler
    // thread, which runs no worker tasks: n - 1 tasks park every worker.
    want_ = std::max(0, platform->NumberOfWorkerThreads() - 1);
    for (int i = 0; i < want_; i++) platform->CallOnWorkerThread(std::make_unique<ParkTask>(state_));
    std::unique_lock<std::mutex> lock(state_->mu);
    bool all = state_->cv.wait_for(lock, std::chrono::milliseconds(timeout_ms),
                                   [this] { return state_->parked >= want_; });
    if (!all) {
      state_->release = true;
      state_->cv.notify_all();
    }
    return all;
  }

  void Release() {
    if (!state_) return;
    {
      std::lock_guard<std::mutex> lock(state_->mu);
      state_->release = true;
    }
    state_->cv.notify_all();
    state_.reset();
  }

  // In a forked child: the condition variable's waiters (the parent's
  // parked workers) do not exist here, so notifying it, or even destroying
  // it, would wait for them forever. Leave the state alone, leaked.
  void Abandon() {
    if (state_) new std::shared_ptr<ParkState>(std::move(state_));
  }

  ~WorkerPark() { Release(); }

 private:
  std::shared_ptr<ParkState> state_;
  int want_ = 0;
};

// --- Step 3: MADV_DOFORK -----------------------------------------------------
//
// Node's official Linux builds mark V8's pages MADV_DONTFORK; a child
// without them has no heap and crashes on its first JS instruction.

void MadviseDoForkAll() {
  UniqueFd fd(::open("/proc/self/maps", O_RDONLY | O_CLOEXEC));
  if (!fd.Valid()) return;
  std::string maps;
  char buf[65536];
  for (;;) {
    ssize_t n = RetryOnEintr([&] { return ::read(fd.Get(), buf, sizeof buf); });
    if (n <= 0) break;
    maps.append(buf, static_cast<size_t>(n));
  }
  for (const MapRange& r : ParseMapsRanges(maps))
    ::madvise(reinterpret_cast<void*>(r.start), r.end - r.start, MADV_DOFORK);
}

// --- Step 4: the child's event loop ------------------------------------------
//
// uv_loop_fork() makes a new epoll descriptor and re-queues watchers, but
// libuv 1.46 leaves watchers that were already queued with their old
// `events`, so uv__io_poll would EPOLL_CTL_MOD a descriptor the new epoll
// does not know, fail, and abort. Resetting `events` forces EPOLL_CTL_ADD.

int ForkLoop(uv_loop_t* loop) {
  int rc = uv_loop_fork(loop);
  if (rc != 0) return rc;
  for (unsigned int i = 0; i < loop->nwatchers; i++) {
    uv__io_t* w = loop->watchers[i];
    if (w != nullptr) w->events = 0;
  }
  return 0;
}

// --- Step 5: neutralise inherited sockets ------------------------------------
//
// Every socket the child inherited, but for stdio and the ones it is to
// use, gets a dead socket dup3()ed over it: one end of a socketpair whose
// other end nobody writes. The child's loop can then never accept or read
// on the parent's descriptors (a health probe answered by a child), and the
// descriptor numbers stay valid for the handles that refer to them.
//
// The dead socket is non-blocking, so a stray read or write on it returns
// EAGAIN instead of blocking the child. And each neutralised descriptor is
// detached from libuv's watcher table: fork() may happen inside a loop
// iteration whose events were fetched in the parent, and libuv skips an
// event whose watcher slot is empty instead of delivering it (a parent's
// pending "readable" would otherwise reach a handle in the child).

void NeutraliseSockets(uv_loop_t* loop, const std::set<int>& keep) {
  int pair[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, pair) != 0) return;
  UniqueFd dead(pair[0]);
  UniqueFd peer(pair[1]);
  DIR* dir = ::opendir("/proc/self/fd");
  if (dir == nullptr) return;
  std::vector<int> fds;
  while (dirent* e = ::readdir(dir)) {
    if (e->d_name[0] == '.') continue;
    fds.push_back(std::atoi(e->d_name));
  }
  const int dir_fd = ::dirfd(dir);
  for (int fd : fds) {
    if (fd <= 2 || fd == dir_fd || fd == dead.Get() || fd == peer.Get() || keep.count(fd)) continue;
    struct stat st;
    if (::fstat(fd, &st) != 0 || !S_ISSOCK(st.st_mode)) continue;
    int r;
    do {
      r = ::dup3(dead.Get(), fd, O_CLOEXEC);
    } while (r < 0 && errno == EINTR);
    if (r >= 0 && static_cast<unsigned>(fd) < loop->nwatchers) loop->watchers[fd] = nullptr;
  }
  ::closedir(dir);
  // The peer stays open for the child's life, so the dead socket never
  // reads EOF; both ends are closed by _exit().
  peer.Release();
  dead.Release();
}

struct ForkTimes {
  double park_us = 0, sweep_us = 0, fork_us = 0, attempts = 0;
} g_times;  // main thread only

// forkRequest(keepFds: number[], watchdogSeconds: number | null) -> pid
// In the parent: the child's pid. In the child: 0.
Napi::Value ForkRequest(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Array keep_fds = RequireArray(info, 0, "keepFds");
  std::set<int> keep;
  for (uint32_t i = 0; i < keep_fds.Length(); i++) {
    Napi::Value fd = keep_fds.Get(i);
    if (!fd.IsNumber()) ThrowTypeError(env, "ERR_INVALID_ARG_TYPE", "keepFds must be an array of numbers");
    keep.insert(fd.As<Napi::Number>().Int32Value());
  }
  const double watchdog_s = OptionalNumber(info, 1, "watchdogSeconds", 0);
  if (syscall(SYS_gettid) != getpid()) {
    ThrowError(env, kErrUnsupported, "fork() is only supported on the main thread");
  }
  unsigned watchdog = 0;
  if (watchdog_s > 0) watchdog = static_cast<unsigned>(std::min(watchdog_s, 1e6) + 0.999);
  uv_loop_t* loop = nullptr;
  if (napi_get_uv_event_loop(env, &loop) != napi_ok || loop == nullptr)
    ThrowNapiFailure(env, "napi_get_uv_event_loop");

  v8::Isolate* isolate = v8::Isolate::GetCurrent();
  node::Environment* node_env = node::GetCurrentEnvironment(isolate->GetCurrentContext());
  node::MultiIsolatePlatform* platform = node_env ? node::GetMultiIsolatePlatform(node_env) : nullptr;
  if (platform == nullptr) {
    ThrowError(env, kErrUnsupported, "no Node platform to quiesce before fork()");
  }

  // Step 1, strict: never fork with a worker unparked; retry instead.
  const int64_t t0 = NowUs();
  WorkerPark park;
  int attempts = 0;
  for (;;) {
    attempts++;
    if (park.Park(platform, 50)) break;
    if (attempts >= 40) {  // two seconds of a worker never coming free
      Napi::Error e = SystemError(env, EAGAIN, "fork");
      e.Value().Set("reason", "V8 worker threads could not be parked");
      throw e;
    }
  }
  const int64_t t1 = NowUs();

  // Step 2: our own threads are out of their critical sections.
  std::unique_lock<std::shared_mutex> quiet(ForkLock());
  MadviseDoForkAll();
  const int64_t t2 = NowUs();
  pid_t pid = ::fork();
  const int64_t t3 = NowUs();
  if (pid != 0) {
    int saved = errno;
    quiet.unlock();
    park.Release();
    if (pid < 0) ThrowSystemError(env, saved, "fork");
    g_times = {static_cast<double>(t1 - t0), static_cast<double>(t2 - t1),
               static_cast<double>(t3 - t2), static_cast<double>(attempts)};
    return Napi::Number::New(env, pid);
  }

  // The child. Only this thread exists; the parked workers do not.
  park.Abandon();
  quiet.unlock();
  g_in_child.store(true);
  if (ForkLoop(loop) != 0) _exit(70);  // EX_SOFTWARE: nothing else is safe
  NeutraliseSockets(loop, keep);
  if (watchdog > 0) ::alarm(watchdog);  // SIGALRM's default action ends a stuck child
  return Napi::Number::New(env, 0);
}

// exitChild(status): ends a forked child at once, running nothing of the
// parent's (no exit handlers, no destructors): it must never return into
// the parent's code.
Napi::Value ExitChild(const Napi::CallbackInfo& info) {
  int status = OptionalInt32(info, 0, "status", 1);
  if (!g_in_child.load()) {
    ThrowError(info.Env(), kErrUnsupported, "exitChild() outside a forked child");
  }
  fflush(nullptr);
  _exit(status);
}

// reapChild(pid, blocking) -> null (still running) | [exitCode, signal]
// Waits for this one pid only: never waitpid(-1), which would steal the
// children of node:child_process.
Napi::Value ReapChild(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  pid_t pid = RequireInt32(info, 0, "pid");
  bool blocking = OptionalBoolean(info, 1, "blocking", false);
  if (pid <= 0) ThrowRangeError(env, "ERR_OUT_OF_RANGE", "pid must be > 0");
  int status = 0;
  pid_t r;
  do {
    r = ::waitpid(pid, &status, blocking ? 0 : WNOHANG);
  } while (r < 0 && errno == EINTR);
  if (r < 0) ThrowSystemError(env, errno, "waitpid");
  if (r == 0) return env.Null();
  Napi::Array result = Napi::Array::New(env, 2);
  result.Set(0u, WIFEXITED(status) ? Napi::Value(Napi::Number::New(env, WEXITSTATUS(status))) : env.Null());
  result.Set(1u, WIFSIGNALED(status) ? Napi::Value(Napi::Number::New(env, WTERMSIG(status))) : env.Null());
  return result;
}

Napi::Value ForkStats(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object o = Napi::Object::New(env);
  o.Set("parkUs", g_times.park_us);
  o.Set("sweepUs", g_times.sweep_us);
  o.Set("forkUs", g_times.fork_us);
  o.Set("parkAttempts", g_times.attempts);
  return o;
}

// getpid(): the real pid (process.pid is cached by Node, and stale in a child).
Napi::Value GetPid(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), ::getpid());
}

Napi::Value IsForkedChild(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), g_in_child.load());
}

// --- Waiting for a child: pidfd + a one-shot uv_poll ------------------------

class ChildWatch : public Napi::ObjectWrap<ChildWatch> {
 public:
  static Napi::Function Init(Napi::Env env) {
    return DefineClass(env, "ChildWatch",
                       {InstanceMethod<&ChildWatch::Close>("close"),
                        InstanceMethod<&ChildWatch::Ref>("ref"),
                        InstanceMethod<&ChildWatch::Unref>("unref")});
  }

  // new ChildWatch(pid, callback): callback() once the child can be reaped.
  // Throws a system error when the child cannot be watched (no pidfd, no
  // loop, the loop refused the watch): a watch that did not start must not
  // look alive, or nobody would ever reap the child. The caller polls then.
  explicit ChildWatch(const Napi::CallbackInfo& info) : Napi::ObjectWrap<ChildWatch>(info) {
    Napi::Env env = info.Env();
    pid_t pid = RequireInt32(info, 0, "pid");
    Napi::Function callback = RequireFunction(info, 1, "callback");
    int fd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
    if (fd < 0) ThrowSystemError(env, errno, "pidfd_open");
    fd_.Reset(fd);
    uv_loop_t* loop = nullptr;
    napi_status loop_status = TestFaultOn(TestFault::kChildWatchLoop) ? napi_generic_failure
                                                                        : napi_get_uv_event_loop(env, &loop);
    if (loop_status != napi_ok || loop == nullptr) ThrowNapiFailure(env, "napi_get_uv_event_loop");
    handle_ = NewPollHandle();
    int rc = uv_poll_init(loop, handle_, fd_.Get());
    if (rc != 0) {
      std::free(handle_);
      handle_ = nullptr;
      ThrowSystemError(env, -rc, "uv_poll_init");
    }
    handle_->data = this;
    rc = TestFaultOn(TestFault::kChildWatchPollStart) ? UV_ENOMEM : uv_poll_start(handle_, UV_READABLE, OnReady);
    if (rc != 0) {
      CloseNow();  // the initialised handle is closed, not freed under libuv
      ThrowSystemError(env, -rc, "uv_poll_start");
    }
    env_ = env;
    callback_ = Napi::Persistent(callback);
    self_ = Napi::Persistent(info.This().As<Napi::Object>());  // alive until it fires or closes
  }

  ~ChildWatch() override {
    try {
      CloseNow();
    } catch (...) {
      // Destructors must not throw (an environment's teardown can make N-API fail).
    }
  }

 private:
  static void OnReady(uv_poll_t* handle, int, int) {
    auto* self = static_cast<ChildWatch*>(handle->data);
    if (self == nullptr) return;
    napi_env env = self->env_;
    napi_handle_scope scope;
    if (napi_open_handle_scope(env, &scope) != napi_ok) return;
    napi_value cb = nullptr, obj = nullptr;
    napi_get_reference_value(env, self->callback_, &cb);
    napi_get_reference_value(env, self->self_, &obj);
    self->CloseNow();  // one-shot
    if (cb != nullptr) CallFromLoop(env, obj, cb, 0, nullptr);
    napi_close_handle_scope(env, scope);
  }

  void CloseNow() {
    if (handle_ != nullptr) {
      handle_->data = nullptr;
      uv_close(reinterpret_cast<uv_handle_t*>(handle_), FreeOnClose());
      handle_ = nullptr;
    }
    fd_.Reset();
    ResetQuietly(callback_);
    ResetQuietly(self_);
  }

  Napi::Value Close(const Napi::CallbackInfo& info) {
    CloseNow();
    return info.Env().Undefined();
  }
  Napi::Value Ref(const Napi::CallbackInfo& info) {
    if (handle_ != nullptr) uv_ref(reinterpret_cast<uv_handle_t*>(handle_));
    return info.Env().Undefined();
  }
  Napi::Value Unref(const Napi::CallbackInfo& info) {
    if (handle_ != nullptr) uv_unref(reinterpret_cast<uv_handle_t*>(handle_));
    return info.Env().Undefined();
  }

  UniqueFd fd_;
  uv_poll_t* handle_ = nullptr;
  napi_env env_ = nullptr;
  Napi::FunctionReference callback_;
  Napi::ObjectReference self_;
};

}  // namespace

bool InForkedChild() { return g_in_child.load(); }

Napi::Object InitFork(Napi::Env env, Napi::Object exports) {
  exports.Set("forkRequest", Napi::Function::New<ForkRequest>(env, "forkRequest"));
  exports.Set("exitChild", Napi::Function::New<ExitChild>(env, "exitChild"));
  exports.Set("reapChild", Napi::Function::New<ReapChild>(env, "reapChild"));
  exports.Set("forkStats", Napi::Function::New<ForkStats>(env, "forkStats"));
  exports.Set("getpid", Napi::Function::New<GetPid>(env, "getpid"));
  exports.Set("isForkedChild", Napi::Function::New<IsForkedChild>(env, "isForkedChild"));
  exports.Set("ChildWatch", ChildWatch::Init(env));
  return exports;
}

}  // namespace socketserver
