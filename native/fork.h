// fork() inside a Node process (ForkingMixIn), and waiting for our own
// children. The recipe, and why each step exists, is DESIGN.md "Fork".
#pragma once

#include <napi.h>
#include <sys/types.h>

#include <shared_mutex>

namespace socketserver {

// Held shared by every native thread of the addon around anything that
// touches shared state (its queue, its ThreadSafeFunction); held exclusively
// across fork(). So no lock is inherited held by a thread the child lacks.
// Process-wide by nature: fork() forks the whole process.
std::shared_mutex& ForkLock();

// A native thread's shared hold of ForkLock(), as a BasicLockable. Use this
// type (not a std::shared_lock) so that the rule can be checked: with the
// test switch check_fork_lock on, each native thread counts its holds.
class ForkQuiet {
 public:
  ForkQuiet() = default;
  ForkQuiet(const ForkQuiet&) = delete;
  ForkQuiet& operator=(const ForkQuiet&) = delete;
  ~ForkQuiet() {
    if (owns_) unlock();
  }
  void lock();
  void unlock();
  bool owns_lock() const { return owns_; }

 private:
  bool owns_ = false;
};

// Marks the calling thread as a native thread of the addon (a serve
// thread), which must follow the rule above.
void MarkNativeThread();

// Checks the rule before a native thread takes a lock that guards shared
// state (`what` names it). A thread that is not a native thread of ours
// (the main thread forks, so it needs no hold) passes. Checked only with
// the test switch check_fork_lock (test_faults.h): a breach is reported
// once on stderr, never aborts.
void CheckForkQuiet(const char* what);

// True in a child made by ForkRequest(): native threads of the parent do
// not exist here, so objects that own one must not join it.
bool InForkedChild();

Napi::Object InitFork(Napi::Env env, Napi::Object exports);

}  // namespace socketserver
