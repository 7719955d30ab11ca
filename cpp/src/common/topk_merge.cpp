// SPDX-FileCopyrightText: 2026 warpsearch contributors
// SPDX-License-Identifier: Apache-2.0
// merge_topk: per row, a partial sort of the valid entries by (distance, column), then a
// walk that skips repeated ids; the sorted prefix doubles while duplicates leave fewer
// than k distinct ids in it.
#include <algorithm>
#include <cmath>
#include <limits>
#include <unordered_set>
#include <vector>

#include "warpsearch/errors.hpp"
#include "warpsearch/merge.hpp"
#include "warpsearch/threads.hpp"

namespace warpsearch {
namespace {

struct Entry {
  float key;         // distance, negated when larger is better: ascending is best first
  std::uint32_t col;
};

inline bool before(const Entry& a, const Entry& b) {
  return a.key < b.key || (a.key == b.key && a.col < b.col);
}

// Rows below this many entries in all are merged on the calling thread.
constexpr std::size_t kSerialEntries = std::size_t(1) << 16;
// Picked ids are checked linearly up to this k; a hash set beyond.
constexpr std::size_t kLinearDedup = 64;

void merge_row(const float* d, const idx_t* id, std::size_t m, std::size_t k, bool larger,
               float* od, idx_t* oi, std::vector<Entry>& e, std::unordered_set<idx_t>& seen) {
  e.clear();
  for (std::size_t j = 0; j < m; ++j)
    if (id[j] >= 0 && !std::isnan(d[j])) e.push_back({larger ? -d[j] : d[j], std::uint32_t(j)});
  std::size_t got = 0, done = 0;  // e[0, done) sorted and walked
  const bool hashed = k > kLinearDedup;
  if (hashed) seen.clear();
  std::size_t want = std::min(e.size(), k);
  while (got < k && done < e.size()) {
    std::partial_sort(e.begin() + std::ptrdiff_t(done), e.begin() + std::ptrdiff_t(want), e.end(), before);
    for (; done < want && got < k; ++done) {
      const idx_t x = id[e[done].col];
      bool dup;
      if (hashed) {
        dup = !seen.insert(x).second;
      } else {
        dup = false;
        for (std::size_t t = 0; t < got && !dup; ++t) dup = oi[t] == x;
      }
      if (dup) continue;
      od[got] = d[e[done].col];
      oi[got++] = x;
    }
    want = std::min(e.size(), done + 2 * (k - got) + 8);  // duplicates: sort further
  }
  const float pad = larger ? -std::numeric_limits<float>::infinity() : std::numeric_limits<float>::infinity();
  for (; got < k; ++got) {
    od[got] = pad;
    oi[got] = -1;
  }
}

}  // namespace

void merge_topk(const float* D, const idx_t* I, std::size_t nq, std::size_t m, std::size_t k,
                bool larger_is_better, float* outD, idx_t* outI) {
  WS_EXPECTS(k > 0, "k must be > 0, got ", k);
  WS_EXPECTS(m < (std::size_t(1) << 32), "too many columns: ", m);
  auto rows = [&](std::size_t r0, std::size_t r1) {
    std::vector<Entry> e;
    e.reserve(m);
    std::unordered_set<idx_t> seen;
    for (std::size_t r = r0; r < r1; ++r)
      merge_row(D + r * m, I + r * m, m, k, larger_is_better, outD + r * k, outI + r * k, e, seen);
  };
  if (nq * m < kSerialEntries || get_num_threads() <= 1) {
    rows(0, nq);
    return;
  }
  const std::size_t block = std::max<std::size_t>(1, kSerialEntries / 4 / std::max<std::size_t>(m, 1));
  parallel_for((nq + block - 1) / block, [&](std::size_t b, int) {
    rows(b * block, std::min(nq, (b + 1) * block));
  });
}

}  // namespace warpsearch
