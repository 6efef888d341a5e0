// Per-environment state of the addon (one per Node environment: the main
// thread and each worker). No process-global state lives anywhere else.
#pragma once

#include <napi.h>

#include <cstdint>
#include <memory>

#include "poll_watch.h"

namespace socketserver {

class Addon : public Napi::Addon<Addon> {
 public:
  Addon(Napi::Env env, Napi::Object exports);
  Napi::Value MakeSystemError(const Napi::CallbackInfo& info);

  Napi::FunctionReference connection_ctor;
  Napi::FunctionReference listener_ctor;

  // Where a connection's recv() lands before its bytes are copied into a
  // Buffer of the exact size. Main thread of this environment only.
  static constexpr size_t kScratchSize = 64 * 1024;
  std::unique_ptr<uint8_t[]> scratch{new uint8_t[kScratchSize]};

  // Runs the callbacks of readiness waits that fired in one loop turn together.
  std::unique_ptr<Dispatcher> dispatcher;
};

}  // namespace socketserver
