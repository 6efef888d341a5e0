// Socket activation (lib/activation.ts is the other half): what systemd's
// sd_listen_fds() needs of each passed descriptor, which Node cannot ask
// (it has no getsockopt): its family, its type, whether it listens; and
// close-on-exec, so that a child process does not inherit it by accident.
#pragma once

#include <napi.h>

namespace socketserver {

// Exports socketKind(fd) -> { family, type, listening } (a system error for
// a descriptor that is not a socket: ENOTSOCK, EBADF) and setCloexec(fd).
void InitActivation(Napi::Env env, Napi::Object exports);

}  // namespace socketserver
