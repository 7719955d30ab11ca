// SPDX-FileCopyrightText: 2026 warpsearch contributors
// SPDX-License-Identifier: Apache-2.0
#pragma once
/**
 * @brief Error types of the warpsearch engine.
 *
 * User errors are std::invalid_argument (Python ValueError); broken internal
 * invariants are InternalError (Python RuntimeError); CUDA failures are
 * CudaError; a device copy older than its index is StaleDeviceCopyError (a
 * ValueError subclass in Python); a search past its SearchParams::deadline throws
 * TimeoutError (Python's built-in TimeoutError). Nothing in the engine calls abort().
 */
#include <sstream>
#include <stdexcept>
#include <string>

namespace warpsearch {

/** @brief A broken internal invariant: a bug in warpsearch, never the user's fault. */
class InternalError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/** @brief A failed CUDA runtime call, with the call and the driver's message. */
class CudaError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/**
 * @brief A search was given a device copy made before the index last changed.
 *
 * An invalid_argument (Python: ``_core.StaleDeviceCopyError``, a ValueError), distinct
 * so that callers can make the copy again and retry without matching a message.
 */
class StaleDeviceCopyError : public std::invalid_argument {
 public:
  StaleDeviceCopyError()
      : std::invalid_argument(
            "the device copy of this index is out of date (the index changed since to_device)") {}
};

/**
 * @brief A damaged index file: a checksum mismatch, a truncated or inconsistent section.
 *
 * An invalid_argument (Python: ``warpsearch.CorruptionError``, a ValueError). A
 * memory-mapped index raises it on the first use of a section whose checksum fails.
 */
class CorruptFileError : public std::invalid_argument {
 public:
  using std::invalid_argument::invalid_argument;
};

/**
 * @brief A search passed its deadline (SearchParams::deadline) and stopped.
 *
 * Nothing is written to the caller's results that it may rely on, and the index is
 * unchanged: a later search runs as if this one never had.
 */
class TimeoutError : public std::runtime_error {
 public:
  TimeoutError() : std::runtime_error("the search exceeded its timeout") {}
};

namespace detail {
template <typename... Args>
std::string concat(Args&&... args) {
  std::ostringstream os;
  (os << ... << args);
  return os.str();
}
}  // namespace detail
}  // namespace warpsearch

/// Throws std::invalid_argument with the streamed message when cond is false.
#define WS_EXPECTS(cond, ...)                                                   \
  do {                                                                          \
    if (!(cond)) throw std::invalid_argument(::warpsearch::detail::concat(__VA_ARGS__)); \
  } while (0)

/// Throws StaleDeviceCopyError when a device copy no longer matches its index.
#define WS_EXPECTS_CURRENT_COPY(cond)                          \
  do {                                                         \
    if (!(cond)) throw ::warpsearch::StaleDeviceCopyError();   \
  } while (0)

/// Throws InternalError when an invariant does not hold.
#define WS_ASSERT(cond, ...)                                                            \
  do {                                                                                  \
    if (!(cond))                                                                        \
      throw ::warpsearch::InternalError(::warpsearch::detail::concat(                   \
          "internal error at ", __FILE__, ":", __LINE__, ": ", #cond, " ", ##__VA_ARGS__)); \
  } while (0)
