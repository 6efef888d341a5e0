#include "listener.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cmath>

#include "addon.h"
#include "connection.h"
#include "errors.h"
#include "fork.h"
#include "test_faults.h"

namespace socketserver {

struct Event {
  int kind = 0;
  int err = 0;
  pid_t pid = 0;  // the process that queued it: a forked child drops the parent's
};

// Lives as long as the ThreadSafeFunction (freed by its finaliser), so that
// an event still queued when the Listener is gone is delivered safely.
// The callback of the current arm() is held here, strongly only while the
// thread is armed, so an idle server is collectable.
//
// One event per arm(): the serve thread reports once and is armed again
// only after that report reached JS (arm() refuses while `in_flight`). So
// the event needs no allocation, nothing of it can leak when a call fails,
// and the function's queue holds at most one item: its bound, 1, never
// makes the thread's blocking call wait (which it would do holding the
// fork lock).
struct TsfnContext {
  napi_threadsafe_function tsfn = nullptr;
  napi_ref callback = nullptr;
  // Set by the serve thread before its call; cleared by CallJs() once the
  // event is read, or by the thread when the call failed.
  std::atomic<bool> in_flight{false};
  Event event;  // written by the serve thread only while in_flight is false
};

namespace {

void CallJs(napi_env env, napi_value, void* context, void*) {
  // The function is torn down: Node calls this for what is still queued
  // after the finaliser has freed the context. Touch nothing.
  if (env == nullptr) return;
  auto* ctx = static_cast<TsfnContext*>(context);
  const Event ev = ctx->event;
  ctx->in_flight.store(false);
  if (ev.pid != getpid()) return;  // queued before a fork(), in the parent
  // The loop is kept alive only while the serve thread is armed.
  napi_unref_threadsafe_function(env, ctx->tsfn);
  if (ctx->callback == nullptr) return;
  napi_value js_cb;
  napi_get_reference_value(env, ctx->callback, &js_cb);
  napi_delete_reference(env, ctx->callback);
  ctx->callback = nullptr;
  if (js_cb == nullptr) return;
  napi_value argv[2], undefined;
  napi_create_int32(env, ev.kind, &argv[0]);
  napi_create_int32(env, ev.err, &argv[1]);
  napi_get_undefined(env, &undefined);
  napi_call_function(env, undefined, js_cb, 2, argv, nullptr);
}

void FinalizeTsfn(napi_env env, void* data, void*) {
  auto* ctx = static_cast<TsfnContext*>(data);
  if (ctx->callback != nullptr && env != nullptr) napi_delete_reference(env, ctx->callback);
  delete ctx;
}

int64_t NowUs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);  // cannot fail for CLOCK_MONOTONIC
  return static_cast<int64_t>(ts.tv_sec) * 1000000 + ts.tv_nsec / 1000;
}

// While a datagram server is busy, its socket's receive buffer is drained
// before it overflows: Linux's default buffer holds ~1 ms of a burst from
// logger (256 datagrams of 100 bytes at ~250 000 a second). The main thread
// drains it as it takes datagrams, once per kMainDrainUs; the serve thread
// only when the main thread has not for kServeDrainUs (a handler runs, or
// blocks), so that under steady load it wakes ~1 000 times a second to look
// at the clock, not for every datagram. Measured in DESIGN.md, "Datagram
// queue".
constexpr int64_t kMainDrainUs = 200;
constexpr int64_t kServeDrainUs = 1000;

}  // namespace

