// SPDX-FileCopyrightText: 2026 warpsearch contributors
// SPDX-License-Identifier: Apache-2.0
#pragma once
// Private state of HnswIndex and the distance helpers shared by build and search.
// The graph struct holds storage; the algorithms live in hnsw_build.cpp and
// hnsw_search.cpp.
#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <functional>
#include <mutex>
#include <shared_mutex>
#include <unordered_map>
#include <utility>
#include <vector>

#include "common/aligned.hpp"
#include "common/bitset.hpp"
#include "simd/distance.hpp"
#include "simd/fastscan.hpp"
#include "storage/store.hpp"
#include "warpsearch/errors.hpp"
#include "warpsearch/hnsw.hpp"

namespace warpsearch::detail {

enum SlotState : std::uint8_t { kFree = 0, kLive = 1, kTomb = 2 };

// Per-query distance context: the exact (normalized) query plus, for quantized
// traversal, w = q * scale quantized to int16 (w ~ alpha * w16) and the constants of
// the asymmetric SQ8 distance: q.x ~ qc + alpha * sum(w16 * code).
struct QueryCtx {
  const float* q = nullptr;
  std::vector<std::int16_t> w16;
  float alpha = 0.f;
  float qc = 0.f;  // sum q * min
  float qn = 0.f;  // |q|^2
  std::vector<float> wf;  // q * scale in float, for exact inner products from lossless codes
  // Inner-product graphs are built in the space where x gains the coordinate
  // sqrt(M^2 - |x|^2) (M the largest norm): there L2 order between a query (extra
  // coordinate 0) and the data is inner-product order, and node-to-node distances
  // are a metric, which the neighbour heuristic needs. node = this context is a
  // stored vector being inserted, with extra coordinate qa.
  bool node = false;
  float qa = 0.f;
  // L2 with one scale s for every dimension: the walk reads no code norm. w16 then
  // holds 2^(shift+1) * u for the query u in code units, and the traversal distance is
  // fb + fa * l2_u8s16(code, w16, shift) with fa = s^2 / 2^shift and fb = s^2 |u|^2.
  int shift = -1;
  float fa = 0.f, fb = 0.f;
  bool needs_norm = false;  // the traversal distance reads cnorm
  std::vector<float> own;   // a stored node decoded to floats (fp16 or sq8 storage)
};

using Cand = std::pair<float, std::uint32_t>;
class Deadline;  // common/deadline.hpp
// Queries walked at once per thread by HnswGraph::search_interleaved. On the 2-vCPU
// development VM 4 and 8 gave the same speed (+4-12% over one query at a time); 4
// keeps the lanes' visited sets and pools in L1/L2.
constexpr std::size_t kInterleaveLanes = 4;

struct HnswGraph {
  HnswParams p;
  std::size_t d = 0;
  Metric metric = Metric::L2;
  std::size_t R0 = 32, R = 16;  // max links on level 0 / upper levels
  double level_mult = 1.0;

