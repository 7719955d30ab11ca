// SPDX-FileCopyrightText: 2026 warpsearch contributors
// SPDX-License-Identifier: Apache-2.0
#pragma once
// The search algorithm of IvfPqIndex over its private state (ivf_pq_impl.hpp).
//
// Queries are searched in batches, cell by cell: after the coarse step, the (query,
// probe) pairs of a batch are grouped by cell, so each cell's codes and tables are read
// from memory once and reused from cache by every query that probes it (the scan is
// bound by memory bandwidth when every query streams its own cells).
#include <cstdint>
#include <limits>
#include <utility>
#include <vector>

#include "common/deadline.hpp"
#include "common/topk.hpp"
#include "ivf_pq/ivf_pq_impl.hpp"
#include "simd/distance.hpp"
#include "simd/fastscan.hpp"

namespace warpsearch::detail {

// One final distance of an allowed vector (a refine record, or a per-cell table read)
// costs about as much as scanning this many codes: cells (and allowed sets) with fewer
// allowed vectors than 1 in kExactCodeRatio are scored vector by vector.
inline constexpr std::size_t kExactCodeRatio = 16;

// Candidate keys: probe rank in the high 32 bits, position in the cell in the low 32.
inline idx_t cand_key(std::size_t probe, std::size_t pos) {
  return idx_t((std::uint64_t(probe) << 32) | pos);
}
inline std::size_t key_probe(idx_t k) { return std::size_t(std::uint64_t(k) >> 32); }
inline std::size_t key_pos(idx_t k) { return std::size_t(std::uint64_t(k) & 0xffffffffu); }

// A max-heap of the kc smallest distances over caller storage (2 kc + 2 slots). The
// sift-down runs a fixed number of levels with conditional moves instead of branches:
// hundreds of codes per query pass the fast-scan threshold, and a branchy heap
// mispredicts on most of them.
class CandHeap {
 public:
  void reset(float* d, idx_t* key, std::size_t kc) {
    d_ = d;
    k_ = key;
    kc_ = kc;
    n_ = 0;
    levels_ = 0;
    while ((std::size_t(1) << levels_) <= kc) ++levels_;
    for (std::size_t i = 0; i < 2 * kc + 2; ++i) d_[i] = -std::numeric_limits<float>::infinity();
  }
  float threshold() const { return n_ < kc_ ? std::numeric_limits<float>::infinity() : d_[0]; }
  std::size_t size() const { return n_; }
  const float* dists() const { return d_; }
  const idx_t* keys() const { return k_; }
  // Caller checked dist < threshold().
  void push(float dist, idx_t key) {
    if (n_ < kc_) {  // filling: sift up
      std::size_t j = n_++;
      while (j > 0 && d_[(j - 1) / 2] < dist) {
        d_[j] = d_[(j - 1) / 2];
        k_[j] = k_[(j - 1) / 2];
        j = (j - 1) / 2;
      }
      d_[j] = dist;
      k_[j] = key;
      return;
    }
    std::size_t j = 0;
    bool go = true;
    for (int lv = 0; lv < levels_; ++lv) {  // children past the end hold -inf
      const std::size_t c = 2 * j + 1;
      const std::size_t c2 = c + (d_[c + 1] > d_[c]);
      const bool mv = go & (d_[c2] > dist);
      const float dv = mv ? d_[c2] : d_[j];
      const idx_t kv = mv ? k_[c2] : k_[j];
      d_[j] = dv;
      k_[j] = kv;
      j = mv ? c2 : j;
      go = mv;
    }
    d_[j] = dist;
    k_[j] = key;
  }

 private:
  float* d_ = nullptr;
  idx_t* k_ = nullptr;
  std::size_t kc_ = 0, n_ = 0;
  int levels_ = 0;
};

// Per-task buffers, reused across batches.
struct Scratch {
  std::vector<float> qtab;    // per query: float LUT (IP, 4-bit L2 shared part)
  std::vector<float> qrange;  // per query and sub-quantizer: LUT row ranges (4-bit L2)
  std::vector<std::int16_t> qtab16;  // per query: qtab in the fixed point of ptab16
  std::vector<std::uint8_t> qfix;    // per query: qtab16 is usable (its range fits)
  std::vector<float> qbias, qscale;    // per query: LUT bias / uint8 scale
  std::vector<std::uint8_t> qlut8;     // per query: uint8 LUT (4-bit IP)
  std::vector<float> hd;               // per query: heap distances
  std::vector<idx_t> hk;               // per query: heap keys
  std::vector<CandHeap> heaps;
  std::vector<std::uint32_t> pair_start, pairs;  // (query, probe) pairs grouped by cell
  std::vector<float> cd, flut, rq, qw, res_d, qrot, qgap;  // qgap: adaptive probing bound per query
  std::vector<std::int32_t> ci;
  std::vector<idx_t> res_k;
  std::vector<std::uint8_t> lut8, code;
  std::vector<std::uint32_t> pos;
  std::vector<std::uint8_t> lutg;  // uint8 tables of the queries scanned together
  std::vector<std::uint32_t> mpos;
  std::vector<std::uint16_t> msum;
  std::vector<std::uint16_t> sum;
  std::vector<std::pair<float, idx_t>> sorted;
  // Refine records of every candidate of a batch, in (query, candidate) order; query i's
  // start at rec_start[i].
  std::vector<const std::uint8_t*> recs;
  std::vector<std::uint32_t> rec_start;
  // Reads of a memory-mapped refine store (see Searcher::rerank_batch): whether this
  // thread's recent batches faulted on their records (then a batch's record pages are
  // requested together before its re-rank), and batches re-ranked so far.
  bool page_faulting = false;
  std::uint32_t mapped_batches = 0;
  // Widening (searcher_widen.cpp): the batch's probed cells, a mark per cell, the cells
  // left to bound (lower bound, cell), the cells of a round, merged and round results.
  std::vector<std::int32_t> probed;
  std::vector<std::uint8_t> wmark;
  std::vector<std::pair<float, std::uint32_t>> wcand;
  std::vector<std::uint32_t> wcells;
  std::vector<float> wd, wd2, wrot;
  std::vector<idx_t> wi, wi2;
};

class Searcher {
 public:
  // nprobe: cells considered per query; gap >= 0: those farther than gap beyond the
  // nearest one are skipped (adaptive probing, see ProbeGaps). dl (null: none): the
  // search's deadline, checked every kDeadlineCodes codes scanned (TimeoutError).
  Searcher(const IvfPqState& s, std::size_t k, std::size_t kc, std::size_t nprobe, float gap,
           const std::uint64_t* allow, const std::vector<std::size_t>& base,
           const Deadline* dl = nullptr);

