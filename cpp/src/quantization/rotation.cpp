// SPDX-FileCopyrightText: 2026 warpsearch contributors
// SPDX-License-Identifier: Apache-2.0
#include "quantization/rotation.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
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
  v.assign(d * d, 0.0);
  for (std::size_t i = 0; i < d; ++i) v[i * d + i] = 1.0;
  double total = 0;
  for (const double x : a) total += x * x;
  for (int sweep = 0; sweep < 64; ++sweep) {
    double off = 0;
    for (std::size_t p = 0; p < d; ++p)
      for (std::size_t q = p + 1; q < d; ++q) off += a[p * d + q] * a[p * d + q];
    if (!(off > 1e-22 * total)) break;
    for (std::size_t p = 0; p + 1 < d; ++p)
      for (std::size_t q = p + 1; q < d; ++q) {
        const double apq = a[p * d + q];
        if (std::abs(apq) <= 1e-300) continue;
        // The rotation in the (p, q) plane that zeroes a[p][q].
        const double theta = (a[q * d + q] - a[p * d + p]) / (2.0 * apq);
        const double t = (theta >= 0 ? 1.0 : -1.0) / (std::abs(theta) + std::sqrt(theta * theta + 1.0));
        const double c = 1.0 / std::sqrt(t * t + 1.0), s = t * c;
        double* rp = &a[p * d];
        double* rq = &a[q * d];
        for (std::size_t k = 0; k < d; ++k) {  // rows p and q (A <- J^T A)
          const double xp = rp[k], xq = rq[k];
          rp[k] = c * xp - s * xq;
          rq[k] = s * xp + c * xq;
        }
        for (std::size_t k = 0; k < d; ++k) {  // columns p and q (A <- A J), by symmetry
          const double xp = a[k * d + p], xq = a[k * d + q];
          a[k * d + p] = c * xp - s * xq;
          a[k * d + q] = s * xp + c * xq;
        }
        a[p * d + q] = a[q * d + p] = 0.0;
        double* vp = &v[p * d];
        double* vq = &v[q * d];
        for (std::size_t k = 0; k < d; ++k) {
          const double xp = vp[k], xq = vq[k];
          vp[k] = c * xp - s * xq;
          vq[k] = s * xp + c * xq;
        }
      }
  }
  w.resize(d);
  for (std::size_t i = 0; i < d; ++i) w[i] = a[i * d + i];
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