Napi::Function Listener::Init(Napi::Env env) {
  return DefineClass(
      env, "Listener",
      SocketMethods({
          InstanceMethod<&Listener::Bind>("bind"),
          InstanceMethod<&Listener::Listen>("listen"),
          InstanceMethod<&Listener::Configure>("configure"),
          InstanceMethod<&Listener::ReadyNow>("readyNow"),
          InstanceMethod<&Listener::Take>("take"),
          InstanceMethod<&Listener::Arm>("arm"),
          InstanceMethod<&Listener::Wake>("wake"),
          InstanceMethod<&Listener::SendTo>("sendTo"),
          InstanceMethod<&Listener::TakeDatagram>("takeDatagram"),
          InstanceMethod<&Listener::SendToLast>("sendToLast"),
          InstanceMethod<&Listener::DroppedDatagrams>("droppedDatagrams"),
          InstanceMethod<&Listener::Dup>("dup"),
          InstanceMethod<&Listener::Queued>("queued"),
      }));
}

// new Listener(family, type[, fd]): a new socket, or, with fd, that socket
// of the process taken as this one's (it must be of that family and type;
// closed with this Listener). A worker thread's reply socket is a dup() of
// its server's, adopted so.
Listener::Listener(const Napi::CallbackInfo& info) : SocketWrap<Listener>(info) {
  Napi::Env env = info.Env();
  family_ = RequireInt32(info, 0, "family");
  type_ = RequireInt32(info, 1, "type");
  if (family_ != AF_INET && family_ != AF_INET6 && family_ != AF_UNIX)
    ThrowRangeError(env, "ERR_SOCKETSERVER_UNSUPPORTED",
                    "unsupported address family " + std::to_string(family_));
  if (type_ != SOCK_STREAM && type_ != SOCK_DGRAM)
    ThrowRangeError(env, "ERR_SOCKETSERVER_UNSUPPORTED",
                    "unsupported socket type " + std::to_string(type_));
  if (info.Length() > 2 && !info[2].IsUndefined()) {
    int32_t fd = RequireInt32(info, 2, "fd");
    if (fd < 0) ThrowRangeError(env, "ERR_OUT_OF_RANGE", "fd must be >= 0");
    fd_ = AdoptSocket(env, fd, family_, type_);
  } else {
    fd_ = CreateSocket(env, family_, type_);
  }
  if (type_ == SOCK_STREAM) {
    int reserve = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (reserve < 0) ThrowSystemError(env, errno, "open");  // fd_ closes itself
    reserve_fd_.Reset(reserve);
  }
}

Listener::~Listener() {
  try {
    CloseNow();
  } catch (...) {
    // Destructors must not throw (a Worker's teardown can make N-API fail).
  }
}

Napi::Value Listener::Bind(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  RequireOpen(env, fd_.Get(), "bind");
  SockAddr addr = ParseAddress(env, info[0], family_);
  if (::bind(fd_.Get(), addr.Ptr(), addr.len) != 0)
    ThrowSystemError(env, errno, "bind", &addr);
  return env.Undefined();
}

Napi::Value Listener::Listen(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int backlog = OptionalInt32(info, 0, "backlog", 5);
  RequireOpen(env, fd_.Get(), "listen");
  if (::listen(fd_.Get(), std::max(backlog, 0)) != 0) ThrowSystemError(env, errno, "listen");
  return env.Undefined();
}

// configure(batchLimit, maxPacketSize, maxQueuedDatagrams, maxQueuedBytes):
// how many requests one Fill() may take (1 for a synchronous stream server:
// the kernel's backlog is the queue), the largest datagram kept (larger ones
// are truncated, as Python's recvfrom(max_packet_size) does), and the
// bounds of the datagram queue (stream sockets ignore them).
Napi::Value Listener::Configure(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  double batch = RequireNumber(info, 0, "batchLimit");
  double packet = RequireNumber(info, 1, "maxPacketSize");
  double datagrams = RequireNumber(info, 2, "maxQueuedDatagrams");
  double bytes = RequireNumber(info, 3, "maxQueuedBytes");
  std::lock_guard<std::mutex> fill(fill_mu_);
  if (!(batch >= 1 && batch <= 1024))
    ThrowRangeError(env, "ERR_OUT_OF_RANGE", "batch limit must be 1-1024");
  if (!(packet >= 0 && packet <= 64 * 1024 * 1024))
    ThrowRangeError(env, "ERR_OUT_OF_RANGE", "maxPacketSize must be 0-67108864");
  if (!(datagrams >= 1 && datagrams <= 1024 * 1024))
    ThrowRangeError(env, "ERR_OUT_OF_RANGE", "maxQueuedDatagrams must be 1-1048576");
  if (!(bytes >= 0 && bytes <= 1024 * 1024 * 1024))
    ThrowRangeError(env, "ERR_OUT_OF_RANGE", "maxQueuedBytes must be 0-1073741824");
  batch_limit_ = static_cast<size_t>(batch);
  packet_size_ = static_cast<size_t>(packet);
  max_queued_ = static_cast<size_t>(datagrams);
  max_queued_bytes_ = static_cast<size_t>(bytes);
  return env.Undefined();
}