  std::size_t cap = 0;     // slots allocated
  std::size_t nslots = 0;  // slots ever used (live + tombstoned + free)
  // Arrays in RAM or mapped from an index file (storage/store.hpp); upper levels are
  // always in RAM (a few bytes per node). A mapped graph has cap = nslots until a write
  // copies it into RAM (own_all).
  Store<std::uint32_t, avector<std::uint32_t>> links0;  // cap * (R0 + 1): [count, ids...]
  std::vector<std::vector<std::uint32_t>> upper;  // per slot: level * (R + 1)
  Store<float, avector<float>> vecs;  // cap * d exact vectors (normalized for cosine)
  bool half = false;                  // storage fp16: the vectors are in hvecs, not vecs
  bool coded = false;                 // storage sq8: the 8-bit codes are the only copy
  Store<std::uint16_t, avector<std::uint16_t>> hvecs;  // cap * d (storage fp16)
  int bits = 8;                       // bits per code entry: 8 or 4 (see set_bits)
  std::size_t cd = 0;                 // code entries: d rounded up to 64, zero padded
  std::size_t cs = 0;                 // code stride in bytes: cd * bits / 8
  Store<std::uint8_t, avector<std::uint8_t>> codes;  // cap * cs scalar codes (quantized traversal)
  Store<float> cnorm;                 // |decoded code|^2 per slot
  bool mips = false;                  // metric IP: augmented build space (see QueryCtx)
  float mips_m2 = 0.f;                // M^2 of the augmentation
  Store<float> xnorm, aug;            // per slot: |x|^2 and sqrt(M^2 - |x|^2) (mips only)
  Store<idx_t> labels;
  Store<std::uint8_t> levels, state;
  // label -> slot, built on first need (an id lookup); call with rw held (shared is enough).
  std::unordered_map<idx_t, std::uint32_t>& map() {
    ensure_map();
    return map_;
  }
  const std::unordered_map<idx_t, std::uint32_t>& map() const {
    ensure_map();
    return map_;
  }
  void ensure_map() const;
  std::size_t map_bytes() const { return map_ready_.load() ? map_.size() * 32 : 0; }
  // Copies every mapped array into RAM with room for cap slots (before any write).
  void own_all();
  // The same for any graph: arrays in RAM, sized for max(cap, 1) slots.
  void to_ram();
  bool mapped() const;
  std::size_t mapped_bytes() const;
  // Before the first read of a mapped graph: each section's checksum, then the links
  // (every neighbour id in range), once. Throws CorruptFileError.
  void ensure_all() const;
  // Checks every neighbour list (count and ids); throws CorruptFileError.
  void check_links() const;
  mutable std::unordered_map<idx_t, std::uint32_t> map_;
  mutable std::atomic<bool> map_ready_{true}, links_ok_{true};
  mutable std::mutex map_mu_, links_mu_;
  std::vector<std::uint32_t> free_slots;
  std::size_t nlive = 0, ntomb = 0;

  std::int64_t entry = -1;
  int max_level = -1;
  std::mutex entry_mu;

  bool sq_trained = false;
  std::vector<float> vmin, vscale;
  float uscale = 0.f;  // the scale of every dimension when they are all equal, else 0
  int levels_max() const { return (1 << bits) - 1; }
  // Sets the code width; the codes are reallocated (so only before anything is encoded).
  void set_bits(int b) {
    bits = b;
    cs = cd * std::size_t(b) / 8;
    if (p.quantized) codes.assign(cap * cs, 0);
  }
  void update_uniform() {
    uscale = 0.f;
    if (!sq_trained || vscale.empty() || !(vscale[0] > 0.f)) return;
    for (float v : vscale)
      if (v != vscale[0]) return;
    uscale = vscale[0];
  }
  // Every stored vector equals its decoded code (integer data on the unit grid):
  // exact distances then read the codes, a quarter of the float vectors' bytes.
  bool codes_exact = true;

  static constexpr std::size_t kStripes = 1 << 14;
  std::vector<std::mutex> stripes = std::vector<std::mutex>(kStripes);
  mutable std::shared_mutex rw;  // shared: search and linking; exclusive: layout changes
  std::mutex write_mu;           // one writer (add/remove) at a time

  // Running mean of distance evaluations of unfiltered searches (planner input).
  mutable std::atomic<double> mean_evals{0.0};