  // Queries that share one pass over their cells (bounded by the per-query tables).
  std::size_t batch_size() const;
  // IVF plan for nb queries (row-major, normalized for cosine); D/I are nb x k.
  // scan_pair and prepare_query take the queries in the codebooks' space (pq_space).
  void search(const float* q, std::size_t nb, Scratch& c, float* D, idx_t* I,
              SearchStats& st) const;
  // Exhaustive plan over the allowed vectors, one query.
  void brute(const float* q, Scratch& c, float* D, idx_t* I, SearchStats& st) const;
  // Filtered search: after the planned probes, search() also probes every other cell
  // that holds allowed vectors (cell_allowed[l] of them in cell l) and whose bound could
  // still beat the query's k-th result (see searcher_widen.cpp). The vector must outlive
  // the searcher; null (the default): no widening.
  void set_widening(const std::vector<std::uint32_t>* cell_allowed, std::size_t allowed) {
    cell_allowed_ = cell_allowed;
    allowed_total_ = allowed;
  }

 private:
  struct Query {
    const float* q;
    float qn = 0.f;    // |q|^2 (sq8 refine, L2)
    float qmin = 0.f;  // q . sq_min (sq8 refine)
  };

  void prepare_query(const float* q, std::size_t qi, Scratch& c) const;
  // Everything after the coarse step: scans the cells in c.ci (nb x nprobe_, -1: none,
  // distance offsets in c.cd) and writes the results.
  void scan_batch(const float* q, std::size_t nb, Scratch& c, float* D, idx_t* I,
                  SearchStats& st) const;
  // The widening of a batch's results (see set_widening).
  void widen(const float* q, std::size_t nb, Scratch& c, float* D, idx_t* I, SearchStats& st) const;
  // Final distances of cell l's allowed vectors into top (for cells with few of them).
  void exact_cell(const Query& qq, const float* qc, std::size_t l, Scratch& c, TopK<idx_t>& top,
                  SearchStats& st) const;
  // uint8 table of query qi in cell l (4-bit L2); returns its scale, and the distance
  // offset it leaves out in *bias.
  float cell_lut(std::size_t l, std::size_t qi, Scratch& c, std::uint8_t* out, float* bias) const;
  void scan_pair(const float* q, std::size_t qi, std::size_t pi, Scratch& c, SearchStats& st) const;
  // 4-bit codes of cell l for a group of (query, probe) pairs at once.
  // pairs[g..avail) are the batch's pairs after this group (their tables are fetched ahead).
  void scan_cell(std::size_t l, const std::uint32_t* pairs, std::size_t g, std::size_t avail,
                 Scratch& c, SearchStats& st) const;
  // Starts loading the per-query data that the pair x will read.
  void fetch_pair(std::uint32_t x, const Scratch& c) const;
  void scan4(std::size_t l, std::size_t pi, float base, float scale, const std::uint8_t* lut8,
             Scratch& c, CandHeap& heap) const;
  void scan8(std::size_t l, std::size_t pi, float base, const float* fl, CandHeap& heap) const;
  // Lists the refine records of the batch's candidates (Scratch::recs) and fetches the
  // first ones; true when the refine store is memory-mapped.
  bool list_records(std::size_t nb, Scratch& c) const;
  // Re-ranks the batch's candidate heaps into the results (refine store or float LUT).
  void rerank_batch(const float* q, std::size_t nb, Scratch& c, float* D, idx_t* I,
                    SearchStats& st, DeadlineTicker& tk) const;
  void finish_query(const float* q, std::size_t qi, Scratch& c, float* D, idx_t* I,
                    SearchStats& st) const;
  Query query(const float* q, Scratch& c) const;
  float refine_dist(const Query& qq, const std::uint8_t* rec, const Scratch& c) const;

  const IvfPqState& s_;
  const FastScanKernels& F_;
  const Kernels& K_;
  std::size_t k_, kc_, nprobe_;  // nprobe_: cells considered per query
  float gap_;                    // adaptive probing (see ProbeGaps); < 0: none
  const std::uint64_t* allow_;
  const std::vector<std::size_t>& base_;
  const Deadline* dl_;
  const std::vector<std::uint32_t>* cell_allowed_ = nullptr;  // null: no widening
  std::size_t allowed_total_ = 0;                             // allowed vectors in all
};

// Codes scanned between two reads of the clock (a PQ code costs a fraction of a float
// distance: 16K of them take several microseconds).
constexpr std::ptrdiff_t kDeadlineCodes = 16384;

}  // namespace warpsearch::detail
