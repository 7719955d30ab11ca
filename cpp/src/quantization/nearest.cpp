// SPDX-FileCopyrightText: 2026 warpsearch contributors
// SPDX-License-Identifier: Apache-2.0
#include "quantization/nearest.hpp"

#include <algorithm>
#include <cstring>
#include <limits>

#include "common/topk.hpp"
#include "common/vec4.hpp"
#include "simd/distance.hpp"
#include "simd/fastscan.hpp"

namespace warpsearch::detail {
namespace {

constexpr float kInf = std::numeric_limits<float>::infinity();
constexpr std::size_t kMaxBlock = 16;  // >= Kernels::max_q of every ISA
constexpr std::size_t kArgminRun = 64;  // panels scored before an argmin pass
constexpr std::size_t kDirectDims = 8;  // single-panel centroids this short: direct loop

// Smallest of kPanel floats: element-wise minima of 4-float vectors (a running scalar
// minimum is one long dependency chain).
inline float panel_min(const float* v) {
  static_assert(kPanel == 16, "four vectors of four");
  f4 x[4];
  std::memcpy(x, v, sizeof x);
  const f4 m = min4(min4(x[0], x[1]), min4(x[2], x[3]));
  const float a = m[0] < m[1] ? m[0] : m[1], b = m[2] < m[3] ? m[2] : m[3];
  return a < b ? a : b;
}

// Bit l set when v[l] <= t, for the kPanel floats of v.
inline std::uint32_t lane_bits(i4 m) {
  return std::uint32_t((m[0] & 1) | (m[1] & 2) | (m[2] & 4) | (m[3] & 8));
}
inline std::uint32_t panel_le(const float* v, float t) {
  f4 x[4];
  std::memcpy(x, v, sizeof x);
  std::uint32_t bits = 0;
  for (int g = 0; g < 4; ++g) bits |= lane_bits(x[g] <= t) << (4 * g);
  return bits;
}
}  // namespace

void CentroidPanels::set(const float* c, std::size_t k, std::size_t d) {
  static_assert(kPanel == 16, "the panel width is the vector width used here");
  k_ = k;
  d_ = d;
  const std::size_t np = (k + kPanel - 1) / kPanel;
  panels_.assign(np * kPanel * d, 0.f);
  // norms_ holds, per lane, |c|^2 (L2 bias) in [0, np*16) and the padding bias
  // (0 for a real centroid, +inf for an empty lane) in [np*16, 2*np*16).
  norms_.assign(2 * np * kPanel, kInf);
  for (std::size_t i = 0; i < k; ++i) {
    double nn = 0;
    for (std::size_t p = 0; p < d; ++p) {
      const float v = c[i * d + p];
      panels_[(i / kPanel) * kPanel * d + p * kPanel + i % kPanel] = v;
      nn += double(v) * v;
    }
    norms_[i] = float(nn);
    norms_[np * kPanel + i] = 0.f;
  }
}

void CentroidPanels::get(std::size_t c, float* out) const {
  for (std::size_t p = 0; p < d_; ++p)
    out[p] = panels_[(c / kPanel) * kPanel * d_ + p * kPanel + c % kPanel];
}

template <typename Visit>
void CentroidPanels::scan(const float* q, std::size_t nq, bool ip, Visit&& visit) const {
  const auto& K = kernels();
  const std::size_t mq = std::min<std::size_t>(std::size_t(K.max_q), kMaxBlock);
  const std::size_t np = (k_ + kPanel - 1) / kPanel;
  alignas(64) float out[kMaxBlock * kPanel];
  float qn[kMaxBlock] = {};
  for (std::size_t qb = 0; qb < nq; qb += mq) {
    const std::size_t nb = std::min(mq, nq - qb);
    if (!ip)
      for (std::size_t i = 0; i < nb; ++i) qn[i] = K.ip(q + (qb + i) * d_, q + (qb + i) * d_, d_);
    for (std::size_t p = 0; p < np; ++p) {
      K.dot_panel(q + qb * d_, nb, d_, &panels_[p * kPanel * d_], d_, out);
      visit(qb, nb, p, out, qn);
    }
  }
}

void CentroidPanels::nearest(const float* q, std::size_t nq, bool ip, float* D,
                             std::int32_t* I) const {
  const std::size_t np = (k_ + kPanel - 1) / kPanel;
  const float* bias_l2 = norms_.data();
  const float* pad = norms_.data() + np * kPanel;
  if (np == 1 && !ip && d_ <= kDirectDims) {
    // One panel of short centroids (PQ sub-quantizers): direct squared distances, four
    // vectors of four lanes kept in registers; the blocked path below costs several
    // times more than its arithmetic here.
    f4 c[kDirectDims][4], lanes[4];
    for (std::size_t p = 0; p < d_; ++p) std::memcpy(c[p], &panels_[p * kPanel], sizeof c[p]);
    std::memcpy(lanes, pad, sizeof lanes);  // 0, or +inf on lanes past k
    for (std::size_t i = 0; i < nq; ++i) {
      f4 a0 = lanes[0], a1 = lanes[1], a2 = lanes[2], a3 = lanes[3];
      for (std::size_t p = 0; p < d_; ++p) {
        const float x = q[i * d_ + p];
        const f4 e0 = x - c[p][0], e1 = x - c[p][1], e2 = x - c[p][2], e3 = x - c[p][3];
        a0 += e0 * e0;
        a1 += e1 * e1;
        a2 += e2 * e2;
        a3 += e3 * e3;
      }
      const f4 m = min4(min4(a0, a1), min4(a2, a3));
      const float x01 = m[0] < m[1] ? m[0] : m[1], x23 = m[2] < m[3] ? m[2] : m[3];
      const float bd = x01 < x23 ? x01 : x23;
      float dist[kPanel];
      std::memcpy(dist, &a0, sizeof a0);
      std::memcpy(dist + 4, &a1, sizeof a1);
      std::memcpy(dist + 8, &a2, sizeof a2);
      std::memcpy(dist + 12, &a3, sizeof a3);
      std::int32_t bi = -1;
      for (std::size_t l = 0; l < k_; ++l)
        if (dist[l] == bd) {  // the first lane at the minimum: ties go to the lower id
          bi = std::int32_t(l);
          break;
        }
      D[i] = bi < 0 ? kInf : bd;
      I[i] = bi;
    }
    return;
  }
  const auto& F = fastscan_kernels();
  alignas(64) float best[kMaxBlock * kPanel];
  alignas(64) std::int32_t bidx[kMaxBlock * kPanel];
  std::size_t cur = ~std::size_t(0), cur_nb = 0;
  auto flush = [&]() {
    for (std::size_t i = 0; i < cur_nb; ++i) {
      float bd = kInf;
      std::int32_t bi = -1;
      for (std::size_t l = 0; l < kPanel; ++l) {
        const float v = best[i * kPanel + l];
        const std::int32_t c = bidx[i * kPanel + l];
        if (v < bd || (v == bd && c < bi)) {
          bd = v;
          bi = c;
        }
      }
      D[cur + i] = ip ? bd : std::max(0.f, bd);
      I[cur + i] = bi;
    }
  };
  // Dots of a query block with a run of panels, then one argmin pass per query over the
  // run (the running minimum stays in registers instead of memory after every panel).
  const auto& K = kernels();
  const std::size_t mq = std::min<std::size_t>(std::size_t(K.max_q), kMaxBlock);
  thread_local std::vector<float> buf;
  buf.resize(kArgminRun * kMaxBlock * kPanel);
  float qn[kMaxBlock] = {};
  for (std::size_t qb = 0; qb < nq; qb += mq) {
    const std::size_t nb = std::min(mq, nq - qb);
    if (cur != ~std::size_t(0)) flush();
    cur = qb;
    cur_nb = nb;
    std::fill(best, best + nb * kPanel, kInf);
    std::fill(bidx, bidx + nb * kPanel, std::int32_t(-1));
    if (!ip)
      for (std::size_t i = 0; i < nb; ++i) qn[i] = K.ip(q + (qb + i) * d_, q + (qb + i) * d_, d_);
    for (std::size_t p0 = 0; p0 < np; p0 += kArgminRun) {
      const std::size_t run = std::min(kArgminRun, np - p0);
      for (std::size_t p = 0; p < run; ++p)
        K.dot_panel(q + qb * d_, nb, d_, &panels_[(p0 + p) * kPanel * d_], d_, &buf[p * nb * kPanel]);
      F.argmin16(buf.data(), run, nb, bias_l2 + p0 * kPanel, pad + p0 * kPanel, qn, ip,
                 std::int32_t(p0 * kPanel), best, bidx);
    }
  }
  if (cur != ~std::size_t(0)) flush();
}

void CentroidPanels::search(const float* q, std::size_t nq, std::size_t nn, bool ip, float* D,
                            std::int32_t* I, const float* within) const {
  const std::size_t np = (k_ + kPanel - 1) / kPanel, row = np * kPanel;
  const float* bias_l2 = norms_.data();
  const float* pad = norms_.data() + np * kPanel;
  const auto& F = fastscan_kernels();
  thread_local std::vector<float> tl_all, tl_pmin, tl_sorted;
  thread_local std::vector<std::pair<float, std::int32_t>> tl_cand;
  // Plain references: every use of a thread_local inside the loops would look it up.
  std::vector<float>&all = tl_all, &pmin = tl_pmin, &sorted_min = tl_sorted;
  std::vector<std::pair<float, std::int32_t>>& cand = tl_cand;
  all.resize(kMaxBlock * row);
  pmin.resize(np);
  alignas(64) float dist[kMaxBlock * kPanel];
  float none[kMaxBlock];
  std::fill(none, none + kMaxBlock, -kInf);
  std::uint32_t mask[kMaxBlock];
  // The nn-th smallest panel minimum bounds the nn-th smallest distance: only the
  // distances under it are sorted.
  auto select = [&](std::size_t qi, const float* dr) {
    float t = kInf;
    const bool bounded = np > nn || within;
    if (bounded) {
      for (std::size_t p = 0; p < np; ++p) pmin[p] = panel_min(dr + p * kPanel);
      if (np > nn) {
        sorted_min.assign(pmin.begin(), pmin.end());
        std::nth_element(sorted_min.begin(), sorted_min.begin() + std::ptrdiff_t(nn - 1), sorted_min.end());
        t = sorted_min[nn - 1];
      }
      if (within) t = std::min(t, *std::min_element(pmin.begin(), pmin.end()) + within[qi]);
    }
    // The distances under the bound (in the panels whose minimum is), then the nn best
    // of them (ties: lower id first).
    cand.clear();
    for (std::size_t p = 0; p < np; ++p) {
      if (bounded && !(pmin[p] <= t)) continue;
      // Lanes past k hold +inf: a finite t never lists them.
      for (std::uint32_t b = panel_le(dr + p * kPanel, t); b; b &= b - 1) {
        const std::size_t c = p * kPanel + unsigned(__builtin_ctz(b));
        if (c < k_) cand.emplace_back(dr[c], std::int32_t(c));
      }
    }
    const std::size_t take = std::min(nn, cand.size());
    if (take > 0 && cand.size() > take) std::nth_element(cand.begin(), cand.begin() + std::ptrdiff_t(take - 1), cand.end());
    std::sort(cand.begin(), cand.begin() + std::ptrdiff_t(take));
    for (std::size_t j = 0; j < nn; ++j) {
      D[qi * nn + j] = j < take ? cand[j].first : kInf;
      I[qi * nn + j] = j < take ? cand[j].second : -1;
    }
  };
  scan(q, nq, ip, [&](std::size_t qb, std::size_t nb, std::size_t p, const float* out,
                      const float* qn) {
    F.below16(out, nb, bias_l2 + p * kPanel, pad + p * kPanel, qn, ip, none, dist, mask);
    for (std::size_t i = 0; i < nb; ++i)
      std::memcpy(&all[i * row + p * kPanel], dist + i * kPanel, kPanel * sizeof(float));
    if (p + 1 == np)
      for (std::size_t i = 0; i < nb; ++i) select(qb + i, &all[i * row]);
  });
}

}  // namespace warpsearch::detail