  bool is_l2() const { return metric == Metric::L2; }
  std::uint32_t* ll0(std::size_t s) { return &links0[s * (R0 + 1)]; }
  const std::uint32_t* ll0(std::size_t s) const { return &links0[s * (R0 + 1)]; }
  std::uint32_t* ll(std::size_t s, int level) {
    return level == 0 ? ll0(s) : &upper[s][std::size_t(level - 1) * (R + 1)];
  }
  const std::uint32_t* ll(std::size_t s, int level) const {
    return level == 0 ? ll0(s) : &upper[s][std::size_t(level - 1) * (R + 1)];
  }
  std::size_t max_links(int level) const { return level == 0 ? R0 : R; }
  // The stored vector of slot s as floats: in vecs, or decoded into buf (d floats).
  const float* row(std::size_t s, float* buf) const {
    if (coded) {
      kernels().sq_decode(code(s), 8, vmin.data(), vscale.data(), d, buf);
      return buf;
    }
    if (!half) return &vecs[s * d];
    kernels().f16_to_f32(&hvecs[s * d], d, buf);
    return buf;
  }
  // Writes the float copy of slot s (nothing for coded storage: encode writes the code).
  void store_row(std::size_t s, const float* v) {
    if (coded) return;
    if (!half) {
      std::copy(v, v + d, &vecs[s * d]);
      return;
    }
    for (std::size_t j = 0; j < d; ++j) hvecs[s * d + j] = float_to_half(v[j]);
  }
  // Per-thread buffers of d floats for row(): scratch() for a base point, scratch2() for
  // the other side of a distance.
  float* scratch() const {
    thread_local std::vector<float> buf;
    if (buf.size() < d) buf.resize(d);
    return buf.data();
  }
  float* scratch2() const {
    thread_local std::vector<float> buf;
    if (buf.size() < d) buf.resize(d);
    return buf.data();
  }
  float ip_row(const float* q, std::size_t s) const {
    if (coded) return kernels().ip(q, row(s, scratch2()), d);
    return half ? fastscan_kernels().ip_f16(q, &hvecs[s * d], d) : kernels().ip(q, &vecs[s * d], d);
  }
  const std::uint8_t* code(std::size_t s) const { return &codes[s * cs]; }
  std::mutex& lock_of(std::size_t s) { return stripes[s & (kStripes - 1)]; }

  float exact(const float* q, std::size_t s) const {
    if (!is_l2()) return -ip_row(q, s);
    if (coded) return kernels().l2_sq8(q, code(s), vmin.data(), vscale.data(), d);
    return half ? fastscan_kernels().l2_f16(q, &hvecs[s * d], d) : kernels().l2(q, &vecs[s * d], d);
  }
  // Distance between two stored vectors: in the augmented space for IP graphs.
  float exact_pair(std::size_t a, std::size_t b) const { return exact_pair(vec_of(a), a, b); }
  // The same with the floats of a given (va = vec_of(a), decoded once for many b).
  float exact_pair(const float* va, std::size_t a, std::size_t b) const {
    if (!mips) return exact(va, b);
    const float t = aug[a] - aug[b];
    return xnorm[a] + xnorm[b] - 2.f * ip_row(va, b) + t * t;
  }
  // Slot a as floats: in vecs, or decoded into this thread's scratch (valid until the
  // next vec_of or scratch use on the thread).
  const float* vec_of(std::size_t a) const {
    return half || coded ? row(a, scratch()) : &vecs[a * d];
  }
  // Exact distance from a context (query or inserted node) to slot s.
  float exact_ctx(const QueryCtx& c, std::size_t s) const {
    if (!c.node || !mips) return exact(c.q, s);
    const float t = c.qa - aug[s];
    return c.qn + xnorm[s] - 2.f * ip_row(c.q, s) + t * t;
  }
  // v: the vector of s when it is not stored yet (coded storage during an add).
  void set_norms(std::size_t s, const float* v = nullptr) {
    if (!mips) return;
    if (!v) v = row(s, scratch());
    xnorm[s] = kernels().ip(v, v, d);
    aug[s] = std::sqrt(std::max(0.f, mips_m2 - xnorm[s]));
  }

