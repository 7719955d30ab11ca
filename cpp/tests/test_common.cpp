// SPDX-FileCopyrightText: 2026 warpsearch contributors
// SPDX-License-Identifier: Apache-2.0
// Top-k heap, bitset helpers and the thread pool.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <set>
#include <thread>
#include <cmath>
#include <limits>
#include <numeric>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "common/bitset.hpp"
#include "common/topk.hpp"
#include "warpsearch/errors.hpp"
#include "warpsearch/threads.hpp"

namespace warpsearch::detail {
namespace {

TEST(TopK, KeepsTheKSmallestSortedAscending) {
  std::mt19937 g(5);
  std::uniform_real_distribution<float> u(-100.f, 100.f);
  for (int k : {1, 2, 10, 64}) {
    for (int n : {0, 1, k - 1, k, k + 1, 1000}) {
      if (n < 0) continue;
      std::vector<float> d(static_cast<std::size_t>(n));
      for (auto& x : d) x = u(g);
      std::vector<float> D(static_cast<std::size_t>(k));
      std::vector<idx_t> I(static_cast<std::size_t>(k));
      TopK<idx_t> top(D.data(), I.data(), k);
      for (int i = 0; i < n; ++i) top.push(d[std::size_t(i)], idx_t(i) * 3);
      EXPECT_EQ(top.size(), std::min(n, k));
      EXPECT_EQ(top.full(), n >= k);
      const int count = top.finish();
      ASSERT_EQ(count, std::min(n, k));
      std::vector<int> order(static_cast<std::size_t>(n));
      std::iota(order.begin(), order.end(), 0);
      std::sort(order.begin(), order.end(), [&](int a, int b) { return d[std::size_t(a)] < d[std::size_t(b)]; });
      for (int j = 0; j < count; ++j) {
        EXPECT_EQ(D[std::size_t(j)], d[std::size_t(order[std::size_t(j)])]) << "k=" << k << " n=" << n;
        EXPECT_EQ(I[std::size_t(j)], idx_t(order[std::size_t(j)]) * 3) << "k=" << k << " n=" << n;
      }
      for (int j = count; j < k; ++j) {  // padding
        EXPECT_EQ(D[std::size_t(j)], std::numeric_limits<float>::infinity());
        EXPECT_EQ(I[std::size_t(j)], -1);
      }
    }
  }
}

TEST(TopK, ThresholdIsTheWorstKeptOnceFull) {
  float D[3];
  std::uint32_t I[3];
  TopK<std::uint32_t> top(D, I, 3);
  EXPECT_EQ(top.threshold(), std::numeric_limits<float>::infinity());
  top.push(5.f, 1);
  top.push(1.f, 2);
  EXPECT_EQ(top.threshold(), std::numeric_limits<float>::infinity());
  top.push(3.f, 3);
  EXPECT_EQ(top.threshold(), 5.f);
  top.push(5.f, 4);  // a tie with the worst does not enter
  top.push(9.f, 5);
  EXPECT_EQ(top.threshold(), 5.f);
  top.push(2.f, 6);
  EXPECT_EQ(top.threshold(), 3.f);
  ASSERT_EQ(top.finish(), 3);
  EXPECT_EQ(std::vector<float>(D, D + 3), (std::vector<float>{1.f, 2.f, 3.f}));
  EXPECT_EQ(std::vector<std::uint32_t>(I, I + 3), (std::vector<std::uint32_t>{2, 6, 3}));
}

TEST(TopK, EqualDistancesKeepEveryId) {
  float D[4];
  idx_t I[4];
  TopK<idx_t> top(D, I, 4);
  for (idx_t i = 0; i < 4; ++i) top.push(1.f, i);
  ASSERT_EQ(top.finish(), 4);
  std::vector<idx_t> ids(I, I + 4);
  std::sort(ids.begin(), ids.end());
  EXPECT_EQ(ids, (std::vector<idx_t>{0, 1, 2, 3}));
}

TEST(Bitset, SetAndTestEveryBit) {
  EXPECT_EQ(bit_words(0), 0u);
  EXPECT_EQ(bit_words(1), 1u);
  EXPECT_EQ(bit_words(64), 1u);
  EXPECT_EQ(bit_words(65), 2u);
  const std::size_t n = 1000;
  std::vector<std::uint64_t> b(bit_words(n), 0);
  std::vector<bool> ref(n, false);
  std::mt19937 g(3);
  for (int t = 0; t < 300; ++t) {
    const std::size_t i = g() % n;
    bit_set(b.data(), i);
    ref[i] = true;
  }
  for (std::size_t i : {std::size_t(0), std::size_t(63), std::size_t(64), n - 1}) {
    bit_set(b.data(), i);
    ref[i] = true;
  }
  for (std::size_t i = 0; i < n; ++i) ASSERT_EQ(bit_test(b.data(), i), ref[i]) << "bit " << i;
  bit_set(b.data(), 5);  // setting twice keeps it set
  EXPECT_TRUE(bit_test(b.data(), 5));
}

class ThreadPool : public ::testing::Test {
 protected:
  void SetUp() override { set_num_threads(4); }
  void TearDown() override { set_num_threads(saved_); }
  int saved_ = get_num_threads();
};

TEST_F(ThreadPool, EveryItemRunsOnce) {
  for (std::size_t grain : {1, 7, 100}) {
    for (std::size_t n : {0, 1, 3, 1000, 20011}) {
      std::vector<std::atomic<int>> hits(n);
      std::atomic<int> bad_tid{0};
      parallel_for(n, [&](std::size_t i, int tid) {
        hits[i].fetch_add(1);
        if (tid < 0 || tid >= 4) bad_tid.fetch_add(1);
      }, grain);
      for (std::size_t i = 0; i < n; ++i) ASSERT_EQ(hits[i].load(), 1) << "item " << i << " grain " << grain;
      EXPECT_EQ(bad_tid.load(), 0);
    }
  }
}

TEST_F(ThreadPool, WorkerExceptionsComeBackToTheCaller) {
  for (int round = 0; round < 20; ++round) {
    std::atomic<int> ran{0};
    try {
      parallel_for(5000, [&](std::size_t i, int) {
        ran.fetch_add(1);
        if (i == 3777) throw std::invalid_argument("bad item " + std::to_string(i));
      });
      FAIL() << "the exception was lost";
    } catch (const std::invalid_argument& e) {
      EXPECT_STREQ(e.what(), "bad item 3777");
    }
    EXPECT_GE(ran.load(), 1);
    // the pool still works afterwards, every item once
    std::vector<std::atomic<int>> hits(777);
    parallel_for(hits.size(), [&](std::size_t i, int) { hits[i].fetch_add(1); });
    for (auto& h : hits) ASSERT_EQ(h.load(), 1);
  }
}

TEST_F(ThreadPool, ExceptionTypeIsKeptAndOneWinsWhenManyThrow) {
  EXPECT_THROW(parallel_for(100, [](std::size_t i, int) {
                 if (i % 2) throw InternalError("odd " + std::to_string(i));
               }),
               InternalError);
  try {
    parallel_for(64, [](std::size_t i, int) { throw std::runtime_error("item " + std::to_string(i)); });
    FAIL() << "the exception was lost";
  } catch (const std::runtime_error& e) {
    EXPECT_EQ(std::string(e.what()).rfind("item ", 0), 0u);
  }
}

TEST_F(ThreadPool, NestedCallsRunInline) {
  std::vector<std::atomic<int>> hits(40 * 30);
  parallel_for(40, [&](std::size_t i, int) {
    parallel_for(30, [&](std::size_t j, int tid) {
      EXPECT_EQ(tid, 0);
      hits[i * 30 + j].fetch_add(1);
    });
  });
  for (auto& h : hits) ASSERT_EQ(h.load(), 1);
}

// Workers made by a resize start at the pool's current job: one that took the jobs run
// before it for new work took an extra pass, and its extra count left the caller of a
// later job waiting forever. Resizes between jobs, with a watchdog against a hang.
TEST_F(ThreadPool, ResizesBetweenJobsNeverHang) {
  std::atomic<bool> done{false};
  std::thread watchdog([&] {
    for (int i = 0; i < 300 && !done.load(); ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    if (!done.load()) {
      std::fprintf(stderr, "ThreadPool.ResizesBetweenJobsNeverHang: a job never finished\n");
      std::_Exit(1);
    }
  });
  std::atomic<long> sum{0};
  long want = 0;
  for (int round = 0; round < 20000; ++round) {
    set_num_threads(2 + round % 2);
    for (int j = 0; j < 4; ++j) {
      const std::size_t n = 2 + std::size_t(j) * 20;
      parallel_for(n, [&](std::size_t i, int) { sum.fetch_add(long(i)); });
      want += long(n * (n - 1) / 2);
    }
  }
  done.store(true);
  watchdog.join();
  EXPECT_EQ(sum.load(), want);
}

TEST_F(ThreadPool, ACallersLimitCapsItsThreads) {
  for (int limit : {1, 2, 3, 0}) {
    set_thread_limit(limit);
    EXPECT_EQ(thread_limit(), limit);
    for (int rep = 0; rep < 50; ++rep) {
      std::vector<std::atomic<int>> hits(3000);
      std::mutex mu;
      std::set<int> tids;
      parallel_for(hits.size(), [&](std::size_t i, int tid) {
        hits[i].fetch_add(1);
        std::this_thread::yield();
        std::lock_guard<std::mutex> lk(mu);
        tids.insert(tid);
      });
      for (auto& h : hits) ASSERT_EQ(h.load(), 1);
      const int cap = limit == 0 ? 4 : limit;
      EXPECT_LE(int(tids.size()), cap);
      for (int t : tids) EXPECT_LT(t, cap);
    }
  }
  // the limit is the calling thread's: another thread's calls use the whole pool
  set_thread_limit(1);
  std::set<int> other;
  std::thread th([&] {
    std::mutex mu;
    for (int rep = 0; rep < 200 && other.size() < 2; ++rep)
      parallel_for(4000, [&](std::size_t, int tid) {
        std::this_thread::yield();
        std::lock_guard<std::mutex> lk(mu);
        other.insert(tid);
      });
  });
  th.join();
  set_thread_limit(0);
  EXPECT_GE(other.size(), 2u);
  EXPECT_THROW(set_thread_limit(-1), std::invalid_argument);
}

TEST_F(ThreadPool, ThreadCountIsChecked) {
  EXPECT_THROW(set_num_threads(0), std::invalid_argument);
  EXPECT_EQ(get_num_threads(), 4);
  set_num_threads(1);
  std::vector<int> order;
  parallel_for(5, [&](std::size_t i, int) { order.push_back(int(i)); });  // inline, in order
  EXPECT_EQ(order, (std::vector<int>{0, 1, 2, 3, 4}));
}

}  // namespace
}  // namespace warpsearch::detail
