// SPDX-FileCopyrightText: 2026 warpsearch contributors
// SPDX-License-Identifier: Apache-2.0
// IVF-PQ filtered search, second step: widening by a bound. A filter is rarely spread
// evenly over the cells; where the allowed vectors lie away from a query, the cells
// nearest to it hold few of them and the order of the cells by centroid distance says
// little about where its nearest allowed vectors are. So after the planned probes, a
// query keeps probing the cells that hold allowed vectors, in the order of a lower bound
// on the distance of any of their vectors, while that bound can still beat its k-th
// result. Every vector it does not reach is then provably farther than its k-th result
// (in the final distances: exact with a refine store, the PQ estimate without one), so
// more probes can only improve the results: recall does not fall as nprobe rises. Where
// the bound leaves more cells than an exact scan of the allowed set would cost, the query
// takes the exact scan instead (see kBruteRowCost): exact results, no worse.
//
// The bound of cell l with residual base c_l and radius r_l (IvfPqState::radius):
//   L2:  |q - x| >= |q - c_l| - r_l, so |q - x|^2 >= max(0, |q - c_l| - r_l)^2;
//   IP/cosine (distance -q.x): q.x = q.c_l + q.(x - c_l) <= q.c_l + |q| r_l.
// The radius is taken over the vectors as the final distances see them (decoded refine
// records, else PQ reconstructions), so the bound holds for the distances compared.
#include <algorithm>
#include <cmath>
#include <limits>

#include "common/bitset.hpp"
#include "ivf_pq/searcher.hpp"

