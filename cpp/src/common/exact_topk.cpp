// SPDX-FileCopyrightText: 2026 warpsearch contributors
// SPDX-License-Identifier: Apache-2.0
// exact_topk: the exact scan of rows the caller holds (a collection's rows that its
// index has not reached), one query at a time with the dispatched SIMD kernels and a
// k-heap. Declared in warpsearch/merge.hpp beside the merge of such lists.
#include <cmath>
#include <limits>
#include <vector>

#include "common/topk.hpp"
#include "simd/distance.hpp"
#include "warpsearch/errors.hpp"
#include "warpsearch/merge.hpp"
#include "warpsearch/threads.hpp"

namespace warpsearch {

void exact_topk(const float* x, std::size_t n, std::size_t d, const float* q, std::size_t nq,
                std::size_t k, Metric metric, const float* row_norms, const std::uint8_t* allow,
                float* D, idx_t* I) {
  WS_EXPECTS(k > 0, "k must be > 0, got ", k);
  WS_EXPECTS(k <= std::size_t(std::numeric_limits<int>::max()), "k too large: ", k);
  const auto& ker = detail::kernels();
  std::vector<float> own_norms;
  if (metric == Metric::Cosine && row_norms == nullptr) {
    own_norms.resize(n);
    for (std::size_t r = 0; r < n; ++r) own_norms[r] = std::sqrt(ker.ip(x + r * d, x + r * d, d));
    row_norms = own_norms.data();
  }
  auto one = [&](std::size_t i) {
    const float* qi = q + i * d;
    float* di = D + i * k;
    idx_t* ii = I + i * k;
    // the heap keeps the k smallest keys: distances, or negated similarities
    detail::TopK<idx_t> top(di, ii, int(k));
    for (std::size_t r = 0; r < n; ++r) {
      if (allow && !allow[r]) continue;
      const float* v = x + r * d;
      float key;
      if (metric == Metric::L2) {
        key = ker.l2(qi, v, d);
      } else {
        key = -ker.ip(qi, v, d);
        if (metric == Metric::Cosine) key /= row_norms[r];
      }
      if (key < top.threshold()) top.push(key, idx_t(r));  // NaN never enters
    }
    top.finish();
    if (metric != Metric::L2)
      for (std::size_t j = 0; j < k; ++j) di[j] = -di[j];  // padding becomes -inf
  };
  if (nq <= 1 || get_num_threads() <= 1) {
    for (std::size_t i = 0; i < nq; ++i) one(i);
    return;
  }
  parallel_for(nq, [&](std::size_t i, int) { one(i); });
}

}  // namespace warpsearch
