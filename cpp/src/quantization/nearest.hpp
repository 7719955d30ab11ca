// SPDX-FileCopyrightText: 2026 warpsearch contributors
// SPDX-License-Identifier: Apache-2.0
#pragma once
// Nearest centroids of a batch of points: centroids are stored in the panel layout of
// the flat kernels (groups of kPanel, dimension-major inside a group) so a block of
// points is scored against 16 centroids per micro-kernel call. Used by k-means, the
// IVF coarse quantizer (assignment and probing) and PQ encoding.
#include <cstddef>
#include <cstdint>
#include <random>
#include <vector>

namespace warpsearch::detail {

// Ordered random subset of `want` of [0, n) (selection sampling: O(n) time, no n-sized buffer).
inline std::vector<std::size_t> sample_indices(std::size_t n, std::size_t want,
                                               std::mt19937_64& rng) {
  std::vector<std::size_t> out;
  out.reserve(want < n ? want : n);
  std::uniform_real_distribution<double> u(0.0, 1.0);
  for (std::size_t i = 0; i < n && out.size() < want; ++i)
    if (double(n - i) * u(rng) < double(want - out.size())) out.push_back(i);
  return out;
}

class CentroidPanels {
 public:
  void set(const float* c, std::size_t k, std::size_t d);
  std::size_t k() const { return k_; }
  std::size_t d() const { return d_; }
  bool empty() const { return k_ == 0; }
  // Centroid c back in row layout.
  void get(std::size_t c, float* out) const;
  const float* norms() const { return norms_.data(); }

  // Single-threaded. For each of the nq rows of q (row stride d): the nearest centroid
  // (ip=false: squared L2, clamped at 0; ip=true: the largest dot product, D = -dot).
  void nearest(const float* q, std::size_t nq, bool ip, float* D, std::int32_t* I) const;
  // Single-threaded. The nn nearest centroids of each row, ascending; D/I are nq x nn
  // (rows padded with +inf / -1 when nn > k). within (per row, or null): only the
  // centroids at most within[i] beyond row i's nearest are listed (the rest is padding).
  void search(const float* q, std::size_t nq, std::size_t nn, bool ip, float* D,
              std::int32_t* I, const float* within = nullptr) const;
  std::size_t bytes() const { return (panels_.capacity() + norms_.capacity()) * sizeof(float); }

 private:
  template <typename Visit>
  void scan(const float* q, std::size_t nq, bool ip, Visit&& visit) const;

  std::size_t k_ = 0, d_ = 0;
  std::vector<float> panels_, norms_;
};

// Groups n labels in [0, k) by label (a counting sort): the rows of label j are
// order[start[j] .. start[j + 1]).
inline void group_by_label(const std::int32_t* lab, std::size_t n, std::size_t k,
                           std::vector<std::size_t>& start, std::vector<std::size_t>& order) {
  start.assign(k + 1, 0);
  order.resize(n);
  for (std::size_t i = 0; i < n; ++i) ++start[std::size_t(lab[i]) + 1];
  for (std::size_t j = 0; j < k; ++j) start[j + 1] += start[j];
  std::vector<std::size_t> fill(start.begin(), start.end() - 1);
  for (std::size_t i = 0; i < n; ++i) order[fill[std::size_t(lab[i])]++] = i;
}

}  // namespace warpsearch::detail
