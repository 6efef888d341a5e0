// RAII ownership of a file descriptor: every descriptor the addon opens
// lives in a UniqueFd, so no error path can leak one.
#pragma once

#include <cerrno>
#include <unistd.h>
#include <utility>

namespace socketserver {

class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  UniqueFd(UniqueFd&& other) noexcept : fd_(other.Release()) {}
  UniqueFd& operator=(UniqueFd&& other) noexcept {
    if (this != &other) Reset(other.Release());
    return *this;
  }
  ~UniqueFd() { Reset(); }

  int Get() const { return fd_; }
  bool Valid() const { return fd_ >= 0; }
  int Release() { return std::exchange(fd_, -1); }

  // Closes the descriptor we hold, if any. close() is not retried on EINTR:
  // on Linux the descriptor is released even when close() reports EINTR, and
  // a retry could close a descriptor another thread has just been given.
  void Reset(int fd = -1) {
    int old = std::exchange(fd_, fd);
    if (old >= 0) {
      int saved = errno;
      ::close(old);
      errno = saved;
    }
  }

 private:
  int fd_ = -1;
};

// Runs `call` (a system call: -1 and errno on failure) again while a signal
// interrupts it (EINTR), and returns its result; errno is the call's.
template <typename Call>
auto RetryOnEintr(Call call) -> decltype(call()) {
  decltype(call()) r;
  do {
    r = call();
  } while (r < 0 && errno == EINTR);
  return r;
}

}  // namespace socketserver
