// SPDX-FileCopyrightText: 2026 warpsearch contributors
// SPDX-License-Identifier: Apache-2.0
// HNSW search: greedy descent, best-first level search (plain or filter-aware with
// two-hop expansion), the filter planner, and exact re-rank.
#include <algorithm>
#include <atomic>
#include <cmath>
#include <functional>

#include "common/topk.hpp"
#include "hnsw/hnsw_impl.hpp"
#include "warpsearch/errors.hpp"
#include "warpsearch/threads.hpp"

namespace warpsearch::detail {

Visited& tls_visited() {
  thread_local Visited v;
  return v;
}

namespace {
// Reads a neighbour list that a writer may be rewriting: the count is clamped and
// every id read is a slot that was fully written before it was linked.
inline std::size_t read_list(const std::uint32_t* l, std::size_t maxn, std::uint32_t* out) {
  std::size_t n = std::atomic_ref<const std::uint32_t>(l[0]).load(std::memory_order_acquire);
  n = std::min(n, maxn);
  for (std::size_t i = 0; i < n; ++i)
    out[i] = std::atomic_ref<const std::uint32_t>(l[1 + i]).load(std::memory_order_relaxed);
  return n;
}
}  // namespace

Cand HnswGraph::descend(const QueryCtx& c, int from, int to) const {
  std::uint32_t cur = std::uint32_t(entry);
  float dcur = tdist(c, cur);
  std::uint32_t buf[256];
  for (int level = from; level > to; --level) {
    bool changed = true;
    while (changed) {
      changed = false;
      const std::size_t n = read_list(ll(cur, level), R, buf);
      for (std::size_t i = 0; i < n; ++i) {
        const float dd = tdist(c, buf[i]);
        if (dd < dcur) {
          dcur = dd;
          cur = buf[i];
          changed = true;
        }
      }
    }
  }
  return {dcur, cur};
}

namespace {
struct LevelScratch {
  std::vector<Cand> cand;  // min-heap on distance
  std::vector<std::uint32_t> nb, hop, todo;
};
}  // namespace

void HnswGraph::search_level(const QueryCtx& c, Cand ep, std::size_t ef, int level,
                             const std::uint64_t* allow, bool two_hop, SearchStats* st,
                             std::vector<Cand>& res) const {
  Visited& vis = tls_visited();
  vis.reset(nslots);
  thread_local LevelScratch sc;
  const std::size_t maxn = max_links(level);
  const std::size_t cap_hop = 2 * maxn;
  auto& cand = sc.cand;
  cand.clear();
  res.clear();  // max-heap on distance, at most ef eligible entries
  // Without a filter or tombstones every linked node is a result candidate.
  const bool all_eligible = !allow && ntomb == 0;
  auto ok = [&](std::uint32_t s) { return all_eligible || eligible(s, allow); };
  auto cand_less = [](const Cand& a, const Cand& b) { return a.first > b.first; };
  std::uint64_t evals = 1, expanded = 0;

  vis.test_set(ep.second);
  cand.push_back(ep);
  if (ok(ep.second)) res.push_back(ep);
  float worst = res.size() >= ef ? res.front().first : INFINITY;

  auto& nb = sc.nb;
  auto& hop = sc.hop;
  auto& todo = sc.todo;
  nb.resize(maxn);
  hop.resize(maxn);
  todo.reserve(cap_hop + 4);
  float dist4[4];
  while (!cand.empty()) {
    std::pop_heap(cand.begin(), cand.end(), cand_less);
    const Cand cur = cand.back();
    cand.pop_back();
    if (cur.first > worst && res.size() >= ef) break;
    if (!cand.empty()) {  // the next node to expand: fetch its whole neighbour row now
      const char* row = reinterpret_cast<const char*>(ll(cand.front().second, level));
      for (std::size_t o = 0; o < (maxn + 1) * 4; o += 64) __builtin_prefetch(row + o);
    }
    ++expanded;
    const std::size_t n = read_list(ll(cur.second, level), maxn, nb.data());
    todo.clear();
    for (std::size_t i = 0; i < n; ++i) {
      const std::uint32_t s = nb[i];
      if (vis.test_set(s)) continue;
      if (!two_hop || ok(s)) {
        todo.push_back(s);
        prefetch(s);
        continue;
      }
      // Filtered out: step through it to its eligible neighbours.
      if (todo.size() >= cap_hop) continue;
      const std::size_t n2 = read_list(ll(s, level), maxn, hop.data());
      for (std::size_t j = 0; j < n2 && todo.size() < cap_hop; ++j) {
        const std::uint32_t s2 = hop[j];
        if (ok(s2) && !vis.test_set(s2)) {
          todo.push_back(s2);
          prefetch(s2);
        }
      }
    }
    evals += todo.size();
    std::size_t i = 0;
    auto consider = [&](std::uint32_t s, float dd) __attribute__((always_inline)) {
      if (res.size() < ef || dd < worst) {
        cand.emplace_back(dd, s);
        std::push_heap(cand.begin(), cand.end(), cand_less);
        if (ok(s)) {
          res.emplace_back(dd, s);
          std::push_heap(res.begin(), res.end());
          if (res.size() > ef) {
            std::pop_heap(res.begin(), res.end());
            res.pop_back();
          }
          if (res.size() >= ef) worst = res.front().first;
        }
      }
    };
    for (; i + 4 <= todo.size(); i += 4) {
      tdist4(c, &todo[i], dist4);
      for (int j = 0; j < 4; ++j) consider(todo[i + j], dist4[j]);
    }
    for (; i < todo.size(); ++i) consider(todo[i], tdist(c, todo[i]));
  }
  if (st) {
    st->distance_evals += evals;
    st->nodes_visited += expanded;
  }
}

}  // namespace warpsearch::detail