  // Context of a stored node used as the query while it is inserted.
  void prepare_node(QueryCtx& c, std::size_t s) const {
    if (half || coded) c.own.resize(d);
    prepare(c, row(s, c.own.data()));
    c.node = mips;
    c.needs_norm = p.quantized && (is_l2() ? c.shift < 0 : mips);
    if (mips) {
      c.qn = xnorm[s];
      c.qa = aug[s];
    }
  }
  void prepare(QueryCtx& c, const float* q) const {
    c.q = q;
    c.node = false;
    c.shift = -1;  // the context is per thread and shared by every index it searches
    c.needs_norm = false;
    if (!p.quantized) return;
    c.w16.assign(cd, 0);
    float qc = 0.f, qn = 0.f, wmax = 0.f;
    for (std::size_t j = 0; j < d; ++j) {
      qc += q[j] * vmin[j];
      qn += q[j] * q[j];
      wmax = std::max(wmax, std::abs(q[j] * vscale[j]));
    }
    // The largest weight keeps cd * levels * |w| inside int32 (exact integer sums).
    const float lim = float(std::clamp<std::int64_t>(
        std::int64_t(0x7fffffff) / (std::int64_t(cd) * levels_max()), 1, 32767));
    const float inv = wmax > 0 ? lim / wmax : 0.f;
    for (std::size_t j = 0; j < d; ++j)
      c.w16[j] = std::int16_t(std::lrint(q[j] * vscale[j] * inv));
    c.alpha = wmax > 0 ? wmax / lim : 0.f;
    if (exact_from_codes() && !is_l2()) {
      c.wf.resize(d);
      for (std::size_t j = 0; j < d; ++j) c.wf[j] = q[j] * vscale[j];
    }
    c.qc = qc;
    c.qn = qn;
    prepare_fused_l2(c, q);
    c.needs_norm = is_l2() && c.shift < 0;
  }
  // The fused L2 form when every dimension has the same scale and the query is close
  // enough to the data's range for the int16/int32 bounds of l2_u8s16 (else shift = -1
  // and the walk uses the dot product and the stored norm).
  void prepare_fused_l2(QueryCtx& c, const float* q) const {
    c.shift = -1;
    if (!is_l2() || bits != 8 || !(uscale > 0.f)) return;
    double umax = 0.0, uu = 0.0;
    for (std::size_t j = 0; j < d; ++j) {
      const double u = (double(q[j]) - double(vmin[j])) / double(uscale);
      umax = std::max(umax, std::abs(u));
      uu += u * u;
    }
    for (int f = 7; f >= 0; --f) {
      const double t = double(1 << f) * (255.0 + 2.0 * umax) + 1.0;  // bound on |(c << f) - w|
      if (t <= 32767.0 && double(cd) * 255.0 * t < 2147483647.0) {
        c.shift = f;
        break;
      }
    }
    if (c.shift < 0) return;
    const double m = double(2 << c.shift) / double(uscale);
    for (std::size_t j = 0; j < d; ++j)
      c.w16[j] = std::int16_t(std::lrint((double(q[j]) - double(vmin[j])) * m));
    c.fa = float(double(uscale) * double(uscale) / double(1 << c.shift));
    c.fb = float(double(uscale) * double(uscale) * uu);
  }
  float from_dot(const QueryCtx& c, std::int32_t dot, std::size_t s) const {
    const float ip = c.qc + c.alpha * float(dot);
    if (is_l2()) return c.qn - 2.f * ip + cnorm[s];
    if (!c.node) return -ip;
    const float t = c.qa - aug[s];
    return c.qn - 2.f * ip + cnorm[s] + t * t;
  }
  // Exact distance from a query context: from the code when codes are lossless.
  bool exact_from_codes() const { return p.quantized && bits == 8 && (codes_exact || coded); }
  // L2 sums the squared differences to the decoded code (l2_sq8): the expanded
  // |q|^2 - 2 q.x + |x|^2 loses ~1e-5 of |q|^2 + |x|^2 in fp32, more than the accuracy of
  // an exact distance where the neighbours are close relative to their norms.
  float exact_query(const QueryCtx& c, std::size_t s) const {
    if (!exact_from_codes()) return exact(c.q, s);
    if (is_l2()) return kernels().l2_sq8(c.q, code(s), vmin.data(), vscale.data(), d);
    return -(c.qc + kernels().ip_u8(c.wf.data(), code(s), d));
  }
  const char* vec_bytes(std::size_t s) const {
    return half ? reinterpret_cast<const char*>(&hvecs[s * d]) : reinterpret_cast<const char*>(&vecs[s * d]);
  }
  std::size_t vec_size() const { return d * (half ? 2 : sizeof(float)); }
  // Fetches what exact_query(c, s) will read.
  void prefetch_exact(std::size_t s) const {
    const char* v = exact_from_codes() ? reinterpret_cast<const char*>(code(s)) : vec_bytes(s);
    const std::size_t bytes = exact_from_codes() ? cs : vec_size();
    for (std::size_t o = 0; o < bytes; o += 64) __builtin_prefetch(v + o);
  }
  // Traversal distance: SQ8 asymmetric when quantized, else exact.
  float tdist(const QueryCtx& c, std::size_t s) const {
    if (!p.quantized) return exact_ctx(c, s);
    if (c.shift >= 0) return fused_l2(c, kernels().l2_u8s16(code(s), c.w16.data(), cd, c.shift));
    if (bits == 4) return from_dot(c, kernels().dot_u4s16(code(s), c.w16.data(), cd), s);
    return from_dot(c, kernels().dot_u8s16(code(s), c.w16.data(), cd), s);
  }
  void tdist4(const QueryCtx& c, const std::uint32_t* s, float* out) const {
    if (!p.quantized) {
      for (int i = 0; i < 4; ++i) out[i] = exact_ctx(c, s[i]);
      return;
    }
    std::int32_t dots[4];
    if (c.shift >= 0) {
      kernels().l2_u8s16_x4(code(s[0]), code(s[1]), code(s[2]), code(s[3]), c.w16.data(), cd,
                            c.shift, dots);
      for (int i = 0; i < 4; ++i) out[i] = fused_l2(c, dots[i]);
      return;
    }
    if (bits == 4)
      kernels().dot_u4s16_x4(code(s[0]), code(s[1]), code(s[2]), code(s[3]), c.w16.data(), cd, dots);
    else
      kernels().dot_u8s16_x4(code(s[0]), code(s[1]), code(s[2]), code(s[3]), c.w16.data(), cd, dots);
    for (int i = 0; i < 4; ++i) out[i] = from_dot(c, dots[i], s[i]);
  }
  // Scores ids[0, n) in order, in batches of 4 (the last one padded by repeating its
  // last id, so that its loads overlap too), calling f(dist, id) for each.
  template <typename F>
  __attribute__((always_inline)) void score(const QueryCtx& c, const std::uint32_t* ids, std::size_t n, F&& f) const {
    float dist4[4];
    std::size_t i = 0;
    for (; i + 4 <= n; i += 4) {
      tdist4(c, ids + i, dist4);
      for (int j = 0; j < 4; ++j) f(dist4[j], ids[i + j]);
    }
    if (i < n) {
      const std::uint32_t pad[4] = {ids[i], ids[std::min(i + 1, n - 1)], ids[std::min(i + 2, n - 1)],
                                    ids[n - 1]};
      tdist4(c, pad, dist4);
      for (std::size_t j = 0; i + j < n; ++j) f(dist4[j], ids[i + j]);
    }
  }
  // Fetches the neighbour row of slot s on a level (count and ids).
  __attribute__((always_inline)) void prefetch_row(std::size_t s, int level) const {
    const char* row = reinterpret_cast<const char*>(ll(s, level));
    for (std::size_t o = 0; o < (max_links(level) + 1) * sizeof(std::uint32_t); o += 64)
      __builtin_prefetch(row + o);
  }
  static float fused_l2(const QueryCtx& c, std::int32_t v) {
    return std::max(0.f, c.fb + c.fa * float(v));
  }
  void prefetch(const QueryCtx& c, std::size_t s) const {
    const char* p0 = p.quantized ? reinterpret_cast<const char*>(code(s)) : vec_bytes(s);
    const std::size_t bytes = p.quantized ? cs : vec_size();
    for (std::size_t o = 0; o < bytes && o < 512; o += 64) __builtin_prefetch(p0 + o);
    if (c.needs_norm) __builtin_prefetch(&cnorm[s]);
  }

