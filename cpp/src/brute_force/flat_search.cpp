// SPDX-FileCopyrightText: 2026 warpsearch contributors
// SPDX-License-Identifier: Apache-2.0
// Exact search over panels of kPanel vectors (dimension-major inside a panel): the
// micro-kernel computes a block of queries x kPanel vectors with broadcast FMAs, fused
// with per-query top-k (never a distance matrix). Compressed storage is decoded into
// panels one cache block at a time; binary codes are scored by the 4-bit fast-scan
// kernels. With a refine copy the scan keeps a larger pool of candidate rows,
// re-ranked at the end.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "brute_force/flat_allowed.hpp"
#include "brute_force/flat_impl.hpp"
#include "common/deadline.hpp"
#include "simd/fastscan.hpp"
#include "common/bitset.hpp"
#include "common/topk.hpp"
#include "common/vector_ops.hpp"
#include "warpsearch/brute_force.hpp"
#include "warpsearch/errors.hpp"
#include "warpsearch/threads.hpp"

namespace warpsearch {
namespace {

// The binary estimate of q.x for x ~ center + a * sign(x - center):
// q.x ~ qc - a * u with u = sum_g lut[g][nibble g], where nibble g holds the sign bits of
// dimensions 4g..4g+3 and lut[g][v] = -sum_i (bit i of v ? 1 : -1) * q[4g + i] (negated:
// the fast-scan kernels keep small sums). The table is quantized to uint8:
// u ~ bias + acc / scale.
alignas(64) constexpr float kZeros[detail::kPanel] = {};

using detail::BinaryQuery;

BinaryQuery prepare_binary(const detail::FlatStorage& s, const float* q, std::uint8_t* lut8) {
  const std::size_t d = s.d;
  std::vector<float> lut(s.bm * 16);
  for (std::size_t g = 0; g < s.bm; ++g)
    for (unsigned v = 0; v < 16; ++v) {
      float t = 0.f;
      for (std::size_t i = 0; i < 4 && 4 * g + i < d; ++i) t += (v >> i) & 1 ? -q[4 * g + i] : q[4 * g + i];
      lut[g * 16 + v] = t;
    }
  BinaryQuery b;
  detail::fastscan_kernels().quantize16(lut.data(), s.bm, nullptr, lut8, &b.scale, &b.bias);
  double qc = 0;
  for (std::size_t j = 0; j < d; ++j) qc += double(q[j]) * s.codec.center()[j];
  b.qc = float(qc);
  return b;
}

}  // namespace

void FlatIndex::search(const float* q, std::size_t nq, const SearchParams& params, float* D,
                       idx_t* I, SearchStats* stats) const {
  WS_EXPECTS(params.k > 0, "k must be > 0, got ", params.k);
  if (nq == 0) return;  // no query: nothing to write (the work split below needs one)
  // Checked per cache block of rows (and per query of the merge and re-rank): a few
  // thousand distances or more between clock reads.
  const detail::Deadline dl(params);
  std::shared_lock lk(s_->mu);
  dl.check();
  const auto& s = *s_;
  s.ensure_all();  // a mapped index: each section's checksum, once
  const std::size_t d = s.d, n = s.n, k = std::size_t(params.k);
  const auto& K = detail::kernels();
  const auto& F = detail::fastscan_kernels();
  Bitset allow_bits;
  if (params.filter.active())
    allow_bits = make_allow(
        params.filter, n, [&](std::size_t r) { return s.ids[r]; },
        [&](idx_t id) -> std::int64_t {
          auto it = s.rows().find(id);
          return it == s.rows().end() ? -1 : std::int64_t(it->second);
        });
  const std::uint64_t* allow = allow_bits.empty() ? nullptr : allow_bits.data();

  std::vector<float> qnormed;
  const float* qbuf = detail::query_rows(q, nq, d, metric_, qnormed);
  std::vector<float> qnorm(nq, 0.f);
  if (metric_ == Metric::L2)
    for (std::size_t i = 0; i < nq; ++i) qnorm[i] = K.ip(&qbuf[i * d], &qbuf[i * d], d);

  const bool binary = s.binary();
  const std::size_t lut_bytes = s.bm_pad * 16;
  std::vector<std::uint8_t> luts(binary ? nq * lut_bytes : 0);
  std::vector<BinaryQuery> bq(binary ? nq : 0);
  if (binary && s.codec.trained())
    for (std::size_t i = 0; i < nq; ++i) {
      if (i % 64 == 0) dl.check();  // about a microsecond per query
      bq[i] = prepare_binary(s, &qbuf[i * d], &luts[i * lut_bytes]);
    }

  // Candidates kept per query by the scan: k, or the re-rank pool of the refine copy.
  std::size_t k1 = k;
  if (s.has_refine()) {
    k1 = params.rerank > 0 ? std::size_t(params.rerank) : 4 * k;
    k1 = std::max(k, std::min(k1, n));
  }
  std::vector<float> cd(nq * k1);
  std::vector<idx_t> cr(nq * k1);  // rows, mapped to ids at the end

  // Work split: query groups x base ranges. Ranges exist only to use all threads
  // when there are few queries; their partial top-k lists are merged at the end.
  const std::size_t threads = std::size_t(get_num_threads());
  const std::size_t npanels = (n + detail::kPanel - 1) / detail::kPanel;
  const std::size_t mq = std::size_t(K.max_q);
  std::size_t group = std::max<std::size_t>(mq, (nq + threads - 1) / threads);
  group = std::min<std::size_t>((group + mq - 1) / mq * mq, 1024);
  const std::size_t ngroups = (nq + group - 1) / group;
  std::size_t nranges = 1;
  if (ngroups < 2 * threads) nranges = std::min<std::size_t>((2 * threads + ngroups - 1) / ngroups, std::max<std::size_t>(1, npanels / 64));
  nranges = std::max<std::size_t>(1, std::min(nranges, npanels));
  std::size_t panels_per_range = (npanels + nranges - 1) / std::max<std::size_t>(1, nranges);
  if (binary) panels_per_range += panels_per_range & 1;  // ranges start on a 32-row block

  std::vector<float> pd(nranges == 1 ? 0 : nranges * nq * k1);
  std::vector<idx_t> pi(nranges == 1 ? 0 : nranges * nq * k1);
  // Panels per cache block: ~256 KiB of what the block reads stays in L2 while every
  // query group uses it (floats, or binary codes: an even count, whole 32-row blocks).
  const std::size_t panel_bytes = binary ? s.block_bytes() / 2 : detail::kPanel * d * sizeof(float);
  std::size_t chunk = std::max<std::size_t>(1, (256 * 1024) / panel_bytes);
  if (binary) chunk += chunk & 1;
  const bool is_l2 = metric_ == Metric::L2, decode = !s.fp32() && !binary;

  // Few allowed rows spread over the data: list them once and score only those.
  const detail::FlatQueries fq{qbuf, qnorm.data(), is_l2, luts.data(), lut_bytes, bq.data(), &dl};
  std::size_t allowed = n;
  std::vector<std::uint32_t> listed;
  bool by_rows = false;
  if (allow) {
    allowed = 0;
    std::size_t active = 0;  // panels with an allowed row
    for (std::size_t w = 0; w < detail::bit_words(n); ++w) {
      allowed += std::size_t(__builtin_popcountll(allow[w]));
      for (unsigned sh = 0; sh < 64; sh += detail::kPanel) active += ((allow[w] >> sh) & 0xFFFF) != 0;
    }
    by_rows = detail::allowed_scan_pays(s, allowed, active, nq, ngroups);
    if (by_rows) listed = detail::allowed_rows(allow, n, allowed);
  }

  const auto lanes_of = [&](std::size_t pnl) {
    const std::size_t row0 = pnl * detail::kPanel;
    std::uint32_t lanes = 0xFFFF;
    if (allow) lanes = std::uint32_t((allow[row0 >> 6] >> (row0 & 63)) & 0xFFFF);
    if (row0 + detail::kPanel > n) lanes &= (1u << (n - row0)) - 1;
    return lanes;
  };

  parallel_for(ngroups * nranges, [&](std::size_t task, int) {
    const std::size_t g = task / nranges, r = task % nranges;
    const std::size_t q0 = g * group, q1 = std::min(nq, q0 + group);
    const std::size_t p0 = r * panels_per_range, p1 = std::min(npanels, p0 + panels_per_range);
    float* dd = nranges == 1 ? cd.data() : &pd[r * nq * k1];
    idx_t* ii = nranges == 1 ? cr.data() : &pi[r * nq * k1];
    std::vector<detail::TopK<idx_t>> heaps;
    heaps.reserve(q1 - q0);
    for (std::size_t qi = q0; qi < q1; ++qi) heaps.emplace_back(dd + qi * k1, ii + qi * k1, int(k1));
    if (by_rows) {  // range r of the listed rows
      const std::size_t per = (listed.size() + nranges - 1) / nranges;
      const std::size_t a0 = std::min(listed.size(), r * per), a1 = std::min(listed.size(), a0 + per);
      detail::scan_allowed(s, fq, listed.data() + a0, a1 - a0, q0, q1, heaps.data());
      for (auto& h : heaps) h.finish();
      return;
    }
    std::vector<float> dec(decode ? chunk * detail::kPanel * d : 0), row(decode ? d : 0);
    std::vector<std::uint32_t> pos;  // binary: the codes a scan emits
    std::vector<std::uint16_t> sum;
    std::vector<float> w, wlo;  // sq8, few queries: q * step and q.lo per query
    if (s.storage == Storage::SQ8 && q1 - q0 < mq && s.codec.trained()) {  // untrained: empty
      w.resize((q1 - q0) * d);
      wlo.resize(q1 - q0);
      for (std::size_t qi = q0; qi < q1; ++qi) {
        double t = 0;
        for (std::size_t j = 0; j < d; ++j) {
          w[(qi - q0) * d + j] = qbuf[qi * d + j] * s.codec.step()[j];
          t += double(qbuf[qi * d + j]) * s.codec.lo()[j];
        }
        wlo[qi - q0] = float(t);
      }
    }
    alignas(64) float out[16 * detail::kPanel], dist[16 * detail::kPanel], thr[16];
    std::uint32_t below[16];
    for (std::size_t c0 = p0; c0 < p1; c0 += chunk) {
      dl.check();
      const std::size_t c1 = std::min(p1, c0 + chunk);
      if (binary) {
        const std::size_t r0 = c0 * detail::kPanel, r1 = std::min(n, c1 * detail::kPanel);
        pos.resize(r1 - r0);
        sum.resize(r1 - r0);
        for (std::size_t qi = q0; qi < q1; ++qi) {
          if (qi > q0) dl.check();  // a block of codes per query
          auto& h = heaps[qi - q0];
          const BinaryQuery& b = bq[qi];
          float thr = h.threshold();
          std::uint16_t t16 = 0xffff;
          if (!detail::binary_sum_limit(s, fq, qi, thr, &t16)) continue;  // no code of this block can enter
          const std::size_t cnt = F.scan(&s.packed[r0 / detail::kFsBlock * s.block_bytes()], r1 - r0,
                                         s.bm_pad, &luts[qi * lut_bytes], nullptr, t16, pos.data(), sum.data());
          const float inv = 1.f / b.scale;
          for (std::size_t e = 0; e < cnt; ++e) {
            const std::size_t rw = r0 + pos[e];
            if (allow && !detail::bit_test(allow, rw)) continue;
            const float ip = b.qc - s.bscale[rw] * (b.bias + float(sum[e]) * inv);
            const float dist = is_l2 ? std::max(0.f, qnorm[qi] + s.norms[rw] - 2.f * ip) : -ip;
            if (dist < thr) {
              h.push(dist, idx_t(rw));
              thr = h.threshold();
            }
          }
        }
        continue;
      }
      if (decode && q1 - q0 < mq) {  // few queries: row by row, no transposition
        for (std::size_t pnl = c0; pnl < c1; ++pnl)
          for (std::uint32_t m = lanes_of(pnl); m; m &= m - 1) {
            const std::size_t rw = pnl * detail::kPanel + std::size_t(__builtin_ctz(m));
            const std::uint8_t* c = s.code(rw);
            if (s.storage == Storage::SQ4) s.codec.decode(c, row.data());
            for (std::size_t qi = q0; qi < q1; ++qi) {
              const float* qv = &qbuf[qi * d];
              float o;
              if (s.storage == Storage::SQ8)  // q.x = q.lo + (q * step).code
                o = wlo[qi - q0] + K.ip_u8(&w[(qi - q0) * d], c, d);
              else if (s.storage == Storage::FP16)
                o = F.ip_f16(qv, reinterpret_cast<const std::uint16_t*>(c), d);
              else
                o = K.ip(qv, row.data(), d);
              const float dist = is_l2 ? std::max(0.f, qnorm[qi] + s.norms[rw] - 2.f * o) : -o;
              auto& h = heaps[qi - q0];
              if (dist < h.threshold()) h.push(dist, idx_t(rw));
            }
          }
        continue;
      }
      if (decode)  // this block of panels, decoded into the panel layout
        for (std::size_t pnl = c0; pnl < c1; ++pnl) {
          const std::uint32_t lanes = lanes_of(pnl);
          if (!lanes) continue;
          float* panel = &dec[(pnl - c0) * detail::kPanel * d];
          for (std::size_t lane = 0; lane < detail::kPanel; ++lane) {
            const std::size_t rw = pnl * detail::kPanel + lane;
            if (rw < n && ((lanes >> lane) & 1)) {
              s.codec.decode(s.code(rw), row.data());
              for (std::size_t p = 0; p < d; ++p) panel[p * detail::kPanel + lane] = row[p];
            } else {
              for (std::size_t p = 0; p < d; ++p) panel[p * detail::kPanel + lane] = 0.f;
            }
          }
        }
      for (std::size_t qb = q0; qb < q1; qb += mq) {
        if (qb > q0) dl.check();  // the block of rows for up to max_q queries
        const std::size_t nb = std::min(mq, q1 - qb);
        for (std::size_t pnl = c0; pnl < c1; ++pnl) {
          const std::size_t row0 = pnl * detail::kPanel;
          const std::uint32_t lanes = lanes_of(pnl);
          if (!lanes) continue;
          const float* panel = decode ? &dec[(pnl - c0) * detail::kPanel * d] : &s.panels[row0 * d];
          K.dot_panel(&qbuf[qb * d], nb, d, panel, d, out);
          // Distances and their comparison with each heap's threshold in SIMD; only
          // the lanes that beat it (few, once the heaps are full) are visited.
          for (std::size_t i = 0; i < nb; ++i) thr[i] = heaps[qb - q0 + i].threshold();
          F.below16(out, nb, &s.norms[row0], kZeros, &qnorm[qb], !is_l2, thr, dist, below);
          for (std::size_t i = 0; i < nb; ++i) {
            auto& h = heaps[qb - q0 + i];
            for (std::uint32_t m = below[i] & lanes; m; m &= m - 1) {
              const int lane = __builtin_ctz(m);
              h.push(dist[i * detail::kPanel + std::size_t(lane)], idx_t(row0 + std::size_t(lane)));
            }
          }
        }
      }
    }
    for (auto& h : heaps) h.finish();
  });

  // Merge the ranges, re-rank on the refine copy, map rows to ids.
  std::uint64_t reranked = 0;
  std::vector<std::uint64_t> rr(nq, 0);
  parallel_for(nq, [&](std::size_t qi, int) {
    if (nranges > 1 || s.has_refine()) dl.check();
    float* cq = &cd[qi * k1];
    idx_t* rq = &cr[qi * k1];
    if (nranges > 1) {
      detail::TopK<idx_t> h(cq, rq, int(k1));
      for (std::size_t r = 0; r < nranges; ++r)
        for (std::size_t j = 0; j < k1; ++j) {
          const idx_t rw = pi[(r * nq + qi) * k1 + j];
          if (rw >= 0) h.push(pd[(r * nq + qi) * k1 + j], rw);
        }
      h.finish();
    }
    if (s.has_refine()) {
      std::vector<float> v(d);
      const float* qv = &qbuf[qi * d];
      detail::TopK<idx_t> h(D + qi * k, I + qi * k, int(k));
      for (std::size_t j = 0; j < k1 && rq[j] >= 0; ++j) {
        s.rcodec.decode(s.rcode(std::size_t(rq[j])), v.data());
        h.push(is_l2 ? K.l2(qv, v.data(), d) : -K.ip(qv, v.data(), d), rq[j]);
        ++rr[qi];
      }
      h.finish();
    } else {
      std::copy(cq, cq + k, D + qi * k);
      std::copy(rq, rq + k, I + qi * k);
    }
    for (std::size_t j = 0; j < k; ++j)
      if (I[qi * k + j] >= 0) I[qi * k + j] = s.ids[std::size_t(I[qi * k + j])];
  });
  for (auto v : rr) reranked += v;
  finalize_distances(D, I, nq * k);
  if (stats) {
    stats->distance_evals += std::uint64_t(nq) * allowed + reranked;
    stats->allowed = allowed;
    stats->plan = 1;
  }
}

}  // namespace warpsearch
