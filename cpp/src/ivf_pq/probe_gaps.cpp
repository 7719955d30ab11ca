// SPDX-FileCopyrightText: 2026 warpsearch contributors
// SPDX-License-Identifier: Apache-2.0
#include "ivf_pq/probe_gaps.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <random>

#include "simd/distance.hpp"
#include "warpsearch/errors.hpp"
#include "warpsearch/threads.hpp"

namespace warpsearch::detail {
namespace {

constexpr std::size_t kRows = 1024;   // calibration rows
constexpr std::size_t kBlock = 64;    // rows per coarse search call
constexpr std::size_t kDense = 8;     // every P up to this one is calibrated, then a 1.25x grid

}  // namespace

ProbeGaps ProbeGaps::calibrate(const CentroidPanels& cp, const float* x, std::size_t n, bool ip,
                               std::uint64_t seed) {
  ProbeGaps g;
  const std::size_t nlist = cp.k(), d = cp.d();
  const std::vector<std::size_t> probes = grid(nlist);
  if (probes.empty() || n == 0) return g;
  const std::size_t width = std::min(2 * probes.back(), nlist);
  std::mt19937_64 rng(seed);
  const auto rows = sample_indices(n, std::min(n, kRows), rng);
  const std::size_t S = rows.size();
  // gaps[s * width + i]: distance of row s's (i+1)-th nearest cell beyond its nearest.
  std::vector<float> gaps(S * width);
  parallel_for((S + kBlock - 1) / kBlock, [&](std::size_t t, int) {
    const std::size_t b = t * kBlock, e = std::min(S, b + kBlock);
    std::vector<float> q((e - b) * d), D((e - b) * width);
    std::vector<std::int32_t> I((e - b) * width);
    for (std::size_t s = b; s < e; ++s) std::memcpy(&q[(s - b) * d], x + rows[s] * d, d * sizeof(float));
    cp.search(q.data(), e - b, width, ip, D.data(), I.data());
    const auto& K = kernels();
    for (std::size_t s = b; s < e; ++s) {
      const float* r = &D[(s - b) * width];
      const float norm = ip ? std::sqrt(K.ip(&q[(s - b) * d], &q[(s - b) * d], d)) : 1.f;
      const float inv = norm > 0.f ? 1.f / norm : 0.f;
      for (std::size_t i = 0; i < width; ++i)
        gaps[s * width + i] = I[(s - b) * width + i] < 0 ? std::numeric_limits<float>::infinity()
                                                          : (r[i] - r[0]) * inv;
    }
  });
  // g(P): the rows probe 1 + #{1 <= i < min(2P, nlist): gap_i <= g} cells; on average P
  // when g is the S(P-1)-th smallest of those gaps.
  std::vector<float> pool;
  for (const std::size_t P : probes) {
    const std::size_t c = std::min(2 * P, nlist);
    pool.clear();
    for (std::size_t s = 0; s < S; ++s) pool.insert(pool.end(), &gaps[s * width + 1], &gaps[s * width + c]);
    const std::size_t r = S * (P - 1) - 1;
    std::nth_element(pool.begin(), pool.begin() + std::ptrdiff_t(r), pool.end());
    const float v = std::max(0.f, pool[r]);
    if (std::isfinite(v)) {
      g.table_.push_back(float(P));
      g.table_.push_back(v);
    }
  }
  return g;
}

std::vector<std::size_t> ProbeGaps::grid(std::size_t nlist) {
  std::vector<std::size_t> out;
  if (nlist < 3) return out;
  const std::size_t pmax = std::min(kMaxProbes, nlist - 1);  // P = nlist probes every cell
  for (std::size_t P = 2; P <= pmax; P = std::min(pmax, P < kDense ? P + 1 : std::max(P + 1, P * 5 / 4))) {
    out.push_back(P);
    if (P == pmax) break;
  }
  return out;
}

ProbeGaps ProbeGaps::from_table(const std::vector<float>& table, std::size_t nlist) {
  WS_EXPECTS(table.size() % 2 == 0, "the probe-gap table has an odd length");
  for (std::size_t i = 0; i < table.size(); i += 2) {
    const float P = table[i], v = table[i + 1];
    WS_EXPECTS(P >= 2.f && P < float(nlist) && P == std::floor(P) && (i == 0 || P > table[i - 2]),
               "bad probe-gap table (probe counts)");
    WS_EXPECTS(std::isfinite(v) && v >= 0.f, "bad probe-gap table (gaps)");
  }
  ProbeGaps g;
  g.table_ = table;
  return g;
}

void ProbeGaps::plan(std::size_t nprobe, std::size_t nlist, std::size_t& width, float& gap) const {
  width = std::min(nprobe, nlist);
  gap = -1.f;
  if (table_.empty() || nprobe < std::size_t(table_[0]) || nprobe > std::size_t(table_[table_.size() - 2]))
    return;
  const float P = float(nprobe);
  std::size_t i = 0;
  while (i + 2 < table_.size() && table_[i + 2] <= P) i += 2;
  if (table_[i] == P || i + 2 >= table_.size()) {
    gap = table_[i + 1];
  } else {
    const float t = (P - table_[i]) / (table_[i + 2] - table_[i]);
    gap = table_[i + 1] + t * (table_[i + 3] - table_[i + 1]);
  }
  width = std::min(2 * nprobe, nlist);
}

}  // namespace warpsearch::detail