namespace warpsearch {

void HnswIndex::search(const float* q, std::size_t nq, const SearchParams& params, float* D,
                       idx_t* I, SearchStats* stats) const {
  WS_EXPECTS(params.k > 0, "k must be > 0, got ", params.k);
  WS_EXPECTS(params.ef > 0, "ef must be > 0, got ", params.ef);
  std::shared_lock lk(g_->rw);
  const auto& g = *g_;
  const std::size_t d = g.d, k = std::size_t(params.k);
  const std::size_t ef = std::max<std::size_t>(std::size_t(params.ef), k);

  Bitset allow_bits;
  std::size_t nallowed = g.nlive;
  if (params.filter.active()) {
    allow_bits = make_allow(
        params.filter, g.nslots, [&](std::size_t s) { return g.state[s] == detail::kLive ? g.labels[s] : idx_t(-1); },
        [&](idx_t id) -> std::int64_t {
          auto it = g.map.find(id);
          return it == g.map.end() ? -1 : std::int64_t(it->second);
        });
    nallowed = 0;
    for (auto w : allow_bits) nallowed += std::size_t(__builtin_popcountll(w));
  }
  const std::uint64_t* allow = allow_bits.empty() ? nullptr : allow_bits.data();

  // Planner: exact scan of the allowed set when it costs less than a graph walk
  // (the walk's cost is learned from unfiltered searches on this index), a
  // filter-aware walk with two-hop expansion at low selectivity, else a plain walk.
  int plan = 0;
  if (allow) {
    const double sel = g.nlive ? double(nallowed) / double(g.nlive) : 0.0;
    double walk = g.mean_evals.load();
    if (walk <= 0) walk = double(ef) * double(g.R0) * 0.5;
    // quantized steps are cheaper than exact ones; low selectivity walks cost more.
    const double walk_cost = walk * (g.p.quantized ? 0.5 : 1.0) / std::max(sel, 1e-3);
    if (double(nallowed) <= walk_cost) plan = 1;
    else plan = sel < 0.3 ? 2 : 0;
  }

  std::atomic<std::uint64_t> evals{0}, visited{0};
  std::vector<float> qn(metric_ == Metric::Cosine ? nq * d : 0);
  if (metric_ == Metric::Cosine) {
    for (std::size_t i = 0; i < nq; ++i) {
      double s = 0;
      for (std::size_t j = 0; j < d; ++j) s += double(q[i * d + j]) * q[i * d + j];
      const float inv = s > 0 ? float(1.0 / std::sqrt(s)) : 0.f;
      for (std::size_t j = 0; j < d; ++j) qn[i * d + j] = q[i * d + j] * inv;
    }
    q = qn.data();
  }

  parallel_for(nq, [&](std::size_t qi, int) {
    const float* qv = q + qi * d;
    detail::TopK<idx_t> top(D + qi * k, I + qi * k, int(k));
    SearchStats st;
    if (g.entry < 0 || nallowed == 0) {
      top.finish();
      return;
    }
    thread_local detail::QueryCtx c;
    thread_local std::vector<detail::Cand> res;
    bool scan = plan == 1;
    if (!scan) {
      g.prepare(c, qv);
      detail::Cand ep = g.descend(c, g.max_level, 0);
      g.search_level(c, ep, ef, 0, allow, plan == 2, &st, res);
      // A filtered walk that starts where no allowed node is within reach (e.g. the
      // filter keeps other clusters) finds fewer than k results although more exist:
      // then scan the allowed set exactly instead of returning padding.
      scan = allow && res.size() < std::min(k, nallowed);
    }
    if (scan) {
      for (std::size_t w = 0; w < detail::bit_words(g.nslots); ++w)
        for (std::uint64_t m = allow[w]; m; m &= m - 1) {
          const std::size_t s = w * 64 + std::size_t(__builtin_ctzll(m));
          const float dd = g.exact(qv, s);
          if (dd < top.threshold()) top.push(dd, g.labels[s]);
        }
      st.distance_evals += nallowed;
      top.finish();
    } else {
      std::sort(res.begin(), res.end());
      std::size_t take = res.size();
      if (g.p.quantized) {
        if (params.rerank > 0) take = std::min(take, std::max<std::size_t>(k, std::size_t(params.rerank)));
        for (std::size_t i = 0; i < take; ++i) top.push(g.exact(qv, res[i].second), g.labels[res[i].second]);
        st.distance_evals += take;
      } else {
        for (std::size_t i = 0; i < take; ++i) top.push(res[i].first, g.labels[res[i].second]);
      }
      top.finish();
    }
    evals += st.distance_evals;
    visited += st.nodes_visited;
  });

  if (plan == 0 && !allow && nq > 0) {
    const double per_query = double(evals.load()) / double(nq);
    const double old = g.mean_evals.load();
    g.mean_evals.store(old <= 0 ? per_query : 0.8 * old + 0.2 * per_query);
  }
  finalize_distances(D, I, nq * k);
  if (stats) {
    stats->distance_evals += evals.load();
    stats->nodes_visited += visited.load();
    stats->allowed = nallowed;
    stats->plan = plan;
  }
}

}  // namespace warpsearch
