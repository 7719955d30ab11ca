// SPDX-FileCopyrightText: 2026 warpsearch contributors
// SPDX-License-Identifier: Apache-2.0
#include "quantization/rotation.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <numeric>

#include "simd/distance.hpp"
#include "warpsearch/errors.hpp"
#include "warpsearch/threads.hpp"

namespace warpsearch::detail {

void Rotation::set(const std::vector<float>& r, std::size_t d) {
  WS_EXPECTS(r.size() == d * d, "a rotation of dimension ", d, " needs ", d * d, " values, got ",
             r.size());
  d_ = d;
  r_ = r;
  const std::size_t np = (d + kPanel - 1) / kPanel;
  panels_.assign(np * kPanel * d, 0.f);
  for (std::size_t i = 0; i < d; ++i)
    for (std::size_t t = 0; t < d; ++t) panels_[(i / kPanel) * kPanel * d + t * kPanel + i % kPanel] = r[i * d + t];
}

void Rotation::clear() {
  d_ = 0;
  r_.clear();
  panels_.clear();
}

void Rotation::apply(const float* x, std::size_t n, float* out) const {
  const auto& K = kernels();
  const std::size_t d = d_, np = (d + kPanel - 1) / kPanel, mq = std::size_t(K.max_q);
  std::vector<float> buf(mq * kPanel);
  for (std::size_t b = 0; b < n; b += mq) {
    const std::size_t nb = std::min(mq, n - b);
    for (std::size_t p = 0; p < np; ++p) {
      K.dot_panel(x + b * d, nb, d, &panels_[p * kPanel * d], d, buf.data());
      const std::size_t w = std::min(kPanel, d - p * kPanel);
      for (std::size_t i = 0; i < nb; ++i)
        std::memcpy(out + (b + i) * d + p * kPanel, &buf[i * kPanel], w * sizeof(float));
    }
  }
}

void Rotation::apply_transpose(const float* y, std::size_t n, float* out) const {
  const std::size_t d = d_;
  for (std::size_t r = 0; r < n; ++r) {
    float* o = out + r * d;
    std::fill(o, o + d, 0.f);
    for (std::size_t i = 0; i < d; ++i) {
      const float yi = y[r * d + i];
      const float* row = &r_[i * d];
      for (std::size_t t = 0; t < d; ++t) o[t] += yi * row[t];
    }
  }
}

void symmetric_eigen(std::vector<double>& a, std::size_t d, std::vector<double>& w,
                     std::vector<double>& v) {
  // 1. Householder reduction to tridiagonal form, T = Q^T A Q, with v = Q^T (rows):
  //    step k reflects rows/columns k+1.. so that column k has zeros below k+1.
  const std::size_t n = d;
  v.assign(n * n, 0.0);
  for (std::size_t i = 0; i < n; ++i) v[i * n + i] = 1.0;
  std::vector<double> h(n), p(n), col(n);
  for (std::size_t k = 0; k + 2 < n; ++k) {
    const std::size_t b = k + 1, len = n - b;
    double norm = 0;
    for (std::size_t i = b; i < n; ++i) norm += a[i * n + k] * a[i * n + k];
    norm = std::sqrt(norm);
    if (norm == 0.0) continue;
    const double alpha = a[b * n + k] > 0 ? -norm : norm;
    for (std::size_t i = b; i < n; ++i) h[i] = a[i * n + k];
    h[b] -= alpha;
    double hh = 0;
    for (std::size_t i = b; i < n; ++i) hh += h[i] * h[i];
    if (hh == 0.0) continue;
    const double beta = 2.0 / hh;  // reflection I - beta h h^T
    // A_sub <- A_sub - h w^T - w h^T with p = beta A_sub h, w = p - (beta / 2)(h.p) h.
    double hp = 0;
    for (std::size_t i = b; i < n; ++i) {
      const double* row = &a[i * n + b];
      double acc = 0;
      for (std::size_t j = 0; j < len; ++j) acc += row[j] * h[b + j];
      p[i] = beta * acc;
      hp += h[i] * p[i];
    }
    const double kk = 0.5 * beta * hp;
    for (std::size_t i = b; i < n; ++i) p[i] -= kk * h[i];
    for (std::size_t i = b; i < n; ++i) {
      double* row = &a[i * n + b];
      const double hi = h[i], wi = p[i];
      for (std::size_t j = 0; j < len; ++j) row[j] -= hi * p[b + j] + wi * h[b + j];
    }
    a[b * n + k] = a[k * n + b] = alpha;
    for (std::size_t i = b + 1; i < n; ++i) a[i * n + k] = a[k * n + i] = 0.0;
    // Q <- Q H, i.e. rows b.. of v <- H v.
    std::fill(col.begin(), col.end(), 0.0);
    for (std::size_t i = b; i < n; ++i) {
      const double* row = &v[i * n];
      for (std::size_t c = 0; c < n; ++c) col[c] += h[i] * row[c];
    }
    for (std::size_t i = b; i < n; ++i) {
      double* row = &v[i * n];
      const double f = beta * h[i];
      for (std::size_t c = 0; c < n; ++c) row[c] -= f * col[c];
    }
  }
  // 2. Implicit QL iterations with shifts on the tridiagonal (diagonal w, sub-diagonal
  //    e[i] between i and i + 1); each plane rotation also turns rows i, i + 1 of v.
  w.resize(n);
  std::vector<double> e(n, 0.0);
  for (std::size_t i = 0; i < n; ++i) w[i] = a[i * n + i];
  for (std::size_t i = 0; i + 1 < n; ++i) e[i] = a[(i + 1) * n + i];
  constexpr double kEps = std::numeric_limits<double>::epsilon();
  for (std::size_t l = 0; l < n; ++l) {
    for (int iter = 0;; ++iter) {
      std::size_t m = l;
      for (; m + 1 < n; ++m)
        if (std::abs(e[m]) <= kEps * (std::abs(w[m]) + std::abs(w[m + 1]))) break;
      if (m == l) break;
      WS_EXPECTS(iter < 100, "eigen-decomposition did not converge");
      // Shift from the leading 2x2 block, then chase the bulge from m - 1 up to l.
      double g = (w[l + 1] - w[l]) / (2.0 * e[l]);
      double r = std::hypot(g, 1.0);
      g = w[m] - w[l] + e[l] / (g + (g >= 0 ? r : -r));
      double s = 1.0, c = 1.0, shift = 0.0;
      bool split = false;
      for (std::size_t i = m; i-- > l;) {
        const double f = s * e[i], bb = c * e[i];
        r = std::hypot(f, g);
        e[i + 1] = r;
        if (r == 0.0) {  // the sub-diagonal underflowed: the block splits here
          w[i + 1] -= shift;
          e[m] = 0.0;
          split = true;
          break;
        }
        s = f / r;
        c = g / r;
        g = w[i + 1] - shift;
        r = (w[i] - g) * s + 2.0 * c * bb;
        shift = s * r;
        w[i + 1] = g + shift;
        g = c * r - bb;
        double* vi = &v[i * n];
        double* vj = &v[(i + 1) * n];
        for (std::size_t k = 0; k < n; ++k) {
          const double x1 = vj[k], x0 = vi[k];
          vj[k] = s * x0 + c * x1;
          vi[k] = c * x0 - s * x1;
        }
      }
      if (split) continue;
      w[l] -= shift;
      e[l] = g;
      e[m] = 0.0;
    }
  }
}

Rotation Rotation::train(const float* x, std::size_t n, std::size_t d, std::size_t dsub) {
  WS_EXPECTS(d >= 1 && dsub >= 1 && d % dsub == 0, "bad rotation shape");
  // Second moments, one row of the matrix per task, from the columns of x.
  std::vector<float> cols(d * n);
  for (std::size_t i = 0; i < n; ++i)
    for (std::size_t t = 0; t < d; ++t) cols[t * n + i] = x[i * d + t];
  const auto& K = kernels();
  std::vector<double> cov(d * d);
  parallel_for(d, [&](std::size_t i, int) {
    for (std::size_t j = i; j < d; ++j) cov[i * d + j] = double(K.ip(&cols[i * n], &cols[j * n], n)) / double(n);
  });
  for (std::size_t i = 0; i < d; ++i)
    for (std::size_t j = 0; j < i; ++j) cov[i * d + j] = cov[j * d + i];
  std::vector<double> w, v;
  symmetric_eigen(cov, d, w, v);
  // Eigenvalue allocation: axes by decreasing variance, each to the open sub-space with
  // the smallest product of variances so far (sum of logs; a sub-space takes dsub axes).
  // Variances are measured from the smallest one kept (the floor), so every log is >= 0
  // and an empty sub-space always counts as the smallest: the first m axes open the m
  // sub-spaces, whatever the scale of the data.
  std::vector<std::size_t> order(d);
  std::iota(order.begin(), order.end(), std::size_t(0));
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return w[a] > w[b]; });
  const std::size_t m = d / dsub;
  const double floor =
      std::max({1e-30, 1e-12 * std::max(0.0, w[order[0]]), w[order[d - 1]]});
  std::vector<double> logp(m, 0.0);
  std::vector<std::size_t> fill(m, 0);
  std::vector<float> r(d * d);
  for (const std::size_t axis : order) {
    std::size_t best = m;
    for (std::size_t j = 0; j < m; ++j)
      if (fill[j] < dsub && (best == m || logp[j] < logp[best])) best = j;
    logp[best] += std::log(std::max(w[axis], floor) / floor);
    const std::size_t row = best * dsub + fill[best]++;
    for (std::size_t t = 0; t < d; ++t) r[row * d + t] = float(v[axis * d + t]);
  }
  Rotation out;
  out.set(r, d);
  return out;
}

}  // namespace warpsearch::detail
