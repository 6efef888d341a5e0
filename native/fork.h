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

// True in a child made by ForkRequest(): native threads of the parent do
// not exist here, so objects that own one must not join it.
bool InForkedChild();

Napi::Object InitFork(Napi::Env env, Napi::Object exports);

}  // namespace socketserver