// queued() -> the requests already taken from the kernel and not yet by JS
// (connections the serve thread accepted in its last batch): what drain()
// must still serve before it closes the socket, or they would be dropped.
Napi::Value Listener::Queued(const Napi::CallbackInfo& info) {
  std::lock_guard<std::mutex> lock(mu_);
  return Napi::Number::New(info.Env(), static_cast<double>(queue_.size()));
}

// dup() -> a new descriptor of this socket (close-on-exec), which the caller
// owns: how a worker thread gets a datagram server's socket of its own to
// reply on, one that stays valid if the server closes first.
Napi::Value Listener::Dup(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), DupSocket(info.Env(), fd_.Get()).Release());
}

// droppedDatagrams() -> how many datagrams were read and dropped because the
// queue was at its bounds (0 for a stream socket); also after close().
Napi::Value Listener::DroppedDatagrams(const Napi::CallbackInfo& info) {
  std::lock_guard<std::mutex> lock(mu_);
  return Napi::Number::New(info.Env(), static_cast<double>(dropped_));
}

size_t Listener::Fill(size_t limit, bool if_idle) {
  // Runs on the serve thread too, where nothing may throw: out of memory
  // becomes an ENOMEM that take() reports.
  try {
    return FillOrThrow(limit, if_idle);
  } catch (const std::bad_alloc&) {
    try {
      Pending p;
      p.err = ENOMEM;
      CheckForkQuiet("Listener::mu_");
      std::lock_guard<std::mutex> lock(mu_);
      queue_.push_back(std::move(p));
      return 1;
    } catch (...) {
      return 0;
    }
  }
}

