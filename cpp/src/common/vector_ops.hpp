// SPDX-FileCopyrightText: 2026 warpsearch contributors
// SPDX-License-Identifier: Apache-2.0
#pragma once
// Row operations shared by the indexes.
#include <cmath>
#include <cstddef>
#include <vector>

#include "warpsearch/errors.hpp"
#include "warpsearch/types.hpp"

namespace warpsearch::detail {

// Writes the n rows of x (d floats each) scaled to unit length into out, which may
// be x itself. Zero rows stay zero.
inline void normalize_rows(const float* x, std::size_t n, std::size_t d, float* out) {
  for (std::size_t i = 0; i < n; ++i) {
    double s = 0;
    for (std::size_t j = 0; j < d; ++j) s += double(x[i * d + j]) * x[i * d + j];
    const float inv = s > 0 ? float(1.0 / std::sqrt(s)) : 0.f;
    for (std::size_t j = 0; j < d; ++j) out[i * d + j] = x[i * d + j] * inv;
  }
}

// The rows as the metric compares them: a normalized copy in buf for cosine, else x.
inline const float* metric_rows(const float* x, std::size_t n, std::size_t d, Metric metric,
                                std::vector<float>& buf) {
  if (metric != Metric::Cosine) return x;
  buf.resize(n * d);
  normalize_rows(x, n, d, buf.data());
  return buf.data();
}

// The queries as the metric compares them (see metric_rows). Under cosine a zero
// query has no direction, so it is refused as a zero vector in add is.
inline const float* query_rows(const float* q, std::size_t nq, std::size_t d, Metric metric,
                               std::vector<float>& buf) {
  if (metric != Metric::Cosine) return q;
  for (std::size_t i = 0; i < nq; ++i) {
    bool zero = true;
    for (std::size_t j = 0; j < d && zero; ++j) zero = q[i * d + j] == 0.f;
    WS_EXPECTS(!zero, "a zero query vector has no direction (query ", i,
               "); cosine needs a nonzero query");
  }
  return metric_rows(q, nq, d, metric, buf);
}

}  // namespace warpsearch::detail
