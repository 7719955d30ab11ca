// SPDX-FileCopyrightText: 2026 warpsearch contributors
// SPDX-License-Identifier: Apache-2.0
// A small pool whose idle workers sleep on a condition variable (no spinning:
// on small shared machines spin-waiting threads steal the cores doing the work).
#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

#include "warpsearch/errors.hpp"
#include "warpsearch/threads.hpp"

namespace warpsearch {
namespace {

class Pool {
 public:
  explicit Pool(int n) { resize(n); }
  ~Pool() { stop_all(); }

  int size() const { return int(workers_.size()) + 1; }  // the caller works too

  void resize(int n) {
    std::lock_guard<std::mutex> run(run_mu_);
    stop_all();
    std::uint64_t current;
    {
      std::lock_guard<std::mutex> lk(mu_);
      stop_ = false;
      current = generation_;
    }
    // A new worker starts at the current job: were it to take the jobs run before it
    // for new work, its extra pass would count down a later job it never ran, and
    // that job's caller would wait forever.
    for (int t = 1; t < n; ++t) workers_.emplace_back([this, t, current] { loop(t, current); });
  }

  // Returns false (and runs nothing) when another batch job holds the pool.
  // ``helpers``: workers taking part (the others sleep through this job).
  bool try_run(std::size_t n, std::size_t grain, int helpers,
               const std::function<void(std::size_t, int)>& fn) {
    std::unique_lock<std::mutex> run(run_mu_, std::try_to_lock);
    if (!run.owns_lock()) return false;
    {
      std::lock_guard<std::mutex> lk(mu_);
      fn_ = &fn;
      n_ = n;
      grain_ = std::max<std::size_t>(1, grain);
      next_.store(0);
      error_ = nullptr;
      helpers_ = std::min(helpers, int(workers_.size()));
      active_ = helpers_;
      ++generation_;
    }
    cv_.notify_all();
    work(0);
    std::unique_lock<std::mutex> lk(mu_);
    done_cv_.wait(lk, [&] { return active_ == 0; });
    fn_ = nullptr;
    if (error_) std::rethrow_exception(error_);
    return true;
  }

 private:
  void stop_all() {
    {
      std::lock_guard<std::mutex> lk(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    for (auto& w : workers_) w.join();
    workers_.clear();
  }

  void work(int tid) {
    for (;;) {
      std::size_t begin = next_.fetch_add(grain_);
      if (begin >= n_) break;
      std::size_t end = std::min(n_, begin + grain_);
      try {
        for (std::size_t i = begin; i < end; ++i) (*fn_)(i, tid);
      } catch (...) {
        std::lock_guard<std::mutex> lk(err_mu_);
        if (!error_) error_ = std::current_exception();
        next_.store(n_);  // stop handing out work
      }
    }
  }

  void loop(int tid, std::uint64_t seen) {
    for (;;) {
      {
        std::unique_lock<std::mutex> lk(mu_);
        cv_.wait(lk, [&] { return stop_ || generation_ != seen; });
        if (stop_) return;
        seen = generation_;
        if (tid > helpers_) continue;  // not needed for this job
      }
      work(tid);
      {
        std::lock_guard<std::mutex> lk(mu_);
        if (--active_ == 0) done_cv_.notify_one();
      }
    }
  }

  std::vector<std::thread> workers_;
  std::mutex run_mu_, mu_, err_mu_;
  std::condition_variable cv_, done_cv_;
  const std::function<void(std::size_t, int)>* fn_ = nullptr;
  std::size_t n_ = 0, grain_ = 1;
  std::atomic<std::size_t> next_{0};
  std::exception_ptr error_;
  int active_ = 0, helpers_ = 0;
  std::uint64_t generation_ = 0;
  bool stop_ = false;
};

int default_threads() {
  unsigned hc = std::thread::hardware_concurrency();
  return hc == 0 ? 1 : int(hc);
}

std::atomic<int> g_threads{default_threads()};

Pool& pool() {
  // Never destroyed: at exit, a thread the process does not join (a daemon thread of
  // the interpreter) can still be in a job, and the workers end with the process.
  static Pool* p = new Pool(g_threads.load());
  return *p;
}

thread_local bool t_in_parallel = false;
thread_local int t_limit = 0;  // threads of this thread's batch calls (0: all)

}  // namespace

void set_num_threads(int n) {
  WS_EXPECTS(n >= 1, "number of threads must be >= 1, got ", n);
  g_threads.store(n);
  if (pool().size() != n) pool().resize(n);
}

int get_num_threads() { return g_threads.load(); }

void set_thread_limit(int n) {
  WS_EXPECTS(n >= 0, "thread limit must be >= 0 (0: none), got ", n);
  t_limit = n;
}

int thread_limit() { return t_limit; }

void parallel_for(std::size_t n, const std::function<void(std::size_t, int)>& fn,
                  std::size_t grain) {
  if (n == 0) return;
  // Nested calls, a limit of one thread, single-thread settings and tiny jobs run inline.
  if (t_in_parallel || t_limit == 1 || g_threads.load() <= 1 || n <= grain) {
    for (std::size_t i = 0; i < n; ++i) fn(i, 0);
    return;
  }
  struct Flag {
    Flag() { t_in_parallel = true; }
    ~Flag() { t_in_parallel = false; }
  };
  // A second caller (another Python thread) does not queue behind a running batch:
  // it runs its own job inline on its thread.
  const int helpers = (t_limit > 0 ? t_limit : g_threads.load()) - 1;
  bool ran = pool().try_run(n, grain, helpers, [&](std::size_t i, int tid) {
    Flag f;
    fn(i, tid);
  });
  if (!ran) {
    Flag f;
    for (std::size_t i = 0; i < n; ++i) fn(i, 0);
  }
}

}  // namespace warpsearch