namespace warpsearch::detail {
namespace {

// Radii are widened by this fraction (and IP bounds by it times |q| r) against float
// rounding of the distances the bound is compared with.
constexpr float kRadiusSlack = 1e-3f;
// The cost of widening against that of an exact scan of the allowed set, in units of one
// 4-bit code scanned for one query. Measured on text-dev (86k x 384, cosine, nlist 512,
// fp16 refine), one thread, single queries: each widening round timed with a steady clock
// (its cells scored one by one, then its scanned cells) and least squares over 6.4k rounds
// of three filters (section=libs, 3k and 20k random rows) at nprobe 8 and 32: a code
// scanned 6.6 ns, a scanned cell 136 ns over its codes, a round with scanned cells 16 us
// over its cells (tables, candidates re-ranked), an allowed vector scored one by one 85 ns,
// and a cell so scored 104 ns over its vectors (the model's sum of a round's terms is
// within 1% of the measured total, correlation 0.98 round by round). The exact scan
// (Searcher::brute, every widened query sent to it): 80-140 ns an allowed vector on
// text-dev's section filters (2.2k-7.1k rows; section=libs 81-102 ns, the smaller ones,
// whose rows are spread over more cells, 120-140 ns), 91 ns against 7.5 ns a code for a
// random 1/32 of the rows (benchmarks of the time per row over the time per code of an
// unfiltered single-query scan of every cell); 11.6 against 1.4 ns with 50k x 32 and fp32
// refine. These ratios run from 8 to 21; 16 is taken (a lower one sends queries to the
// exact scan after widening rounds that cost as much again, measured slower than either).
constexpr std::size_t kCodeCost = 1;          // a code scanned
constexpr std::size_t kScanCellCost = 20;     // a cell scanned, over its codes
constexpr std::size_t kScanRoundCost = 2400;  // a round that scans cells, over its cells
constexpr std::size_t kExactRowCost = 13;     // an allowed vector scored one by one
constexpr std::size_t kExactCellCost = 15;    // a cell so scored, over its vectors
// An allowed vector of the exact scan. A query whose widening would cost more than the
// exact scan of the allowed set scores that set instead: its cost is bounded by about
// twice the exact scan's (the rounds double).
constexpr std::size_t kBruteRowCost = 16;

}  // namespace

void Searcher::exact_cell(const Query& qq, const float* qc, std::size_t l, Scratch& c,
                          TopK<idx_t>& top, SearchStats& st) const {
  const InvList& L = s_.lists[l];
  const std::size_t m = s_.m, ksub = s_.ksub, d = s_.d;
  const bool exact = s_.p.refine != Refine::None;
  float base = 0.f;
  bool table = exact;  // the cell's float table (IP: one per query, in c.flut already),
                       // built at the first allowed row: a cell without one costs nothing
  for_each_bit(allow_, base_[l], base_[l + 1], [&](std::size_t p) {
    ++st.distance_evals;
    float dist;
    if (exact) {
      dist = refine_dist(qq, &L.refine[p * s_.refine_bytes], c);
      st.refine_bytes += s_.refine_bytes;
    } else {
      if (!table) {
        if (s_.ip()) {
          base = -K_.ip(qq.q, &s_.centroids[l * d], d);
        } else {
          const float* cen = s_.pq_centroids() + l * d;
          for (std::size_t j = 0; j < d; ++j) c.rq[j] = qc[j] - cen[j];
          F_.lut_l2(c.rq.data(), s_.cbt.data(), m, s_.dsub, ksub, c.flut.data());
        }
        table = true;
      }
      s_.get_code(l, p, c.code.data());
      dist = base;
      for (std::size_t j = 0; j < m; ++j) dist += c.flut[j * ksub + c.code[j]];
    }
    if (dist < top.threshold()) top.push(dist, L.ids[p]);
  });
}

void Searcher::widen(const float* q, std::size_t nb, Scratch& c, float* D, idx_t* I,
                     SearchStats& st) const {
  const std::size_t np = nprobe_, d = s_.d, nlist = s_.lists.size(), k = k_;
  const std::vector<std::uint32_t>& allowed = *cell_allowed_;
  // The code-equivalents a query may widen by before an exact scan of the allowed set
  // costs less.
  const std::size_t budget = allowed_total_ * kBruteRowCost;
  constexpr float inf = std::numeric_limits<float>::infinity();
  c.probed.assign(c.ci.begin(), c.ci.begin() + std::ptrdiff_t(nb * np));  // rounds reuse c.ci
  c.wmark.assign(nlist, 0);
  c.wd.resize(k);
  c.wi.resize(k);
  c.wd2.resize(k);
  c.wi2.resize(k);
  for (std::size_t qi = 0; qi < nb; ++qi) {
    const float* qq = q + qi * d;
    float* Dq = D + qi * k;
    idx_t* Iq = I + qi * k;
    float kth = Iq[k - 1] >= 0 ? Dq[k - 1] : inf;
    const std::int32_t* pr = &c.probed[qi * np];
    for (std::size_t pi = 0; pi < np; ++pi)
      if (pr[pi] >= 0) c.wmark[std::size_t(pr[pi])] = 1;
    const float qn = s_.ip() ? std::sqrt(K_.ip(qq, qq, d)) : 0.f;
    c.wcand.clear();
    for (std::size_t l = 0; l < nlist; ++l) {
      if (!allowed[l] || c.wmark[l]) continue;
      const float* cen = &s_.centroids[l * d];
      const float r = s_.radius[l] * (1.f + kRadiusSlack);
      float lb;
      if (s_.ip()) {
        lb = -(K_.ip(qq, cen, d) + qn * r);
      } else {
        const float t = std::sqrt(K_.l2(qq, cen, d)) - r;
        lb = t > 0.f ? t * t : 0.f;
      }
      if (lb < kth) c.wcand.emplace_back(lb, std::uint32_t(l));
    }
    for (std::size_t pi = 0; pi < np; ++pi)
      if (pr[pi] >= 0) c.wmark[std::size_t(pr[pi])] = 0;
    if (c.wcand.empty()) continue;
    ++st.queries_widened;
    std::sort(c.wcand.begin(), c.wcand.end());
    // Rounds of cells in bound order (doubling), the k-th result tightened after each.
    const Query qr = query(qq, c);
    std::size_t at = 0, round = std::max<std::size_t>(np, 8), spent = 0;
    while (at < c.wcand.size() && c.wcand[at].first < kth) {
      // The round's cells and their cost in code-equivalents (a scan, or a vector by
      // vector scoring); past the budget, the exact scan replaces the widening.
      std::size_t end = at, cost = 0;
      bool scans = false;
      const std::size_t last = std::min(c.wcand.size(), at + round);
      for (; end < last && c.wcand[end].first < kth; ++end) {
        const std::size_t l = c.wcand[end].second;
        if (std::size_t(allowed[l]) * kExactCodeRatio <= s_.lists[l].size()) {
          cost += kExactCellCost + std::size_t(allowed[l]) * kExactRowCost;
        } else {
          cost += kScanCellCost + s_.lists[l].size() * kCodeCost;
          scans = true;
        }
      }
      if (scans) cost += kScanRoundCost;
      if (spent + cost > budget) {
        ++st.queries_exact;
        brute(qq, c, Dq, Iq, st);
        break;
      }
      spent += cost;
      TopK<idx_t> top(c.wd.data(), c.wi.data(), int(k));
      for (std::size_t j = 0; j < k && Iq[j] >= 0; ++j) top.push(Dq[j], Iq[j]);
      // Cells with few allowed vectors are scored vector by vector, the others scanned.
      const float* qc = s_.pq_space(qq, 1, c.wrot);
      c.rq.resize(d);
      c.code.resize(s_.m);
      c.flut.resize(s_.m * s_.ksub);
      if (s_.p.refine == Refine::None && s_.ip())
        F_.lut_ip(qc, s_.cbt.data(), s_.m, s_.dsub, s_.ksub, c.flut.data());
      c.wcells.clear();
      for (; at < end; ++at) {
        const std::size_t l = c.wcand[at].second;
        ++st.cells_widened;
        if (std::size_t(allowed[l]) * kExactCodeRatio <= s_.lists[l].size()) {
          ++st.cells_exact;
          exact_cell(qr, qc, l, c, top, st);
        } else {
          c.wcells.push_back(std::uint32_t(l));
        }
      }
      if (!c.wcells.empty()) {
        const std::size_t w = c.wcells.size();
        c.ci.resize(w);
        c.cd.resize(w);
        for (std::size_t x = 0; x < w; ++x) {
          const float* cen = &s_.centroids[std::size_t(c.wcells[x]) * d];
          c.ci[x] = std::int32_t(c.wcells[x]);
          c.cd[x] = s_.ip() ? -K_.ip(qq, cen, d) : K_.l2(qq, cen, d);
        }
        const Searcher sub(s_, k, kc_, w, -1.f, allow_, base_, dl_);
        sub.scan_batch(qq, 1, c, c.wd2.data(), c.wi2.data(), st);
        for (std::size_t j = 0; j < k && c.wi2[j] >= 0; ++j) top.push(c.wd2[j], c.wi2[j]);
      }
      top.finish();
      std::copy(c.wd.begin(), c.wd.end(), Dq);
      std::copy(c.wi.begin(), c.wi.end(), Iq);
      kth = Iq[k - 1] >= 0 ? Dq[k - 1] : inf;
      round *= 2;
    }
  }
}

}  // namespace warpsearch::detail
