// SPDX-FileCopyrightText: 2026 warpsearch contributors
// SPDX-License-Identifier: Apache-2.0
// Exact search over panels of kPanel vectors (dimension-major inside a panel): the
// micro-kernel computes a block of queries x kPanel vectors with broadcast FMAs, fused
// with per-query top-k (never a distance matrix). Compressed storage is decoded into
// panels one cache block at a time; binary codes are scored with popcounts. With a
// refine copy the scan keeps a larger pool of candidate rows, re-ranked at the end.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "brute_force/flat_impl.hpp"
#include "common/bitset.hpp"
#include "common/topk.hpp"
#include "common/vector_ops.hpp"
#include "warpsearch/brute_force.hpp"
#include "warpsearch/errors.hpp"
#include "warpsearch/threads.hpp"

namespace warpsearch {
namespace {

// The binary estimate of q.x for x ~ center + a * sign: the query is quantized to 4 bits
// per dimension (q ~ lo + delta * u) and cut into bit planes, so that with
// P = popcount(code) and S = sum_k 2^k popcount(plane_k & code),
// q.x ~ qc + a * (2 * (lo * P + delta * S) - sq).
constexpr int kPlanes = 4;
struct BinaryQuery {
  float qc = 0.f, lo = 0.f, delta = 0.f, sq = 0.f;
};

BinaryQuery prepare_binary(const detail::VectorCodec& c, const float* q, std::uint64_t* planes) {
  const std::size_t d = c.dim(), words = c.words();
  BinaryQuery b;
  float lo = q[0], hi = q[0];
  for (std::size_t j = 1; j < d; ++j) {
    lo = std::min(lo, q[j]);
    hi = std::max(hi, q[j]);
  }
  const float top = float((1 << kPlanes) - 1);
  b.lo = lo;
  b.delta = hi > lo ? (hi - lo) / top : 0.f;
  std::fill(planes, planes + kPlanes * words, 0);
  double sq = 0, qc = 0;
  for (std::size_t j = 0; j < d; ++j) {
    const long u = b.delta > 0 ? std::clamp(std::lrint((q[j] - lo) / b.delta), 0L, long(top)) : 0L;
    for (int k = 0; k < kPlanes; ++k)
      if ((u >> k) & 1) planes[std::size_t(k) * words + (j >> 6)] |= std::uint64_t(1) << (j & 63);
    sq += double(lo) + double(b.delta) * double(u);
    qc += double(q[j]) * c.center()[j];
  }
  b.qc = float(qc);
  b.sq = float(sq);
  return b;
}

}  // namespace

void FlatIndex::search(const float* q, std::size_t nq, const SearchParams& params, float* D,
                       idx_t* I, SearchStats* stats) const {
  WS_EXPECTS(params.k > 0, "k must be > 0, got ", params.k);
  std::shared_lock lk(s_->mu);
  const auto& s = *s_;
  const std::size_t d = s.d, n = s.n, k = std::size_t(params.k);
  const auto& K = detail::kernels();
  Bitset allow_bits;
  if (params.filter.active())
    allow_bits = make_allow(
        params.filter, n, [&](std::size_t r) { return s.ids[r]; },
        [&](idx_t id) -> std::int64_t {
          auto it = s.rows.find(id);
          return it == s.rows.end() ? -1 : std::int64_t(it->second);
        });
  const std::uint64_t* allow = allow_bits.empty() ? nullptr : allow_bits.data();

  std::vector<float> qbuf(nq * d);
  if (metric_ == Metric::Cosine) {
    detail::normalize_rows(q, nq, d, qbuf.data());
  } else {
    std::memcpy(qbuf.data(), q, nq * d * sizeof(float));
  }
  std::vector<float> qnorm(nq, 0.f);
  if (metric_ == Metric::L2)
    for (std::size_t i = 0; i < nq; ++i) qnorm[i] = K.ip(&qbuf[i * d], &qbuf[i * d], d);

  const bool binary = s.storage == Storage::Binary;
  const std::size_t words = s.codec.words();
  std::vector<std::uint64_t> planes(binary ? nq * kPlanes * words : 0);
  std::vector<BinaryQuery> bq(binary ? nq : 0);
  if (binary && s.codec.trained())
    for (std::size_t i = 0; i < nq; ++i)
      bq[i] = prepare_binary(s.codec, &qbuf[i * d], &planes[i * kPlanes * words]);

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
  const std::size_t panels_per_range = (npanels + nranges - 1) / std::max<std::size_t>(1, nranges);

  std::vector<float> pd(nranges == 1 ? 0 : nranges * nq * k1);
  std::vector<idx_t> pi(nranges == 1 ? 0 : nranges * nq * k1);
  // Panels per cache block: ~256 KiB of what the block reads stays in L2 while every
  // query group uses it (floats, or binary codes).
  const std::size_t panel_bytes = detail::kPanel * (binary ? s.cb() : d * sizeof(float));
  const std::size_t chunk = std::max<std::size_t>(1, (256 * 1024) / panel_bytes);
  const bool is_l2 = metric_ == Metric::L2, decode = !s.fp32() && !binary;

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
    std::vector<float> dec(decode ? chunk * detail::kPanel * d : 0), row(decode ? d : 0);
    float out[16 * detail::kPanel];
    for (std::size_t c0 = p0; c0 < p1; c0 += chunk) {
      const std::size_t c1 = std::min(p1, c0 + chunk);
      if (binary) {
        std::uint32_t pc[detail::kPanel], sm[detail::kPanel];
        for (std::size_t qi = q0; qi < q1; ++qi) {
          auto& h = heaps[qi - q0];
          const BinaryQuery& b = bq[qi];
          float thr = h.threshold();
          for (std::size_t pnl = c0; pnl < c1; ++pnl) {
            const std::uint32_t lanes = lanes_of(pnl);
            if (!lanes) continue;
            const std::size_t row0 = pnl * detail::kPanel;
            K.bin_scan(&planes[qi * kPlanes * words], s.code(row0), s.cb(),
                       std::min(detail::kPanel, n - row0), words, pc, sm);
            for (std::uint32_t m = lanes; m; m &= m - 1) {
              const int lane = __builtin_ctz(m);
              const std::size_t rw = row0 + std::size_t(lane);
              const float a = detail::VectorCodec::binary_scale(s.code(rw), words);
              const float ip = b.qc + a * (2.f * (b.lo * float(pc[lane]) + b.delta * float(sm[lane])) - b.sq);
              const float dist = is_l2 ? std::max(0.f, qnorm[qi] + s.norms[rw] - 2.f * ip) : -ip;
              if (dist < thr) {
                h.push(dist, idx_t(rw));
                thr = h.threshold();
              }
            }
          }
        }
        continue;
      }
      if (decode && q1 - q0 < mq) {  // few queries: decode row by row, no transposition
        for (std::size_t pnl = c0; pnl < c1; ++pnl)
          for (std::uint32_t m = lanes_of(pnl); m; m &= m - 1) {
            const std::size_t rw = pnl * detail::kPanel + std::size_t(__builtin_ctz(m));
            s.codec.decode(s.code(rw), row.data());
            for (std::size_t qi = q0; qi < q1; ++qi) {
              const float o = K.ip(&qbuf[qi * d], row.data(), d);
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
        const std::size_t nb = std::min(mq, q1 - qb);
        for (std::size_t pnl = c0; pnl < c1; ++pnl) {
          const std::size_t row0 = pnl * detail::kPanel;
          const std::uint32_t lanes = lanes_of(pnl);
          if (!lanes) continue;
          const float* panel = decode ? &dec[(pnl - c0) * detail::kPanel * d] : &s.panels[row0 * d];
          K.dot_panel(&qbuf[qb * d], nb, d, panel, d, out);
          for (std::size_t i = 0; i < nb; ++i) {
            auto& h = heaps[qb - q0 + i];
            const float* o = out + i * detail::kPanel;
            float thr = h.threshold();
            for (std::uint32_t m = lanes; m; m &= m - 1) {
              const int lane = __builtin_ctz(m);
              float dist = is_l2 ? std::max(0.f, qnorm[qb + i] + s.norms[row0 + lane] - 2.f * o[lane])
                                 : -o[lane];
              if (dist < thr) {
                h.push(dist, idx_t(row0 + std::size_t(lane)));
                thr = h.threshold();
              }
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
    std::size_t allowed = n;
    if (allow) {
      allowed = 0;
      for (std::size_t w = 0; w < detail::bit_words(n); ++w) allowed += __builtin_popcountll(allow[w]);
    }
    stats->distance_evals += std::uint64_t(nq) * allowed + reranked;
    stats->allowed = allowed;
    stats->plan = 1;
  }
}

}  // namespace warpsearch