size_t Listener::FillOrThrow(size_t limit, bool if_idle) {
  CheckForkQuiet("Listener::fill_mu_");
  std::unique_lock<std::mutex> fill(fill_mu_, std::defer_lock);
  if (!if_idle) fill.lock();
  else if (!fill.try_lock()) return 0;
  if (limit == kBatchLimit) limit = batch_limit_;  // configure() writes it under fill_mu_
  int fd = fd_.Get();
  if (fd < 0) return 0;
  std::deque<Pending> got;
  size_t dropped = 0;
  if (type_ == SOCK_STREAM) {
    while (got.size() < limit) {
      Pending p;
      p.addr.len = sizeof p.addr.storage;
      int c = ::accept4(fd, p.addr.Ptr(), &p.addr.len, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (c >= 0) {
        p.fd.Reset(c);
        got.push_back(std::move(p));
        continue;
      }
      if (errno == EINTR || errno == ECONNABORTED) continue;  // peer gone: next
      if (errno == EAGAIN || errno == EWOULDBLOCK) break;
      if (errno == EMFILE || errno == ENFILE) {
        // The reserve may be missing if it could not be reopened after the
        // last shedding: a descriptor may have come back since.
        if (!reserve_fd_.Valid()) reserve_fd_.Reset(::open("/dev/null", O_RDONLY | O_CLOEXEC));
        if (ShedPending() > 0) break;
      }
      p.err = errno;
      got.push_back(std::move(p));
      break;
    }
  } else {
    // recvmmsg into one pool of `limit` slots of (packet size + 1) bytes:
    // the extra byte tells a datagram that fits from one that does not even
    // when the kernel's MSG_TRUNC is not reported.
    const size_t slot = packet_size_ + 1;
    // At most ~4 MiB of receive buffers: large packet sizes take fewer at once.
    limit = std::max<size_t>(1, std::min(limit, (size_t{4} << 20) / slot));
    if (pool_.size() < slot * limit) pool_.resize(slot * limit);
    std::vector<mmsghdr> msgs(limit);
    std::vector<iovec> iov(limit);
    std::vector<SockAddr> addrs(limit);
    for (size_t i = 0; i < limit; i++) {
      iov[i] = {pool_.data() + i * slot, slot};
      msgs[i] = {};
      msgs[i].msg_hdr.msg_iov = &iov[i];
      msgs[i].msg_hdr.msg_iovlen = 1;
      msgs[i].msg_hdr.msg_name = addrs[i].Ptr();
      msgs[i].msg_hdr.msg_namelen = sizeof addrs[i].storage;
    }
    int n;
    do {
      n = ::recvmmsg(fd, msgs.data(), static_cast<unsigned>(limit), MSG_DONTWAIT, nullptr);
    } while (n < 0 && errno == EINTR);
    if (n < 0) {
      if (errno != EAGAIN && errno != EWOULDBLOCK) {
        Pending p;
        p.err = errno;
        got.push_back(std::move(p));
      }
    } else {
      // The queue's room now: only Fill() adds to the queue (under
      // fill_mu_, held here), so the room can only grow until the append.
      size_t queued, bytes;
      {
        CheckForkQuiet("Listener::mu_");
        std::lock_guard<std::mutex> lock(mu_);
        queued = queue_.size();
        bytes = queued_bytes_;
      }
      for (int i = 0; i < n; i++) {
        size_t len = std::min<size_t>(msgs[i].msg_len, packet_size_);
        // Tail drop, as the kernel drops what finds its buffer full; an
        // empty queue takes one datagram whatever its size.
        if (queued > 0 && (queued >= max_queued_ || len > max_queued_bytes_ - std::min(bytes, max_queued_bytes_))) {
          dropped++;
          continue;
        }
        Pending p;
        p.truncated = msgs[i].msg_len > packet_size_ || (msgs[i].msg_hdr.msg_flags & MSG_TRUNC);
        const uint8_t* src = pool_.data() + i * slot;
        p.data.assign(src, src + len);
        p.addr = addrs[i];
        p.addr.len = msgs[i].msg_hdr.msg_namelen;
        got.push_back(std::move(p));
        queued++;
        bytes += len;
      }
    }
  }
  size_t count = got.size();
  if (count > 0 || dropped > 0) {
    CheckForkQuiet("Listener::mu_");
    std::lock_guard<std::mutex> lock(mu_);
    for (auto& p : got) {
      queued_bytes_ += p.data.size();
      queue_.push_back(std::move(p));
    }
    dropped_ += dropped;
  }
  return count;
}

size_t Listener::ShedPending() {
  if (!reserve_fd_.Valid()) return 0;
  size_t shed = 0;
  reserve_fd_.Reset();
  for (;;) {
    int c = ::accept4(fd_.Get(), nullptr, nullptr, SOCK_CLOEXEC);
    if (c < 0) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      break;  // EAGAIN: the backlog is empty; anything else: stop here
    }
    ::close(c);
    shed++;
  }
  // Take the reserve back; if even that fails (another thread took the
  // descriptor), the next EMFILE is reported instead of shed.
  reserve_fd_.Reset(::open("/dev/null", O_RDONLY | O_CLOEXEC));
  return shed;
}