  // Encodes slot s from src (default: its stored vector; coded storage must pass it);
  // true when the code reproduces the vector exactly.
  bool encode(std::size_t s, const float* src = nullptr) {
    const float* v = src ? src : row(s, scratch());
    bool exact_code = true;
    std::uint8_t* c = &codes[s * cs];
    const float top = float(levels_max());
    if (bits == 4) std::memset(c, 0, cs);
    float nn = 0.f;
    for (std::size_t j = 0; j < d; ++j) {
      float t = vscale[j] > 0 ? (v[j] - vmin[j]) / vscale[j] : 0.f;
      t = t < 0.f ? 0.f : (t > top ? top : t);
      const std::uint8_t q = std::uint8_t(t + 0.5f);
      if (bits == 8) {
        c[j] = q;
      } else {  // the dot_u4s16 layout: 64 entries per 32 bytes
        const std::size_t i = j & 63;
        c[(j >> 6) * 32 + (i & 31)] |= std::uint8_t(i < 32 ? q : q << 4);
      }
      const float dec = vmin[j] + vscale[j] * float(q);
      exact_code = exact_code && dec == v[j];
      nn += dec * dec;
    }
    cnorm[s] = nn;
    return exact_code;
  }

  bool eligible(std::size_t s, const std::uint64_t* allow) const {
    return state[s] == kLive && (!allow || bit_test(allow, s));
  }

