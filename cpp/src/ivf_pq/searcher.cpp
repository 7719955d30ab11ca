// SPDX-FileCopyrightText: 2026 warpsearch contributors
// SPDX-License-Identifier: Apache-2.0
// IVF-PQ search: coarse probing, cell-grouped code scans (fast scan for 4-bit codes,
// float LUT for 8-bit codes) into per-query candidate heaps. Re-ranking and the
// exhaustive plan are in searcher_rerank.cpp.
#include "ivf_pq/searcher.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include "common/bitset.hpp"
#include "common/vec4.hpp"

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace warpsearch::detail {
namespace {

constexpr std::size_t kScanChunk = 128;        // vectors per fast-scan call (threshold refresh)
constexpr std::size_t kSeedProbes = 1;         // nearest cells scanned query by query first
// Per-query tables and heaps of one batch. A batch reads each probed cell's codes once
// for all of its queries, so larger batches stream fewer code bytes per query; past a
// few MiB (about the reach of the L2 TLB) the queries' own tables, touched once per
// (query, cell) pair, start to miss instead. Measured on a 2-vCPU Zen 3 VM (nprobe 8,
// 1,000-10,000 queries, against 1 MiB): 1 thread +11-17% (L2, 128-d), +4-7% (IP,
// 384-d); 2 threads +26% and +6%.
constexpr std::size_t kBatchTableBytes = std::size_t(8) << 20;
constexpr std::size_t kMaxBatch = 2048;
// The cell-grouped pass fetches the query tables of the pair this far ahead of the one
// whose cell table it combines (sift-dev, nprobe 8: +3-4% QPS at 1 thread, 1 or 2 ahead
// alike; neutral on inner-product data, whose tables are not combined).
constexpr std::size_t kPairsAhead = 1;
// Queries per call of the coarse step (the deadline is checked between calls).
constexpr std::size_t kCoarseSlice = 256;

// Positions x < n with s[x] <= thr, ascending, into pos; returns how many.
std::size_t positions_le(const std::uint16_t* s, std::size_t n, std::uint16_t thr, std::uint32_t* pos) {
  std::size_t cnt = 0, x = 0;
#if defined(__SSE2__)
  // Unsigned compare as signed after flipping the top bit; eight sums per step, a mask bit
  // per sum (movemask gives two per 16-bit lane: keep the even ones).
  const __m128i flip = _mm_set1_epi16(short(0x8000));
  const __m128i t = _mm_xor_si128(_mm_set1_epi16(short(thr)), flip);
  for (; x + 8 <= n; x += 8) {
    const __m128i v = _mm_xor_si128(_mm_loadu_si128(reinterpret_cast<const __m128i*>(s + x)), flip);
    unsigned m = ~unsigned(_mm_movemask_epi8(_mm_cmpgt_epi16(v, t))) & 0x5555u;
    for (; m; m &= m - 1) pos[cnt++] = std::uint32_t(x + (unsigned(__builtin_ctz(m)) >> 1));
  }
#endif
  for (; x < n; ++x)
    if (s[x] <= thr) pos[cnt++] = std::uint32_t(x);
  return cnt;
}

typedef std::int16_t s4 __attribute__((vector_size(8)));

}  // namespace

Searcher::Searcher(const IvfPqState& s, std::size_t k, std::size_t kc, std::size_t nprobe, float gap,
                   const std::uint64_t* allow, const std::vector<std::size_t>& base,
                   const Deadline* dl)
    : s_(s), F_(fastscan_kernels()), K_(kernels()), k_(k), kc_(kc), nprobe_(nprobe), gap_(gap),
      allow_(allow), base_(base), dl_(dl) {}

std::size_t Searcher::batch_size() const {
  // Bytes of a query touched by each of its (cell, query) pairs: its heap and the table
  // the scan reads (uint8 LUT for 4-bit IP, float LUT for 8-bit IP, the shared part of
  // the cell tables for 4-bit L2; 8-bit L2 tables are per pair).
  std::size_t per_query = (2 * kc_ + 2) * (sizeof(float) + sizeof(idx_t)) + 64;
  if (s_.ip()) per_query += s_.fast_scan() ? s_.m_pad * 16 : s_.m * s_.ksub * sizeof(float);
  if (s_.cell_tables()) per_query += s_.m * (16 + 1) * sizeof(float);
  return std::clamp<std::size_t>(kBatchTableBytes / per_query, 8, kMaxBatch);
}

void Searcher::prepare_query(const float* q, std::size_t qi, Scratch& c) const {
  const std::size_t m = s_.m, ksub = s_.ksub;
  if (s_.ip()) {  // one table for every probe
    float* t = &c.qtab[qi * m * ksub];
    F_.lut_ip(q, s_.cbt.data(), m, s_.dsub, ksub, t);
    if (s_.fast_scan())
      F_.quantize16(t, m, s_.rshift_ptr(), &c.qlut8[qi * s_.m_pad * 16], &c.qscale[qi], &c.qbias[qi]);
  } else if (s_.cell_tables()) {
    // Q = -2 q.C, rows shifted to start at 0 as the cell tables are.
    // Rows as four vectors of four (row minimum and maximum without a scalar chain).
    float* t = &c.qtab[qi * m * 16];
    F_.lut_ip(q, s_.cbt.data(), m, s_.dsub, 16, t);
    double sum_min = 0;
    float qmax = 0.f;
    for (std::size_t j = 0; j < m; ++j) {
      float* row = t + j * 16;
      f4 x[4];
      std::memcpy(x, row, sizeof x);
      for (auto& v : x) v *= 2.f;
      const f4 lo = min4(min4(x[0], x[1]), min4(x[2], x[3]));
      const f4 hi = max4(max4(x[0], x[1]), max4(x[2], x[3]));
      const float mn = std::min(std::min(lo[0], lo[1]), std::min(lo[2], lo[3]));
      const float mx = std::max(std::max(hi[0], hi[1]), std::max(hi[2], hi[3]));
      for (auto& v : x) v -= mn;
      std::memcpy(row, x, sizeof x);
      c.qrange[qi * m + j] = mx - mn;
      qmax = std::max(qmax, mx - mn);
      sum_min += mn;
    }
    c.qbias[qi] = float(sum_min);
    c.qfix[qi] = qmax <= s_.punit * float(kFix16Max);
    if (c.qfix[qi]) {
      std::int16_t* t16 = &c.qtab16[qi * m * 16];
      const float inv = 1.f / s_.punit;
      const f4 top = f4{} + float(kFix16Max);
      for (std::size_t i = 0; i < m * 16; i += 4) {  // t >= 0 and fits: truncation of +0.5 rounds
        f4 v;
        std::memcpy(&v, t + i, sizeof v);
        const i4 r = __builtin_convertvector(min4(v * inv + 0.5f, top), i4);
        const s4 h = __builtin_convertvector(r, s4);
        std::memcpy(t16 + i, &h, sizeof h);
      }
    }
  }
}

float Searcher::cell_lut(std::size_t l, std::size_t qi, Scratch& c, std::uint8_t* out,
                        float* bias) const {
  const std::size_t m = s_.m;
  if (c.qfix[qi])
    return F_.lut_combine16(&s_.ptab16[l * m * 16], &c.qtab16[qi * m * 16], m, s_.fs_cap, s_.punit,
                            s_.rshift_ptr(), out, bias);
  *bias = 0.f;
  return F_.lut_combine(&s_.ptab[l * m * 16], &c.qtab[qi * m * 16], &s_.prange[l * m],
                        &c.qrange[qi * m], m, s_.fs_cap, s_.rshift_ptr(), out);
}

void Searcher::search(const float* q, std::size_t nb, Scratch& c, float* D, idx_t* I,
                      SearchStats& st) const {
  const std::size_t np = nprobe_, d = s_.d;
  c.cd.resize(nb * np);
  c.ci.resize(nb * np);
  if (gap_ >= 0.f) {  // adaptive probing; inner-product gaps are in units of |q|
    c.qgap.resize(nb);
    for (std::size_t qi = 0; qi < nb; ++qi)
      c.qgap[qi] = gap_ * (s_.ip() ? std::sqrt(K_.ip(q + qi * d, q + qi * d, d)) : 1.f);
  }
  DeadlineTicker tk(dl_, kDeadlineCodes);
  // The coarse step in slices of queries (it works query block by query block anyway),
  // the deadline checked between them: for large nlist or batches it takes milliseconds.
  for (std::size_t q0 = 0; q0 < nb; q0 += kCoarseSlice) {
    tk.check();
    const std::size_t ns = std::min(kCoarseSlice, nb - q0);
    s_.coarse.search(q + q0 * d, ns, np, s_.ip(), &c.cd[q0 * np], &c.ci[q0 * np],
                     gap_ >= 0.f ? &c.qgap[q0] : nullptr);
  }
  tk.check();
  if (s_.ip())  // the distance offset of a cell is -q.mean (probing used the unit centroid)
    for (std::size_t x = 0; x < nb * np; ++x)
      if (c.ci[x] >= 0) c.cd[x] = -K_.ip(q + (x / np) * d, &s_.centroids[std::size_t(c.ci[x]) * d], d);
  if (cell_allowed_)  // filtered: cells without allowed vectors need no scan
    for (std::size_t x = 0; x < nb * np; ++x)
      if (c.ci[x] >= 0 && (*cell_allowed_)[std::size_t(c.ci[x])] == 0) c.ci[x] = -1;
  scan_batch(q, nb, c, D, I, st);
  if (cell_allowed_) widen(q, nb, c, D, I, st);
}

void Searcher::scan_batch(const float* q, std::size_t nb, Scratch& c, float* D, idx_t* I,
                          SearchStats& st) const {
  const std::size_t np = nprobe_, d = s_.d, m = s_.m, hs = 2 * kc_ + 2;
  DeadlineTicker tk(dl_, kDeadlineCodes);
  // Codes of the cell of (query, probe) pair x (0 when the probe is empty).
  auto cell_codes = [&](std::size_t x) { return c.ci[x] < 0 ? 0 : s_.lists[std::size_t(c.ci[x])].size(); };
  if (s_.ip() || s_.cell_tables()) c.qtab.resize(nb * m * s_.ksub);
  c.qrange.resize(nb * m);
  c.qfix.resize(nb);
  if (s_.cell_tables()) c.qtab16.resize(nb * m * 16);
  c.qbias.resize(nb);
  c.qscale.resize(nb);
  c.qlut8.resize(s_.ip() && s_.fast_scan() ? nb * s_.m_pad * 16 : 0);
  c.hd.resize(nb * hs);
  c.hk.resize(nb * hs);
  c.heaps.resize(nb);
  c.rq.resize(d);
  c.flut.resize(m * s_.ksub);
  c.lut8.resize(s_.m_pad * 16);
  c.code.resize(m);
  c.pos.resize(std::max(c.pos.size(), kScanChunk));  // first cells use up to a list's length
  c.sum.resize(std::max(c.sum.size(), kScanChunk));
  // The queries as the codebooks see them (rotated with OPQ); re-ranking and the
  // coarse distances use q itself (a rotation preserves distances).
  const float* qc = s_.pq_space(q, nb, c.qrot);
  for (std::size_t qi = 0; qi < nb; ++qi) {
    tk.tick(s_.m * 16);  // the tables of a query: about as much work as m * 16 codes
    prepare_query(qc + qi * d, qi, c);
    c.heaps[qi].reset(&c.hd[qi * hs], &c.hk[qi * hs], kc_);
  }
  // The nearest cell of each query first, so that its heap threshold is tight before the
  // cell-grouped pass.
  const std::size_t seed = std::min(kSeedProbes, np);
  for (std::size_t qi = 0; qi < nb; ++qi)
    for (std::size_t pi = 0; pi < seed; ++pi) {
      tk.tick(cell_codes(qi * np + pi));
      scan_pair(qc, qi, pi, c, st);
    }
  // Remaining (query, probe) pairs grouped by cell (counting sort).
  const std::size_t nlist = s_.lists.size();
  c.pair_start.assign(nlist + 1, 0);
  for (std::size_t x = 0; x < nb * np; ++x)
    if (x % np >= seed && c.ci[x] >= 0) ++c.pair_start[std::size_t(c.ci[x]) + 1];
  for (std::size_t l = 0; l < nlist; ++l) c.pair_start[l + 1] += c.pair_start[l];
  c.pairs.resize(c.pair_start[nlist]);
  {
    std::vector<std::uint32_t> fill(c.pair_start.begin(), c.pair_start.end() - 1);
    for (std::size_t x = 0; x < nb * np; ++x)
      if (x % np >= seed && c.ci[x] >= 0) c.pairs[fill[std::size_t(c.ci[x])]++] = std::uint32_t(x);
  }
  const std::size_t group = s_.fast_scan() ? F_.max_queries : 1;
  c.lutg.resize(group * s_.m_pad * 16);
  c.mpos.resize(group * kScanChunk);
  c.msum.resize(group * kScanChunk);
  const std::size_t ptab_bytes = s_.cell_tables() ? m * 16 * sizeof(std::int16_t) : 0;
  std::size_t next = 0;  // next cell with pairs, whose fixed-point table is fetched ahead
  for (std::size_t l = 0; l < nlist; ++l) {
    const std::uint32_t t0 = c.pair_start[l], t1 = c.pair_start[l + 1];
    if (ptab_bytes && t0 < t1 && next <= l) {
      for (next = l + 1; next < nlist && c.pair_start[next] == c.pair_start[next + 1]; ++next) {}
      if (next < nlist) {
        const char* pt = reinterpret_cast<const char*>(&s_.ptab16[next * m * 16]);
        for (std::size_t o = 0; o < ptab_bytes; o += 64) __builtin_prefetch(pt + o, 0, 1);
      }
    }
    if (group == 1) {
      for (std::uint32_t t = t0; t < t1; ++t) {
        tk.tick(s_.lists[l].size());
        scan_pair(qc, c.pairs[t] / np, c.pairs[t] % np, c, st);
      }
    } else {
      for (std::uint32_t t = t0; t < t1; t += std::uint32_t(group)) {
        const std::size_t g = std::min<std::size_t>(group, t1 - t);
        tk.tick(g * s_.lists[l].size());
        scan_cell(l, &c.pairs[t], g, c.pairs.size() - t, c, st);
      }
    }
  }
  rerank_batch(q, nb, c, D, I, st, tk);
}

void Searcher::scan_pair(const float* q, std::size_t qi, std::size_t pi, Scratch& c,
                         SearchStats& st) const {
  const std::size_t x = qi * nprobe_ + pi;
  if (c.ci[x] < 0) return;
  const std::size_t l = std::size_t(c.ci[x]), m = s_.m;
  if (s_.lists[l].size() == 0) return;
  ++st.nodes_visited;
  st.distance_evals += s_.lists[l].size();
  CandHeap& h = c.heaps[qi];
  const float cd = c.cd[x];  // L2: |q - c|^2; IP: -q.mean
  if (s_.ip()) {
    if (s_.fast_scan()) {
      scan4(l, pi, cd + c.qbias[qi], c.qscale[qi], &c.qlut8[qi * s_.m_pad * 16], c, h);
    } else {
      scan8(l, pi, cd, &c.qtab[qi * m * s_.ksub], h);
    }
  } else if (s_.cell_tables()) {
    float bias;
    const float sc = cell_lut(l, qi, c, c.lut8.data(), &bias);
    scan4(l, pi, cd + s_.psum_min[l] + c.qbias[qi] + bias, sc, c.lut8.data(), c, h);
  } else {  // 8-bit L2: residual table per probe
    const float* cen = s_.pq_centroids() + l * s_.d;
    const float* qq = q + qi * s_.d;
    for (std::size_t j = 0; j < s_.d; ++j) c.rq[j] = qq[j] - cen[j];
    F_.lut_l2(c.rq.data(), s_.cbt.data(), m, s_.dsub, s_.ksub, c.flut.data());
    scan8(l, pi, 0.f, c.flut.data(), h);
  }
}

void Searcher::fetch_pair(std::uint32_t x, const Scratch& c) const {
  const std::size_t qi = x / nprobe_;
  const char* t;
  std::size_t bytes;
  if (s_.ip()) {
    t = reinterpret_cast<const char*>(&c.qlut8[qi * s_.m_pad * 16]);
    bytes = s_.m_pad * 16;
  } else if (c.qfix[qi]) {
    t = reinterpret_cast<const char*>(&c.qtab16[qi * s_.m * 16]);
    bytes = s_.m * 16 * sizeof(std::int16_t);
  } else {
    return;
  }
  for (std::size_t o = 0; o < bytes; o += 64) __builtin_prefetch(t + o, 0, 3);
  __builtin_prefetch(c.heaps[qi].dists(), 1, 3);
}

void Searcher::scan_cell(std::size_t l, const std::uint32_t* pairs, std::size_t g, std::size_t avail,
                         Scratch& c, SearchStats& st) const {
  const InvList& L = s_.lists[l];
  const std::size_t n = L.size(), np = nprobe_, block_bytes = s_.m_pad * 16;
  if (n == 0) return;
  constexpr std::size_t kMax = 8;
  float base[kMax], scale[kMax], inv[kMax];
  const std::uint8_t* luts[kMax];
  CandHeap* heaps[kMax];
  std::size_t probe[kMax], cnt[kMax];
  std::uint16_t thr[kMax];
  for (std::size_t u = 0; u < g; ++u) {
    const std::size_t x = pairs[u], qi = x / np;
    if (u + kPairsAhead < avail) fetch_pair(pairs[u + kPairsAhead], c);
    ++st.nodes_visited;
    st.distance_evals += n;
    if (s_.ip()) {
      luts[u] = &c.qlut8[qi * s_.m_pad * 16];
      scale[u] = c.qscale[qi];
      base[u] = c.cd[x] + c.qbias[qi];
    } else {
      std::uint8_t* lb = &c.lutg[u * s_.m_pad * 16];
      float bias;
      scale[u] = cell_lut(l, qi, c, lb, &bias);
      luts[u] = lb;
      base[u] = c.cd[x] + s_.psum_min[l] + c.qbias[qi] + bias;
    }
    inv[u] = 1.f / scale[u];
    heaps[u] = &c.heaps[qi];
    probe[u] = x % np;
  }
  for (std::size_t c0 = 0; c0 < n; c0 += kScanChunk) {
    for (std::size_t u = 0; u < g; ++u) {
      const float t = (heaps[u]->threshold() - base[u]) * scale[u];
      thr[u] = !(t >= 0.f) ? 0 : t >= 65535.f ? 65535 : std::uint16_t(t);
    }
    const std::size_t nc = std::min(kScanChunk, n - c0);
    F_.scan_multi(&L.codes[(c0 / kFsBlock) * block_bytes], nc, s_.m_pad, luts, s_.gdelta_ptr(), g, thr,
                  c.mpos.data(), c.msum.data(), kScanChunk, cnt);
    for (std::size_t u = 0; u < g; ++u) {
      CandHeap& h = *heaps[u];
      const std::uint32_t* pu = &c.mpos[u * kScanChunk];
      const std::uint16_t* su = &c.msum[u * kScanChunk];
      for (std::size_t x = 0; x < cnt[u]; ++x) {
        const std::size_t p = c0 + pu[x];
        if (allow_ && !bit_test(allow_, base_[l] + p)) continue;
        const float dist = base[u] + float(su[x]) * inv[u];
        if (dist < h.threshold()) h.push(dist, cand_key(probe[u], p));
      }
    }
  }
}

void Searcher::scan4(std::size_t l, std::size_t pi, float base, float scale,
                     const std::uint8_t* lut8, Scratch& c, CandHeap& heap) const {
  const InvList& L = s_.lists[l];
  const float inv = 1.f / scale;
  const std::size_t n = L.size(), block_bytes = s_.m_pad * 16;
  if (heap.size() == 0 && n > kc_) {
    // First cell of the query: select its kc best at once (one by one, most of them
    // would enter the heap and be pushed out again) from all of its sums; with a filter
    // only allowed vectors count towards the kc.
    const std::size_t nr = (n + kFsBlock - 1) / kFsBlock * kFsBlock;
    if (c.sum.size() < nr) c.sum.resize(nr);
    std::uint16_t* sums = c.sum.data();
    F_.sums(L.codes.data(), n, s_.m_pad, lut8, s_.gdelta_ptr(), sums);
    auto allowed = [&](std::size_t x) { return !allow_ || bit_test(allow_, base_[l] + x); };
    // A 256-bin histogram of the sums finds a bound under which at least kc lie.
    std::uint16_t mx = 0;
    if (!allow_) {
      for (std::size_t x = 0; x < n; ++x) mx = std::max(mx, sums[x]);
    } else {
      for (std::size_t x = 0; x < n; ++x)
        if (allowed(x)) mx = std::max(mx, sums[x]);
    }
    unsigned shift = 0;
    while ((mx >> shift) >= 256) ++shift;
    std::uint32_t hist[256] = {};
    for (std::size_t x = 0; x < n; ++x)
      if (allowed(x)) ++hist[sums[x] >> shift];
    std::uint32_t cut = 0;
    for (std::size_t acc = 0; cut < 255 && acc + hist[cut] < kc_; ++cut) acc += hist[cut];
    // sums[x] >> shift <= cut, i.e. sums[x] <= thr.
    const std::uint16_t thr = std::uint16_t(std::min<std::uint32_t>(0xffffu, ((cut + 1) << shift) - 1));
    if (c.pos.size() < n) c.pos.resize(n);
    const std::size_t cnt = positions_le(sums, n, thr, c.pos.data());
    for (std::size_t i = 0; i < cnt; ++i) {
      const std::size_t x = c.pos[i];
      if (!allowed(x)) continue;
      const float dist = base + float(sums[x]) * inv;
      if (dist < heap.threshold()) heap.push(dist, cand_key(pi, x));
    }
    return;
  }
  for (std::size_t c0 = 0; c0 < n; c0 += kScanChunk) {
    const float t = (heap.threshold() - base) * scale;
    if (!(t >= 0.f)) return;  // no code of this cell can beat the heap
    const std::uint16_t thr = t >= 65535.f ? 65535 : std::uint16_t(t);
    const std::size_t nc = std::min(kScanChunk, n - c0);
    const std::size_t cnt = F_.scan(&L.codes[(c0 / kFsBlock) * block_bytes], nc, s_.m_pad, lut8,
                                    s_.gdelta_ptr(), thr, c.pos.data(), c.sum.data());
    for (std::size_t x = 0; x < cnt; ++x) {
      const std::size_t p = c0 + c.pos[x];
      if (allow_ && !bit_test(allow_, base_[l] + p)) continue;
      const float dist = base + float(c.sum[x]) * inv;
      if (dist < heap.threshold()) heap.push(dist, cand_key(pi, p));
    }
  }
}

void Searcher::scan8(std::size_t l, std::size_t pi, float base, const float* fl,
                     CandHeap& heap) const {
  const InvList& L = s_.lists[l];
  const std::size_t m = s_.m, n = L.size();
  const std::uint8_t* codes = L.codes.data();
  float thr = heap.threshold();
  for (std::size_t p = 0; p < n; ++p) {
    const std::uint8_t* cd = codes + p * m;
    float a0 = 0.f, a1 = 0.f, a2 = 0.f, a3 = 0.f;
    std::size_t j = 0;
    for (; j + 4 <= m; j += 4) {
      a0 += fl[j * 256 + cd[j]];
      a1 += fl[(j + 1) * 256 + cd[j + 1]];
      a2 += fl[(j + 2) * 256 + cd[j + 2]];
      a3 += fl[(j + 3) * 256 + cd[j + 3]];
    }
    for (; j < m; ++j) a0 += fl[j * 256 + cd[j]];
    const float dist = base + ((a0 + a1) + (a2 + a3));
    if (dist < thr && (!allow_ || bit_test(allow_, base_[l] + p))) {
      heap.push(dist, cand_key(pi, p));
      thr = heap.threshold();
    }
  }
}

}  // namespace warpsearch::detail