// readyNow() -> true when a request is queued, taking one from the kernel
// without blocking if the queue was empty (unless the serve thread is
// taking some now: then false, and the next arm() reports them).
Napi::Value Listener::ReadyNow(const Napi::CallbackInfo& info) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!queue_.empty()) return Napi::Boolean::New(info.Env(), true);
  }
  if (type_ == SOCK_DGRAM) main_drain_us_.store(NowUs(), std::memory_order_relaxed);
  return Napi::Boolean::New(info.Env(), Fill(kBatchLimit, kIfIdle) > 0);
}

// take() -> [Connection, address] (stream) | [Buffer, address, truncated]
// (datagram); throws the system error the kernel gave, or EAGAIN when there
// is nothing to take.
Pending Listener::PopPending(Napi::Env env) {
  RequireOpen(env, fd_.Get(), type_ == SOCK_STREAM ? "accept" : "recvfrom");
  Pending p;
  bool have = false;
  for (int attempt = 0; attempt < 2 && !have; attempt++) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (!queue_.empty()) {
        p = std::move(queue_.front());
        queue_.pop_front();
        queued_bytes_ -= p.data.size();
        have = true;
      }
    }
    if (!have && attempt == 0) Fill(1);
  }
  // A busy datagram server drains the kernel here too, once per
  // kMainDrainUs: the serve thread alone would wait for a share of a core
  // that the handlers and the senders keep busy, longer than the receive
  // buffer lasts under a burst. Not if the serve thread is filling now.
  if (have && type_ == SOCK_DGRAM) {
    const int64_t now = NowUs();
    if (now - main_drain_us_.load(std::memory_order_relaxed) >= kMainDrainUs) {
      main_drain_us_.store(now, std::memory_order_relaxed);
      Fill(kBatchLimit, kIfIdle);
    }
  }
  const char* syscall = type_ == SOCK_STREAM ? "accept" : "recvfrom";
  if (!have) ThrowSystemError(env, EAGAIN, syscall);
  if (p.err != 0) ThrowSystemError(env, p.err, syscall);
  return p;
}

Napi::Value Listener::Take(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Pending p = PopPending(env);
  Napi::Array result = Napi::Array::New(env, type_ == SOCK_STREAM ? 2 : 3);
  if (type_ == SOCK_STREAM) {
    result.Set(0u, Connection::Wrap(env, std::move(p.fd)));
  } else {
    result.Set(0u, Napi::Buffer<uint8_t>::Copy(env, p.data.data(), p.data.size()));
    result.Set(2u, Napi::Boolean::New(env, p.truncated));
  }
  result.Set(1u, AddressToJs(env, p.addr));
  return result;
}

void Listener::StartThread(Napi::Env env) {
  if (thread_.joinable()) return;
  int efd = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (efd < 0) ThrowSystemError(env, errno, "eventfd");
  wake_fd_.Reset(efd);

  auto* ctx = new TsfnContext;
  napi_value name = Napi::String::New(env, "socketserver.serve");
  napi_status st = napi_create_threadsafe_function(
      env, nullptr, nullptr, name, /* max_queue_size */ 1, /* initial_thread_count */ 1, ctx,
      FinalizeTsfn, ctx, CallJs, &tsfn_);
  if (st != napi_ok) {
    delete ctx;
    wake_fd_.Reset();
    ThrowNapiFailure(env, "napi_create_threadsafe_function");
  }
  ctx->tsfn = tsfn_;
  ctx_ = ctx;
  napi_unref_threadsafe_function(env, tsfn_);
  env_ = env;
  try {
    thread_ = std::thread(&Listener::ThreadMain, this);
  } catch (...) {
    napi_release_threadsafe_function(tsfn_, napi_tsfn_abort);
    tsfn_ = nullptr;
    ctx_ = nullptr;
    wake_fd_.Reset();
    throw;
  }
  napi_add_env_cleanup_hook(env, CleanupHook, this);
  hook_registered_ = true;
}

void Listener::CleanupHook(void* arg) {
  auto* self = static_cast<Listener*>(arg);
  self->hook_registered_ = false;  // running now; nothing to remove
  try {
    self->CloseNow(/* tearing_down */ true);
  } catch (...) {
    // The environment is being torn down; nothing may throw out of here.
  }
}

