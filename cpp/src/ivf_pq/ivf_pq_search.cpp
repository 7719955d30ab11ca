// SPDX-FileCopyrightText: 2026 warpsearch contributors
// SPDX-License-Identifier: Apache-2.0
// IvfPqIndex::search: filter, plan (IVF or exhaustive over a small allowed set), threads.
// The algorithm itself is in searcher.cpp.
#include <algorithm>
#include <cmath>
#include <limits>
#include <mutex>

#include "common/bitset.hpp"
#include "common/vector_ops.hpp"
#include "ivf_pq/searcher.hpp"
#include "warpsearch/errors.hpp"
#include "warpsearch/threads.hpp"

namespace warpsearch {
namespace detail {
namespace {

constexpr int kPlanIvf = 0, kPlanBrute = 1, kPlanFilteredIvf = 2;

}  // namespace
}  // namespace detail

Bitset IvfPqIndex::allow_slots(const Filter& f, const std::vector<std::size_t>& base,
                               std::size_t& allowed) const {
  const auto& s = *s_;
  if (f.use_ids) s.ensure_map();
  std::vector<idx_t> slot_ids;
  if (f.use_mask) {
    slot_ids.reserve(s.n);
    for (const auto& L : s.lists) slot_ids.insert(slot_ids.end(), L.ids.begin(), L.ids.end());
  }
  Bitset bits = make_allow(
      f, s.n, [&](std::size_t slot) { return slot_ids[slot]; },
      [&](idx_t id) -> std::int64_t {
        const std::uint64_t loc = s.map.find(id);
        if (loc == detail::IdMap::kNone) return -1;
        return std::int64_t(base[detail::loc_list(loc)] + detail::loc_pos(loc));
      });
  allowed = 0;
  for (std::size_t w = 0; w < detail::bit_words(s.n); ++w) allowed += std::size_t(__builtin_popcountll(bits[w]));
  return bits;
}

IvfPqIndex::SearchPlan IvfPqIndex::plan_search(const SearchParams& params,
                                                const IvfSearchParams& ivf) const {
  const auto& s = *s_;
  const std::size_t k = std::size_t(params.k), nlist = s.lists.size();
  SearchPlan p;
  const std::size_t nominal = std::min(std::size_t(ivf.nprobe), nlist);
  p.nprobe = nominal;
  if (ivf.adaptive) s.gaps.plan(std::size_t(ivf.nprobe), nlist, p.nprobe, p.gap);
  // Candidates kept for re-ranking (none needed when 8-bit codes give the final distances).
  p.kc = k;
  if (s.p.refine != Refine::None || s.fast_scan())
    p.kc = params.rerank > 0 ? std::max(k, std::size_t(params.rerank)) : k * std::size_t(ivf.refine_factor);
  p.base.assign(nlist + 1, 0);
  for (std::size_t l = 0; l < nlist; ++l) p.base[l + 1] = p.base[l] + s.lists[l].size();
  p.allowed = s.n;
  if (params.filter.active()) p.allow_bits = allow_slots(params.filter, p.base, p.allowed);
  // The exhaustive plan when scoring every allowed vector costs less than scanning the
  // planned cells' codes (an even share of them). A cost rule, not a recall one: cells
  // that hold too few allowed vectors for a query are widened by a bound (see
  // searcher_widen.cpp), and a larger nprobe never leaves the exact plan for the
  // approximate one.
  p.brute = p.allow() && p.allowed * detail::kExactCodeRatio <= s.n * nominal / nlist;
  return p;
}

void IvfPqIndex::search(const float* q, std::size_t nq, const SearchParams& params, float* D,
                        idx_t* I, SearchStats* stats) const {
  IvfSearchParams sp;
  {
    std::shared_lock lk(s_->mu);
    sp = s_->defaults;
  }
  search_ivf(q, nq, params, sp, D, I, stats);
}

void IvfPqIndex::search_ivf(const float* q, std::size_t nq, const SearchParams& params,
                            const IvfSearchParams& ivf, float* D, idx_t* I,
                            SearchStats* stats) const {
  WS_EXPECTS(params.k > 0, "k must be > 0, got ", params.k);
  WS_EXPECTS(ivf.nprobe >= 1, "nprobe must be >= 1, got ", ivf.nprobe);
  WS_EXPECTS(ivf.refine_factor >= 1, "refine_factor must be >= 1, got ", ivf.refine_factor);
  // Checked per batch of queries, and in the scans every few thousand codes.
  const detail::Deadline dl(params);
  std::shared_lock lk(s_->mu);
  dl.check();
  const auto& s = *s_;
  s.ensure_all();  // mapped lists: each section's checksum, once
  // as add(): an untrained index has no cells to probe (padding would look like a result)
  WS_EXPECTS(s.trained, "the index is not trained: call train() before search()");
  const std::size_t k = std::size_t(params.k), d = s.d;
  const SearchPlan sp = plan_search(params, ivf);
  const std::size_t nprobe = sp.nprobe, kc = sp.kc, allowed = sp.allowed;
  const std::vector<std::size_t>& base = sp.base;
  const std::uint64_t* allow = sp.allow();
  const bool brute = sp.brute;
  const int plan = brute ? detail::kPlanBrute : allow ? detail::kPlanFilteredIvf : detail::kPlanIvf;

  std::vector<float> qbuf;
  q = detail::query_rows(q, nq, d, metric_, qbuf);

  detail::Searcher searcher(s, k, kc, nprobe, sp.gap, allow, base, &dl);
  // Filtered IVF: allowed vectors per cell, for the widening after the planned probes
  // (see searcher_widen.cpp); a filter is not assumed to be spread evenly over the cells.
  std::vector<std::uint32_t> cell_allowed;
  if (allow && !brute) {
    cell_allowed.resize(s.lists.size());
    for (std::size_t l = 0; l < s.lists.size(); ++l)
      cell_allowed[l] = std::uint32_t(detail::count_bits(allow, base[l], base[l + 1]));
    searcher.set_widening(&cell_allowed, allowed);
  }
  const std::size_t threads = std::size_t(get_num_threads());
  // Large batches share each cell's codes between more queries; enough batches keep
  // every thread busy: as many as the batch limit needs, at least one per thread, a
  // multiple of the threads, of equal size (a short last one would read its cells for
  // few queries).
  const std::size_t cap = searcher.batch_size();
  std::size_t ngroups = std::max(threads, (nq + cap - 1) / cap);
  ngroups = std::min(nq, (ngroups + threads - 1) / threads * threads);
  const std::size_t group = ngroups == 0 ? 1 : (nq + ngroups - 1) / ngroups;
  ngroups = (nq + group - 1) / group;
  std::vector<SearchStats> tstats(ngroups);
  parallel_for(ngroups, [&](std::size_t g, int) {
    const std::size_t q0 = g * group, q1 = std::min(nq, q0 + group);
    SearchStats& st = tstats[g];
    if (s.n == 0) {  // nothing to find: padded rows
      for (std::size_t i = q0 * k; i < q1 * k; ++i) {
        D[i] = std::numeric_limits<float>::infinity();
        I[i] = -1;
      }
      return;
    }
    thread_local detail::Scratch c;
    if (brute) {
      for (std::size_t qi = q0; qi < q1; ++qi) searcher.brute(q + qi * d, c, D + qi * k, I + qi * k, st);
    } else {
      searcher.search(q + q0 * d, q1 - q0, c, D + q0 * k, I + q0 * k, st);
    }
  });
  finalize_distances(D, I, nq * k);
  if (stats) {
    for (const auto& t : tstats) {
      stats->distance_evals += t.distance_evals;
      stats->nodes_visited += t.nodes_visited;
      stats->queries_widened += t.queries_widened;
      stats->cells_widened += t.cells_widened;
      stats->cells_exact += t.cells_exact;
      stats->queries_exact += t.queries_exact;
      stats->refine_bytes += t.refine_bytes;
    }
    stats->allowed = allowed;
    stats->plan = plan;
    stats->adaptive = !brute && sp.gap >= 0.f;
  }
}

}  // namespace warpsearch
