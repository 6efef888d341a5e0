// The server's own socket (listening stream, or bound datagram socket) and
// its serve thread.
//
// The serve thread exists only once the server serves. JS arms it with a
// timeout; it waits with poll() on [socket, wake eventfd], takes from the
// kernel what is ready (accept4 / recvmmsg, up to the batch limit) into a
// queue, and reports one event through one ThreadSafeFunction: READY,
// TIMEOUT, WOKEN (wake() or close), or ERROR. When the server is busy, JS
// takes the next request itself with readyNow(), a non-blocking call on the
// main thread, so the thread hop is only paid when the server was idle.
//
// A datagram socket is also read while handlers run, so that a burst does
// not overflow the kernel's small receive buffer: the main thread reads it
// as it takes datagrams (PopPending(), at most every kMainDrainUs), and,
// from the first arm() until close, the serve thread when the main thread
// has not for kServeDrainUs. What is read waits in the queue, which holds
// at most maxQueuedDatagrams datagrams and maxQueuedBytes payload bytes; a
// datagram that finds it full is read and dropped, and counted
// (droppedDatagrams). A stream socket's thread takes connections only
// while armed: the kernel's backlog is the queue of a synchronous stream
// server.
#pragma once

#include <napi.h>

#include <atomic>
#include <cstdint>
#include <deque>
#include <mutex>
#include <shared_mutex>
#include <thread>
#include <vector>

#include "address.h"
#include "fd.h"
#include "fork.h"
#include "socket_wrap.h"

namespace socketserver {

struct Pending {
  UniqueFd fd;                // stream: the accepted connection
  std::vector<uint8_t> data;  // datagram: the payload (at most the packet size)
  bool truncated = false;     // datagram: the kernel had more (MSG_TRUNC)
  SockAddr addr;
  int err = 0;                // an accept/recv error, reported to take()
};

enum EventKind { kReady = 1, kTimeout = 2, kWoken = 3, kError = 4 };

struct TsfnContext;

class Listener : public SocketWrap<Listener> {
 public:
  static Napi::Function Init(Napi::Env env);
  explicit Listener(const Napi::CallbackInfo& info);
  ~Listener() override;

 private:
  friend class SocketWrap<Listener>;  // Close() calls CloseNow()

  Napi::Value Bind(const Napi::CallbackInfo& info);
  Napi::Value Listen(const Napi::CallbackInfo& info);
  Napi::Value Configure(const Napi::CallbackInfo& info);
  Napi::Value ReadyNow(const Napi::CallbackInfo& info);
  Napi::Value Take(const Napi::CallbackInfo& info);
  // The datagram fast path and replies (datagram.cc).
  Napi::Value TakeDatagram(const Napi::CallbackInfo& info);
  Napi::Value SendTo(const Napi::CallbackInfo& info);
  Napi::Value SendToLast(const Napi::CallbackInfo& info);
  // Pops the next request (taking from the kernel if the queue is empty;
  // a datagram socket's main-thread drain, kMainDrainUs); throws its error,
  // or EAGAIN when there is none.
  Pending PopPending(Napi::Env env);
  Napi::Value Arm(const Napi::CallbackInfo& info);
  Napi::Value Wake(const Napi::CallbackInfo& info);
  Napi::Value DroppedDatagrams(const Napi::CallbackInfo& info);
  Napi::Value Dup(const Napi::CallbackInfo& info);
  Napi::Value Queued(const Napi::CallbackInfo& info);

  void StartThread(Napi::Env env);
  void StopThread();
  void CloseNow(bool tearing_down = false);
  static void CleanupHook(void* arg);

  // Serve thread.
  // What the thread keeps from one step to the next (its own, unshared).
  struct ThreadState {
    bool in_wait = false;    // an armed wait is under way
    int64_t deadline = -1;   // its end (NowUs()), -1: none
    bool polled = false;     // the socket was polled since it began
    int err = 0;             // a poll error, for that wait to report
  };
  // What it does next: stop, report the event it has set in flight, or
  // wait (ppoll) for at most timeout_us (-1: no limit), on the wake eventfd
  // and, with `socket`, on the socket.
  struct Step {
    enum What { kStop, kReport, kWait } what = kWait;
    int64_t timeout_us = -1;
    bool socket = false;
  };
  void ThreadMain();
  // Under mu_ (the caller holds the fork lock): the next step. For kReport
  // it has disarmed the thread and put the event in flight.
  Step NextStep(ThreadState* st, pid_t pid);
  // Polls holding no lock; on readiness takes the fork lock for Fill().
  void WaitAndFill(const Step& step, ThreadState* st, ForkQuiet& quiet);
  // The wake eventfd: the doorbell of arm(), wake() and close(); what they
  // want is in armed_ / wake_pending_ / closing_.
  void Ring();
  void DrainWake();

  // Takes up to `limit` requests from the kernel into the queue, without
  // blocking; kBatchLimit: up to the configured batch limit. Returns how
  // many were queued (an error counts as one). A datagram that finds the
  // queue at its bounds is dropped and counted instead.
  // With kIfIdle, does nothing (0) while another thread fills: the main
  // thread must not wait for a serve thread that may be off its core.
  static constexpr size_t kBatchLimit = 0;
  static constexpr bool kIfIdle = true;
  size_t Fill(size_t limit, bool if_idle = false);
  size_t FillOrThrow(size_t limit, bool if_idle);

  // On EMFILE/ENFILE: gives up the reserved descriptor, accepts and closes
  // what is pending, takes the reserve back. Returns how many were shed.
  size_t ShedPending();

  int family_;
  int type_;
  UniqueFd wake_fd_;
  // A descriptor held in reserve (/dev/null) for ShedPending(), as libuv
  // does: without one, a server out of descriptors cannot accept to refuse,
  // and poll() keeps reporting the same pending connection (a spin).
  UniqueFd reserve_fd_;

  // The sender cache (datagram.cc): the sender of the last datagram
  // takeDatagram() described by its host (the JS side caches that host
  // string, and sendToLast() reuses this address instead of parsing the
  // string again). Main thread only.
  SockAddr last_from_;

  // The serve thread takes fill_mu_ and mu_ only while it holds the fork
  // lock (fork.h); the main thread, which is the one that forks, needs not.
  std::mutex fill_mu_;                // one Fill() at a time; guards:
  std::vector<uint8_t> pool_;         //   recvmmsg buffers
  size_t batch_limit_ = 1;            //   configure()
  size_t packet_size_ = 8192;         //   configure()
  size_t max_queued_ = 4096;          //   configure(): the queue's bounds,
  size_t max_queued_bytes_ = 2 << 20; //   in datagrams and payload bytes

  std::mutex mu_;                     // guards the fields below
  std::deque<Pending> queue_;
  size_t queued_bytes_ = 0;           // the payload bytes in queue_
  uint64_t dropped_ = 0;              // datagrams dropped: the queue was full
  bool armed_ = false;
  bool closing_ = false;
  bool wake_pending_ = false;         // wake() since the last armed wait ended
  int64_t arm_timeout_ms_ = -1;

  // When the main thread last read a datagram socket (NowUs()): the serve
  // thread reads it between arms only once that is kServeDrainUs ago.
  std::atomic<int64_t> main_drain_us_{0};

  std::thread thread_;
  napi_threadsafe_function tsfn_ = nullptr;
  TsfnContext* ctx_ = nullptr;
  napi_env env_ = nullptr;
  bool hook_registered_ = false;
};

}  // namespace socketserver