// arm(timeoutSeconds | null, callback): the serve thread waits for a request
// and reports one event: callback(kind, errno).
Napi::Value Listener::Arm(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Function callback = RequireFunction(info, 1, "callback");
  int64_t timeout_ms = -1;
  if (!IsMissing(info, 0)) {
    double s = RequireNumber(info, 0, "timeout");
    if (std::isnan(s)) ThrowRangeError(env, "ERR_OUT_OF_RANGE", "timeout must be a number of seconds or null");
    // Beyond ~31 years (and Infinity) is forever; the cast is only defined in range.
    timeout_ms = s <= 0 ? 0 : s >= 1e9 ? -1 : static_cast<int64_t>(std::ceil(s * 1000.0));
  }
  RequireOpen(env, fd_.Get(), "poll");
  StartThread(env);
  {
    std::lock_guard<std::mutex> lock(mu_);
    // Also while its last event is on the way to JS: one event per arm().
    if (armed_ || ctx_->in_flight.load()) {
      ThrowError(env, kErrBusy, "the serve thread is already waiting");
    }
    armed_ = true;
    arm_timeout_ms_ = timeout_ms;
  }
  // No event is in flight while disarmed, so the thread never reads this.
  if (ctx_->callback != nullptr) napi_delete_reference(env, ctx_->callback);
  napi_create_reference(env, callback, 1, &ctx_->callback);
  napi_ref_threadsafe_function(env, tsfn_);
  Ring();
  return env.Undefined();
}

Napi::Value Listener::Wake(const Napi::CallbackInfo& info) {
  if (wake_fd_.Valid()) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      wake_pending_ = true;  // also before arm(): the next armed wait ends at once
    }
    Ring();
  }
  return info.Env().Undefined();
}

void Listener::Ring() {
  const uint64_t one = 1;
  RetryOnEintr([&] { return ::write(wake_fd_.Get(), &one, sizeof one); });
  // EAGAIN means the counter is already non-zero: the thread will look.
}

void Listener::DrainWake() {
  uint64_t count;
  RetryOnEintr([&] { return ::read(wake_fd_.Get(), &count, sizeof count); });
  // EAGAIN: already drained. The orders are in the fields, not the count.
}

// The serve thread. It takes mu_ (and Fill()'s fill_mu_) only while it holds
// the fork lock (`quiet`), as fork.h asks, so that a child made by fork()
// never inherits them held. That is why it does not sleep on a condition
// variable over mu_, whose wait takes mu_ back by itself: it sleeps in poll()
// on the wake eventfd (and the socket), holding nothing, and once awake
// reads its orders (armed_, closing_, wake_pending_) under both locks.
void Listener::ThreadMain() {
  MarkNativeThread();
  const pid_t pid = getpid();
  ForkQuiet quiet;
  ThreadState st;
  for (;;) {
    quiet.lock();
    const Step step = NextStep(&st, pid);
    if (step.what == Step::kStop) break;
    if (step.what == Step::kReport) {
      // Still holding `quiet`: no fork() happens while this thread touches
      // the ThreadSafeFunction's locks.
      napi_status status = TestFaultOn(TestFault::kServeTsfnCall)
                               ? napi_closing
                               : napi_call_threadsafe_function(tsfn_, nullptr, napi_tsfn_blocking);
      if (status != napi_ok) ctx_->in_flight.store(false);  // nothing was queued
      quiet.unlock();
      if (status != napi_ok) break;  // napi_closing: the environment is going away
      continue;
    }
    quiet.unlock();
    WaitAndFill(step, &st, quiet);
  }
}

