// SPDX-FileCopyrightText: 2026 warpsearch contributors
// SPDX-License-Identifier: Apache-2.0
#pragma once
// The deadline of one search call (SearchParams::deadline), shared by its threads.
// Reading the steady clock costs about 20 ns (a vDSO call), so the scans and walks read
// it once per block of work (a cache block of rows, a few graph expansions, a cell's
// chunk of codes), never per distance. The first thread that finds the deadline passed
// raises a shared flag: the others stop at their next check without reading the clock,
// and the thread pool hands out no further work once a task has thrown.
#include <atomic>
#include <chrono>
#include <cstddef>

#include "warpsearch/errors.hpp"
#include "warpsearch/types.hpp"

namespace warpsearch::detail {

class Deadline {
 public:
  using Clock = std::chrono::steady_clock;

  Deadline() = default;  // none
  explicit Deadline(Clock::time_point t) : t_(t), active_(t != Clock::time_point::max()) {}
  explicit Deadline(const SearchParams& p) : Deadline(p.deadline) {}
  Deadline(const Deadline&) = delete;
  Deadline& operator=(const Deadline&) = delete;

  bool active() const { return active_; }
  // Throws TimeoutError when the deadline has passed (or another thread found it so).
  void check() const {
    if (active_) check_now();
  }

 private:
  void check_now() const {
    if (expired_.load(std::memory_order_relaxed) || Clock::now() >= t_) {
      expired_.store(true, std::memory_order_relaxed);
      throw TimeoutError();
    }
  }

  Clock::time_point t_ = Clock::time_point::max();
  bool active_ = false;
  mutable std::atomic<bool> expired_{false};
};

// One thread's count of work against a Deadline: tick(n) counts n units (by default
// about one float distance evaluation each) and checks the deadline once per `every`
// of them.
class DeadlineTicker {
 public:
  static constexpr std::ptrdiff_t kEvery = 512;

  explicit DeadlineTicker(const Deadline* d, std::ptrdiff_t every = kEvery)
      : d_(d && d->active() ? d : nullptr), every_(every), left_(every) {}
  bool active() const { return d_ != nullptr; }
  __attribute__((always_inline)) void tick(std::size_t n = 1) {
    if (!d_) return;
    left_ -= std::ptrdiff_t(n);
    if (left_ <= 0) {
      left_ = every_;
      d_->check();
    }
  }
  void check() const {
    if (d_) d_->check();
  }

 private:
  const Deadline* d_;
  std::ptrdiff_t every_, left_;
};

}  // namespace warpsearch::detail