  void grow(std::size_t new_cap);
  // Code width for the first data added (slots, already stored): 4 or 8 bits.
  int choose_bits(const std::uint32_t* slots, std::size_t n) const;
  // Greedy descent through the upper levels; returns (dist, slot) on level `to`.
  Cand descend(const QueryCtx& c, int from, int to) const;
  // Best-first search of one level; fills res with up to ef eligible candidates, unsorted.
  // dl (null: none) is checked every few hundred distance evaluations (TimeoutError).
  void search_level(const QueryCtx& c, Cand ep, std::size_t ef, int level,
                    const std::uint64_t* allow, bool two_hop, SearchStats* st,
                    std::vector<Cand>& res, const Deadline* dl = nullptr) const;
  void search_level_pool(const QueryCtx& c, Cand ep, std::size_t ef, int level,
                         SearchStats* st, std::vector<Cand>& res, const Deadline* dl = nullptr) const;
  // Unfiltered walks of queries q[0, nq) (rows of d floats), interleaved on the calling
  // thread so that each one's memory latency overlaps the others' work: the same nodes
  // are expanded, in the same order, as by descend + search_level_pool per query.
  // finish(i, ctx, res) receives each query's ef best (ascending) one round after its walk
  // ends, once the exact vectors of the first rerank_fetch were requested (quantized
  // walks); ctx and res are valid only during the call. dl as for search_level.
  void search_interleaved(const float* q, std::size_t nq, std::size_t ef,
                          std::size_t rerank_fetch, SearchStats* st,
                          const std::function<void(std::size_t, const QueryCtx&,
                                                   std::vector<Cand>&)>& finish,
                          const Deadline* dl = nullptr) const;
  void insert(std::uint32_t s);
  // Keeps at most m of cands (sorted ascending by distance to the base point).
  void select_neighbors(std::vector<Cand>& cands, std::size_t m) const;
  void link(std::uint32_t from, std::uint32_t to, float dist, int level);
  void reorder();
  void consolidate();
};

// Scratch visited set, stamped per query (no clearing between queries).
struct Visited {
  std::vector<std::uint16_t> tag;
  std::uint16_t epoch = 0;
  void reset(std::size_t n) {
    if (tag.size() < n) {
      tag.assign(n + n / 4 + 64, 0);
      epoch = 0;
    }
    if (++epoch == 0) {
      std::fill(tag.begin(), tag.end(), 0);
      epoch = 1;
    }
  }
  bool test(std::size_t s) const { return tag[s] == epoch; }
  bool test_set(std::size_t s) {
    if (tag[s] == epoch) return true;
    tag[s] = epoch;
    return false;
  }
};
Visited& tls_visited();

}  // namespace warpsearch::detail