Listener::Step Listener::NextStep(ThreadState* st, pid_t pid) {
  CheckForkQuiet("Listener::mu_");
  std::lock_guard<std::mutex> lock(mu_);
  Step step;
  if (!armed_) {
    if (closing_) {
      step.what = Step::kStop;
    } else if (type_ == SOCK_DGRAM) {
      // Between arms (handlers run): a datagram socket is drained into the
      // bounded queue, unless the main thread drained it lately; a stream
      // socket is left to the kernel's backlog.
      const int64_t since = NowUs() - main_drain_us_.load(std::memory_order_relaxed);
      if (since < kServeDrainUs) step.timeout_us = kServeDrainUs - since;
      else step.socket = true;
    }
    return step;
  }
  if (!st->in_wait) {  // a new arm(): its timeout runs from now
    *st = ThreadState{};
    st->in_wait = true;
    if (arm_timeout_ms_ >= 0) st->deadline = NowUs() + arm_timeout_ms_ * 1000;
  }
  const int64_t remaining = st->deadline < 0 ? -1 : std::max<int64_t>(0, st->deadline - NowUs());
  int kind = 0;
  // A wake() (before this arm() or during it) and close() end the wait
  // first; what is queued (the thread may have read it between arms) is
  // reported at once; the timeout counts only once the socket was polled.
  if (closing_ || wake_pending_) kind = kWoken;
  else if (!queue_.empty()) kind = kReady;
  else if (st->err != 0) kind = kError;
  else if (remaining == 0 && st->polled) kind = kTimeout;
  if (kind == 0) {
    step.timeout_us = remaining;
    step.socket = true;
    return step;
  }
  armed_ = false;
  wake_pending_ = false;
  ctx_->event = Event{kind, kind == kError ? st->err : 0, pid};
  ctx_->in_flight.store(true);
  *st = ThreadState{};
  step.what = Step::kReport;
  return step;
}

void Listener::WaitAndFill(const Step& step, ThreadState* st, ForkQuiet& quiet) {
  pollfd fds[2] = {{wake_fd_.Get(), POLLIN, 0}, {fd_.Get(), POLLIN, 0}};
  timespec timeout = {static_cast<time_t>(step.timeout_us / 1000000), static_cast<long>(step.timeout_us % 1000000 * 1000)};
  int n = ::ppoll(fds, step.socket ? 2 : 1, step.timeout_us < 0 ? nullptr : &timeout, nullptr);
  if (n < 0) {
    // EINTR: look at the orders again. Anything else (ENOMEM) ends an
    // armed wait; between arms the thread tries again.
    if (errno != EINTR && st->in_wait) st->err = errno;
    return;
  }
  if (st->in_wait) st->polled = true;
  // The orders are in the fields (read by NextStep()), not in the count.
  if (fds[0].revents != 0) DrainWake();
  if (step.socket && fds[1].revents != 0) {
    // Readiness without a request (another process took it) queues
    // nothing: the thread then waits on.
    quiet.lock();
    Fill(kBatchLimit);
    quiet.unlock();
  }
}

void Listener::StopThread() {
  if (!thread_.joinable()) return;
  if (InForkedChild()) {
    // The thread was the parent's; it does not exist in this process.
    thread_.detach();
    return;
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    closing_ = true;
  }
  Ring();
  thread_.join();
}

void Listener::CloseNow(bool tearing_down) {
  StopThread();
  if (tsfn_ != nullptr) {
    // While the environment is torn down nothing queued can be delivered:
    // abort, so the function closes its handle before the loop closes.
    napi_release_threadsafe_function(tsfn_, tearing_down ? napi_tsfn_abort : napi_tsfn_release);
    tsfn_ = nullptr;
    ctx_ = nullptr;  // the TSFN's finaliser owns it now
  }
  if (hook_registered_) {
    napi_remove_env_cleanup_hook(env_, CleanupHook, this);
    hook_registered_ = false;
  }
  watch_.Close();
  {
    std::lock_guard<std::mutex> lock(mu_);
    queue_.clear();  // closes accepted descriptors nobody took
    queued_bytes_ = 0;
  }
  fd_.Reset();
  wake_fd_.Reset();
  reserve_fd_.Reset();
}

}  // namespace socketserver
