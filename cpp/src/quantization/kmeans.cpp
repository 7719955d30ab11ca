// SPDX-FileCopyrightText: 2026 warpsearch contributors
// SPDX-License-Identifier: Apache-2.0
// k-means: sampling, k-means++ seeding, Lloyd iterations with empty-cluster splitting.
// Every step is deterministic for a given seed whatever the number of threads: points
// are assigned independently and centroid sums run per cluster, in point order.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include "quantization/nearest.hpp"
#include "simd/distance.hpp"
#include "warpsearch/errors.hpp"
#include "warpsearch/gpu.hpp"
#include "warpsearch/kmeans.hpp"
#include "warpsearch/threads.hpp"

namespace warpsearch {
namespace detail {
namespace {

constexpr std::size_t kChunk = 256;  // points per parallel task

void assign_all(const CentroidPanels& cp, const float* x, std::size_t n, std::int32_t* lab,
                float* dist) {
  const std::size_t tasks = (n + kChunk - 1) / kChunk;
  parallel_for(tasks, [&](std::size_t t, int) {
    const std::size_t b = t * kChunk, e = std::min(n, b + kChunk);
    cp.nearest(x + b * cp.d(), e - b, false, dist + b, lab + b);
  });
}

// k-means++: each new centroid is a point drawn with probability proportional to its
// squared distance to the nearest centroid chosen so far.
void seed_plus_plus(const float* x, std::size_t n, std::size_t d, std::size_t k,
                    std::mt19937_64& rng, float* c) {
  const auto& K = kernels();
  std::uniform_real_distribution<double> u(0.0, 1.0);
  std::vector<float> mind(n, std::numeric_limits<float>::infinity());
  std::size_t pick = std::size_t(u(rng) * double(n)) % n;
  for (std::size_t j = 0; j < k; ++j) {
    std::memcpy(c + j * d, x + pick * d, d * sizeof(float));
    if (j + 1 == k) break;
    const float* cj = c + j * d;
    const std::size_t tasks = (n + 1023) / 1024;
    parallel_for(tasks, [&](std::size_t t, int) {
      const std::size_t b = t * 1024, e = std::min(n, b + 1024);
      for (std::size_t i = b; i < e; ++i) mind[i] = std::min(mind[i], K.l2(x + i * d, cj, d));
    });
    double total = 0;
    for (std::size_t i = 0; i < n; ++i) total += mind[i];
    if (!(total > 0)) {  // every point sits on a centroid: any point will do
      pick = std::size_t(u(rng) * double(n)) % n;
      continue;
    }
    const double r = u(rng) * total;
    double acc = 0;
    pick = n - 1;
    for (std::size_t i = 0; i < n; ++i) {
      acc += mind[i];
      if (acc > r && mind[i] > 0) {
        pick = i;
        break;
      }
    }
  }
}

// New centroids = means of their points; empty clusters take half of the largest one.
void update(const float* x, std::size_t n, std::size_t d, std::size_t k, const std::int32_t* lab,
            bool spherical, std::mt19937_64& rng, float* c) {
  std::vector<std::size_t> start, order;
  group_by_label(lab, n, k, start, order);
  parallel_for(k, [&](std::size_t j, int) {
    const std::size_t b = start[j], e = start[j + 1];
    if (b == e) return;
    std::vector<double> s(d, 0.0);
    // The rows of a cluster are scattered over x: fetch a few ahead of the sum.
    constexpr std::size_t kAhead = 4;
    auto fetch = [&](std::size_t t) {
      const char* r = reinterpret_cast<const char*>(x + order[t] * d);
      for (std::size_t o = 0; o < d * sizeof(float); o += 64) __builtin_prefetch(r + o);
    };
    for (std::size_t t = b; t < std::min(e, b + kAhead); ++t) fetch(t);
    for (std::size_t t = b; t < e; ++t) {
      if (t + kAhead < e) fetch(t + kAhead);
      const float* v = x + order[t] * d;
      for (std::size_t p = 0; p < d; ++p) s[p] += v[p];
    }
    for (std::size_t p = 0; p < d; ++p) c[j * d + p] = float(s[p] / double(e - b));
  }, 16);
  std::vector<std::size_t> count(k);
  for (std::size_t j = 0; j < k; ++j) count[j] = start[j + 1] - start[j];
  std::uniform_int_distribution<int> coin(0, 1);
  for (std::size_t e = 0; e < k; ++e) {
    if (count[e] != 0) continue;
    const std::size_t big = std::size_t(std::max_element(count.begin(), count.end()) - count.begin());
    if (count[big] < 2) break;  // fewer distinct points than clusters
    constexpr float kEps = 1.f / 1024;
    for (std::size_t p = 0; p < d; ++p) {
      const float v = c[big * d + p];
      const float delta = kEps * (std::abs(v) + 1e-6f) * (coin(rng) ? 1.f : -1.f);
      c[e * d + p] = v + delta;
      c[big * d + p] = v - delta;
    }
    count[e] = count[big] / 2;
    count[big] -= count[e];
  }
  if (spherical)
    for (std::size_t j = 0; j < k; ++j) {
      double nn = 0;
      for (std::size_t p = 0; p < d; ++p) nn += double(c[j * d + p]) * c[j * d + p];
      if (nn > 0)
        for (std::size_t p = 0; p < d; ++p) c[j * d + p] = float(c[j * d + p] / std::sqrt(nn));
    }
}

}  // namespace
}  // namespace detail

void assign_nearest(const float* x, std::size_t n, std::size_t d, const float* centroids,
                    std::size_t k, std::int64_t* labels, float* dists) {
  WS_EXPECTS(k >= 1 && d >= 1, "need at least one centroid of dimension >= 1");
  detail::CentroidPanels cp;
  cp.set(centroids, k, d);
  std::vector<std::int32_t> lab(n);
  std::vector<float> dist(n);
  detail::assign_all(cp, x, n, lab.data(), dist.data());
  for (std::size_t i = 0; i < n; ++i) {
    labels[i] = lab[i];
    if (dists) dists[i] = dist[i];
  }
}

double kmeans(const float* x, std::size_t n, std::size_t d, std::size_t k,
              const KMeansParams& p, float* centroids) {
  WS_EXPECTS(k >= 1, "k must be >= 1, got ", k);
  WS_EXPECTS(d >= 1, "dimension must be >= 1");
  WS_EXPECTS(n >= k, "k-means needs at least k=", k, " points, got ", n);
  WS_EXPECTS(p.iters >= 0, "iters must be >= 0, got ", p.iters);
  WS_EXPECTS(p.max_points_per_centroid >= 0, "max_points_per_centroid must be >= 0");
  std::mt19937_64 rng(p.seed * 0x9E3779B97F4A7C15ull + 12345);

  // Training sample.
  std::vector<float> sample;
  const float* xs = x;
  std::size_t ns = n;
  const std::size_t cap = p.max_points_per_centroid > 0 ? k * std::size_t(p.max_points_per_centroid) : n;
  if (n > cap) {
    const auto idx = detail::sample_indices(n, cap, rng);
    sample.resize(idx.size() * d);
    for (std::size_t i = 0; i < idx.size(); ++i)
      std::memcpy(&sample[i * d], x + idx[i] * d, d * sizeof(float));
    xs = sample.data();
    ns = idx.size();
  }

  // Seeding on a subset (k-means++ costs k passes over it).
  const std::size_t nseed = std::min(ns, std::max<std::size_t>(8 * k, 4096));
  if (nseed < ns) {
    const auto idx = detail::sample_indices(ns, nseed, rng);
    std::vector<float> sub(nseed * d);
    for (std::size_t i = 0; i < nseed; ++i) std::memcpy(&sub[i * d], xs + idx[i] * d, d * sizeof(float));
    detail::seed_plus_plus(sub.data(), nseed, d, k, rng, centroids);
  } else {
    detail::seed_plus_plus(xs, ns, d, k, rng, centroids);
  }

  std::vector<std::int32_t> lab(ns);
  std::vector<float> dist(ns);
  detail::CentroidPanels cp;
  std::unique_ptr<GpuAssigner> gpu;
  if (p.device >= 0) gpu = std::make_unique<GpuAssigner>(p.device, xs, ns, d);
  auto assign = [&] {
    if (gpu) {
      gpu->assign(centroids, k, lab.data(), dist.data());
    } else {
      cp.set(centroids, k, d);
      detail::assign_all(cp, xs, ns, lab.data(), dist.data());
    }
  };
  for (int it = 0; it < p.iters; ++it) {
    assign();
    detail::update(xs, ns, d, k, lab.data(), p.spherical, rng, centroids);
  }
  if (!p.objective) return std::numeric_limits<double>::quiet_NaN();
  assign();
  double obj = 0;
  for (std::size_t i = 0; i < ns; ++i) obj += dist[i];
  return obj;
}

}  // namespace warpsearch
