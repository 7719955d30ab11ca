// SPDX-FileCopyrightText: 2026 warpsearch contributors
// SPDX-License-Identifier: Apache-2.0
// IVF-PQ search, second half: re-ranking of the candidate heaps (refine store, or the
// float LUT when 4-bit codes were scored with uint8 tables) and the exhaustive plan over
// a small allowed set.
#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

#include "common/bitset.hpp"
#include "common/topk.hpp"
#include "ivf_pq/searcher.hpp"
#include "storage/mapped_file.hpp"

namespace warpsearch::detail {
namespace {

// Refine records fetched ahead of use, counted along a batch's list of them (memory
// latency over the records' compute time; deeper lists add little, shallower ones
// leave misses unhidden).
constexpr std::size_t kRecordsAhead = 16;

// A thread that requests its batches' record pages ahead skips the request on every
// kProbeEvery-th batch, to see whether its records still come from the file.
constexpr std::uint32_t kProbeEvery = 16;

// Major page faults of the calling thread so far (pages read from a file), or 0 where
// the system does not count them per thread.
long thread_major_faults() {
#ifdef RUSAGE_THREAD
  rusage ru{};
  if (::getrusage(RUSAGE_THREAD, &ru) == 0) return ru.ru_majflt;
#endif
  return 0;
}

// Asks the kernel to read the pages of the records now, all together (they are then
// found in memory by the re-rank instead of being read one fault at a time).
void request_pages(const std::vector<const std::uint8_t*>& recs, std::size_t bytes) {
  static const std::uintptr_t page = std::uintptr_t(::sysconf(_SC_PAGESIZE));
  std::uintptr_t last = ~std::uintptr_t(0);  // the page requested last
  for (const std::uint8_t* r : recs) {
    const auto a = reinterpret_cast<std::uintptr_t>(r);
    if (a / page == last && (a + bytes - 1) / page == last) continue;  // on that page
    advise_pages(r, bytes, MADV_WILLNEED);
    last = (a + bytes - 1) / page;
  }
}

inline void fetch_record(const std::uint8_t* r, std::size_t bytes) {
  const char* p = reinterpret_cast<const char*>(r);
  for (std::size_t o = 0; o < bytes; o += 64) __builtin_prefetch(p + o);
  __builtin_prefetch(p + bytes - 1);  // the last line of a record that straddles one more
}

}  // namespace

void Searcher::rerank_batch(const float* q, std::size_t nb, Scratch& c, float* D, idx_t* I,
                            SearchStats& st, DeadlineTicker& tk) const {
  // Re-ranking reads scattered records: they are fetched a fixed distance ahead along
  // the whole batch's list of them (see list_records). From a memory-mapped store whose
  // pages are not all in memory (an index larger than RAM, or a cold page cache), each
  // record would be read from the file by its own page fault, one after another: when
  // this thread's last batch faulted on more than 1 in 64 of its records, the batch's
  // record pages are requested together first, and every kProbeEvery-th batch goes
  // without the request to measure again. In RAM, or with the file in the page cache,
  // this costs two getrusage calls per batch; the check of whether the store is mapped
  // is made as the records are listed.
  const bool mapped = s_.p.refine != Refine::None && list_records(nb, c);
  bool requested = false;
  long faults = 0;
  if (mapped) {
    requested = c.page_faulting && (++c.mapped_batches % kProbeEvery) != 0;
    if (requested)
      request_pages(c.recs, s_.refine_bytes);
    else
      faults = thread_major_faults();
  }
  const std::size_t d = s_.d;
  for (std::size_t qi = 0; qi < nb; ++qi) {
    tk.tick(c.heaps[qi].size() * 16);  // a re-rank distance: about 16 codes' worth
    finish_query(q + qi * d, qi, c, D + qi * k_, I + qi * k_, st);
  }
  if (mapped && !requested) c.page_faulting = (thread_major_faults() - faults) * 64 > long(c.recs.size());
}

bool Searcher::list_records(std::size_t nb, Scratch& c) const {
  const std::size_t rb = s_.refine_bytes;
  bool mapped = false;
  c.recs.clear();
  c.rec_start.resize(nb + 1);
  for (std::size_t qi = 0; qi < nb; ++qi) {
    c.rec_start[qi] = std::uint32_t(c.recs.size());
    const CandHeap& h = c.heaps[qi];
    const idx_t* keys = h.keys();
    const std::int32_t* ci = &c.ci[qi * nprobe_];
    for (std::size_t x = 0; x < h.size(); ++x) {
      const auto& store = s_.lists[std::size_t(ci[key_probe(keys[x])])].refine;
      mapped = mapped || store.mapped();
      c.recs.push_back(&store[key_pos(keys[x]) * rb]);
    }
  }
  c.rec_start[nb] = std::uint32_t(c.recs.size());
  for (std::size_t g = 0; g < std::min(c.recs.size(), kRecordsAhead); ++g) fetch_record(c.recs[g], rb);
  return mapped;
}

Searcher::Query Searcher::query(const float* q, Scratch& c) const {
  Query qq{q};
  if (s_.p.refine == Refine::SQ8) {
    c.qw.resize(s_.d);
    for (std::size_t j = 0; j < s_.d; ++j) {
      c.qw[j] = q[j] * s_.sq_scale[j];
      qq.qmin += q[j] * s_.sq_min[j];
      qq.qn += q[j] * q[j];
    }
  }
  return qq;
}

float Searcher::refine_dist(const Query& qq, const std::uint8_t* rec, const Scratch& c) const {
  const std::size_t d = s_.d;
  switch (s_.p.refine) {
    case Refine::FP32: {
      const float* v = reinterpret_cast<const float*>(rec);
      return s_.ip() ? -K_.ip(qq.q, v, d) : K_.l2(qq.q, v, d);
    }
    case Refine::FP16: {
      const std::uint16_t* v = reinterpret_cast<const std::uint16_t*>(rec);
      return s_.ip() ? -F_.ip_f16(qq.q, v, d) : F_.l2_f16(qq.q, v, d);
    }
    case Refine::SQ8: {
      const float dot = qq.qmin + K_.ip_u8(c.qw.data(), rec, d);
      if (s_.ip()) return -dot;
      float nn;
      std::memcpy(&nn, rec + d, sizeof nn);
      return std::max(0.f, qq.qn - 2.f * dot + nn);
    }
    case Refine::None: break;
  }
  return 0.f;
}

void Searcher::finish_query(const float* q, std::size_t qi, Scratch& c, float* D, idx_t* I,
                            SearchStats& st) const {
  const CandHeap& h = c.heaps[qi];
  const int cnt = int(h.size());
  const idx_t* keys = h.keys();
  const std::int32_t* ci = &c.ci[qi * nprobe_];
  auto list_of = [&](int x) { return std::size_t(ci[key_probe(keys[x])]); };
  TopK<idx_t> top(D, I, int(k_));
  if (s_.p.refine != Refine::None) {
    const std::size_t rb = s_.refine_bytes, g0 = c.rec_start[qi], total = c.recs.size();
    const Query qq = query(q, c);
    for (int x = 0; x < cnt; ++x) {
      const std::size_t g = g0 + std::size_t(x);
      if (g + kRecordsAhead < total) fetch_record(c.recs[g + kRecordsAhead], rb);
      const float dist = refine_dist(qq, c.recs[g], c);
      if (dist < top.threshold()) top.push(dist, keys[x]);
    }
    st.distance_evals += std::uint64_t(cnt);
    st.refine_bytes += std::uint64_t(cnt) * rb;
  } else if (kc_ > k_) {  // 4-bit codes: exact float LUT distances of the candidates
    const std::size_t m = s_.m;
    const float* qt = &c.qtab[qi * m * 16];
    for (int x = 0; x < cnt; ++x) {
      const std::size_t l = list_of(x), p = key_pos(keys[x]);
      s_.get_code(l, p, c.code.data());
      float dist = c.cd[qi * nprobe_ + key_probe(keys[x])];
      if (s_.cell_tables()) {
        const float* pt = &s_.ptab[l * m * 16];
        dist += s_.psum_min[l] + c.qbias[qi];
        for (std::size_t j = 0; j < m; ++j) dist += pt[j * 16 + c.code[j]] + qt[j * 16 + c.code[j]];
      } else {
        for (std::size_t j = 0; j < m; ++j) dist += qt[j * 16 + c.code[j]];
      }
      if (dist < top.threshold()) top.push(dist, keys[x]);
    }
  } else {  // 8-bit codes: the heap holds the final distances
    const float* d = h.dists();
    for (int x = 0; x < cnt; ++x) top.push(d[x], keys[x]);
  }
  // The heap ranks candidate keys; only the results' ids are looked up (a cache miss
  // each, for every candidate that entered on the way), their loads issued together.
  const int n = top.finish();
  auto id_of = [&](idx_t key) { return &s_.lists[std::size_t(ci[key_probe(key)])].ids[key_pos(key)]; };
  for (int j = 0; j < n; ++j) __builtin_prefetch(id_of(I[j]));
  for (int j = 0; j < n; ++j) I[j] = *id_of(I[j]);
}

void Searcher::brute(const float* q, Scratch& c, float* D, idx_t* I, SearchStats& st) const {
  TopK<idx_t> heap(D, I, int(k_));
  const std::size_t m = s_.m, ksub = s_.ksub;
  const bool exact = s_.p.refine != Refine::None;
  c.flut.resize(m * ksub);
  c.rq.resize(s_.d);
  c.code.resize(m);
  const Query qq = query(q, c);
  const float* qc = s_.pq_space(q, 1, c.qrot);
  if (!exact && s_.ip()) F_.lut_ip(qc, s_.cbt.data(), m, s_.dsub, ksub, c.flut.data());
  DeadlineTicker tk(dl_, kDeadlineCodes);
  tk.check();
  for (std::size_t l = 0; l < s_.lists.size(); ++l) {
    tk.tick(s_.lists[l].size());
    exact_cell(qq, qc, l, c, heap, st);
  }
  heap.finish();
}

}  // namespace warpsearch::detail
