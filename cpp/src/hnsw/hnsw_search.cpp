// SPDX-FileCopyrightText: 2026 warpsearch contributors
// SPDX-License-Identifier: Apache-2.0
// HNSW search: greedy descent, best-first level search (plain or filter-aware with
// two-hop expansion), the filter planner, and exact re-rank.
#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>
#include <functional>

#include "common/deadline.hpp"
#include "common/topk.hpp"
#include "common/vector_ops.hpp"
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
      for (std::size_t i = 0; i < n; ++i) prefetch(c, buf[i]);
      score(c, buf, n, [&](float dd, std::uint32_t s) {
        if (dd < dcur) {
          dcur = dd;
          cur = s;
          changed = true;
        }
      });
    }
  }
  return {dcur, cur};
}

namespace {
// Inserts (dd, s) into pool[0, size), ascending, of at most ef entries; next (the first
// unexpanded position) moves back when s lands before it. False when dd is not among
// the ef best.
__attribute__((always_inline)) inline bool pool_insert(Cand* pool, std::size_t& size, std::size_t& next, std::size_t ef,
                        float dd, std::uint32_t s) {
  if (size == ef && dd >= pool[size - 1].first) return false;
  std::size_t lo = 0, hi = size;
  while (lo < hi) {
    const std::size_t mid = (lo + hi) / 2;
    if (pool[mid].first <= dd) lo = mid + 1; else hi = mid;
  }
  const std::size_t n_move = (size == ef ? size - 1 : size) - lo;
  // Cand is trivially copyable in all but name (std::pair has a user-provided operator=).
  std::memmove(static_cast<void*>(&pool[lo + 1]), &pool[lo], n_move * sizeof(Cand));
  pool[lo] = {dd, s};
  if (size < ef) ++size;
  if (lo < next) next = lo;
  return true;
}

struct LevelScratch {
  std::vector<Cand> cand;  // min-heap on distance
  std::vector<std::uint32_t> nb, hop, todo;
};
}  // namespace

// Unfiltered search without tombstones: one sorted pool of the ef best nodes seen
// replaces the two heaps of the general walk. The next node to expand is the best
// unexpanded one in the pool, and the walk ends when every pool entry is expanded:
// the same nodes are expanded as by the heap formulation, at a fraction of the
// bookkeeping (one binary search and a short memmove per accepted neighbour).
void HnswGraph::search_level_pool(const QueryCtx& c, Cand ep, std::size_t ef, int level,
                                  SearchStats* st, std::vector<Cand>& res, const Deadline* dl) const {
  DeadlineTicker tk(dl);
  Visited& vis = tls_visited();
  vis.reset(nslots);
  thread_local LevelScratch sc;
  constexpr std::uint32_t kDone = 0x80000000u;  // expanded flag in the id's top bit
  const std::size_t maxn = max_links(level);
  auto& pool = sc.cand;
  pool.resize(ef + 1);
  auto& nb = sc.nb;
  auto& todo = sc.todo;
  nb.resize(maxn);
  todo.resize(maxn);
  std::size_t size = 1, next = 0;
  pool[0] = ep;
  vis.test_set(ep.second);
  std::uint64_t evals = 1, expanded = 0;
  // A node that enters the pool is expanded unless pushed out later, and the best of
  // them is usually the very next one: its row is fetched as it enters.
  auto insert = [&](float dd, std::uint32_t s) __attribute__((always_inline)) {
    if (pool_insert(pool.data(), size, next, ef, dd, s)) prefetch_row(s, level);
  };

  while (next < size) {
    const std::uint32_t cur = pool[next].second;
    pool[next].second = cur | kDone;
    // Software pipeline over the expansion order: the rows of the next two nodes to
    // expand (as the pool stands) are fetched, and the codes of the next node's
    // unvisited neighbours too, so their memory latency overlaps this expansion.
    {
      std::size_t j1 = next + 1;
      while (j1 < size && (pool[j1].second & kDone)) ++j1;
      if (j1 < size) {
        std::size_t j2 = j1 + 1;
        while (j2 < size && (pool[j2].second & kDone)) ++j2;
        if (j2 < size) prefetch_row(pool[j2].second, level);
        const std::uint32_t* l1 = ll(pool[j1].second, level);
        const std::size_t n1 = std::min<std::size_t>(
            std::atomic_ref<const std::uint32_t>(l1[0]).load(std::memory_order_relaxed), maxn);
        for (std::size_t i = 0; i < n1; ++i) {
          const std::uint32_t s = std::atomic_ref<const std::uint32_t>(l1[1 + i]).load(std::memory_order_relaxed);
          if (!vis.test(s)) prefetch(c, s);
        }
      }
    }
    ++expanded;
    const std::size_t n = read_list(ll(cur, level), maxn, nb.data());
    std::size_t m = 0;
    for (std::size_t i = 0; i < n; ++i) {
      const std::uint32_t s = nb[i];
      if (vis.test_set(s)) continue;
      todo[m++] = s;
      prefetch(c, s);
    }
    evals += m;
    tk.tick(m);
    score(c, todo.data(), m, insert);
    while (next < size && (pool[next].second & kDone)) ++next;
  }
  res.resize(size);
  for (std::size_t i = 0; i < size; ++i) res[i] = {pool[i].first, pool[i].second & ~kDone};
  if (st) {
    st->distance_evals += evals;
    st->nodes_visited += expanded;
  }
}

namespace {
// Visited set of one walk: open addressing on slot + 1 (0 = empty), at most half full.
// A walk sees about evals + 1 slots (a few hundred to a few thousand), so the table stays
// in L1/L2; a flag array over all slots spreads the same checks over as many cache
// lines, which the walk's stream of codes keeps evicting.
struct SeenSet {
  std::vector<std::uint32_t> t;
  std::size_t count = 0;
  int bits = 0;
  void clear() {  // keeps the size the last walks needed
    if (t.empty()) {
      bits = 11;
      t.assign(std::size_t(1) << bits, 0u);
    } else {
      std::fill(t.begin(), t.end(), 0u);
    }
    count = 0;
  }
  // True when s was already in the set; inserts it otherwise.
  bool test_set(std::uint32_t s) {
    const std::uint32_t key = s + 1, m = (1u << bits) - 1;
    std::uint32_t h = (key * 0x9E3779B1u) >> (32 - bits);
    for (;; h = (h + 1) & m) {
      const std::uint32_t v = t[h];
      if (v == key) return true;
      if (v == 0) break;
    }
    t[h] = key;
    if (++count * 2 > t.size()) grow();
    return false;
  }
  void grow() {
    std::vector<std::uint32_t> old(std::size_t(1) << (bits + 1), 0u);
    old.swap(t);
    ++bits;
    const std::uint32_t m = (1u << bits) - 1;
    for (std::uint32_t key : old) {
      if (!key) continue;
      std::uint32_t h = (key * 0x9E3779B1u) >> (32 - bits);
      while (t[h]) h = (h + 1) & m;
      t[h] = key;
    }
  }
};

// One query of an interleaved batch: its pool (as in search_level_pool) and where its
// walk stands.
struct Lane {
  // kDescHead/kDescRow/kDescEval: the greedy descent through the upper levels (the
  // slot's level list header, then its row, then the neighbours' codes have been
  // requested); kExpand/kEval: the level-0 walk.
  enum Phase : std::uint8_t { kIdle, kDescHead, kDescRow, kDescEval, kExpand, kEval, kFinish };
  QueryCtx c;
  std::vector<Cand> pool;
  std::vector<std::uint32_t> nb, todo;
  SeenSet seen;
  std::size_t size = 0, next = 0, m = 0, qi = 0;
  std::uint32_t cur = 0;
  int level = 0;        // descent: current level
  float dcur = 0.f;     // descent: distance of cur
  bool moved = false;   // descent: cur changed while scanning the current row
  Phase phase = kIdle;
  std::uint64_t evals = 0, expanded = 0;
};
}  // namespace

// A walk is a chain of dependent memory reads: in the descent, a slot's list header,
// its row, its neighbours' codes; on level 0, the row of the node being expanded, then
// its neighbours' codes; at the end, the vectors of the re-rank. One query alone waits
// for each in turn (search_level_pool's software prefetch guesses the next node to hide
// part of it). Here each step of a lane only issues the loads its next step needs, and
// the other lanes' steps run while they arrive. Each query runs exactly the steps of
// descend + search_level_pool, in the same order, so the results are identical.
void HnswGraph::search_interleaved(
    const float* q, std::size_t nq, std::size_t ef, std::size_t rerank_fetch, SearchStats* st,
    const std::function<void(std::size_t, const QueryCtx&, std::vector<Cand>&)>& finish,
    const Deadline* dl) const {
  constexpr std::uint32_t kDone = 0x80000000u;
  DeadlineTicker tk(dl);
  tk.check();
  constexpr std::size_t kLanes = kInterleaveLanes;
  thread_local std::vector<Lane> lanes(kLanes);
  const std::size_t maxn = R0;
  std::size_t next_q = 0, active = 0;
  std::uint64_t evals = 0, expanded = 0;
  // The next node to expand, or the end of the walk.
  auto select = [&](Lane& L) {
    while (L.next < L.size && (L.pool[L.next].second & kDone)) ++L.next;
    if (L.next >= L.size) {  // the walk is over: fetch what the re-rank reads first
      if (p.quantized)
        for (std::size_t i = 0; i < std::min(L.size, rerank_fetch); ++i)
          prefetch_exact(L.pool[i].second & ~kDone);
      L.phase = Lane::kFinish;
      return;
    }
    L.cur = L.pool[L.next].second;
    L.pool[L.next].second |= kDone;
    prefetch_row(L.cur, 0);
    L.phase = Lane::kExpand;
  };
  // The level-0 walk from ep (what search_level_pool does first).
  auto begin_walk = [&](Lane& L, Cand ep) {
    L.pool.resize(ef + 1);
    L.pool[0] = ep;
    L.size = 1;
    L.next = 0;
    L.seen.clear();
    L.seen.test_set(ep.second);
    L.evals = 1;
    L.expanded = 0;
    select(L);
  };
  // Descent: the next row to read is cur's list on L.level (its header first).
  auto next_row = [&](Lane& L) {
    __builtin_prefetch(&upper[L.cur]);
    L.phase = Lane::kDescHead;
  };
  auto start = [&](Lane& L) {
    L.qi = next_q++;
    ++active;
    prepare(L.c, q + L.qi * d);
    L.nb.resize(std::max(maxn, R));
    L.todo.resize(std::max(maxn, R));
    L.cur = std::uint32_t(entry);
    L.dcur = tdist(L.c, L.cur);
    L.level = max_level;
    L.moved = false;
    if (L.level > 0) next_row(L);
    else begin_walk(L, {L.dcur, L.cur});
  };
  // A call that ended by an exception (from finish) may have left lanes mid-walk.
  for (Lane& L : lanes) L.phase = Lane::kIdle;
  for (std::size_t l = 0; l < kLanes && next_q < nq; ++l) start(lanes[l]);
  std::vector<Cand> res;
  while (active > 0) {
    for (std::size_t l = 0; l < kLanes; ++l) {
      Lane& L = lanes[l];
      switch (L.phase) {
        case Lane::kIdle:
          break;
        case Lane::kDescHead:
          prefetch_row(L.cur, L.level);
          L.phase = Lane::kDescRow;
          break;
        case Lane::kDescRow: {
          const std::size_t n = read_list(ll(L.cur, L.level), R, L.todo.data());
          for (std::size_t i = 0; i < n; ++i) prefetch(L.c, L.todo[i]);
          L.m = n;
          tk.tick(n);
          L.phase = Lane::kDescEval;
          break;
        }
        case Lane::kDescEval: {  // as descend()
          score(L.c, L.todo.data(), L.m, [&](float dd, std::uint32_t s) {
            if (dd < L.dcur) {
              L.dcur = dd;
              L.cur = s;
              L.moved = true;
            }
          });
          if (L.moved) {
            L.moved = false;
            next_row(L);
          } else if (--L.level > 0) {
            next_row(L);
          } else {
            begin_walk(L, {L.dcur, L.cur});
          }
          break;
        }
        case Lane::kExpand: {  // the row of cur was requested one round ago
          const std::size_t n = read_list(ll0(L.cur), maxn, L.nb.data());
          std::size_t m = 0;
          for (std::size_t i = 0; i < n; ++i) {
            const std::uint32_t s = L.nb[i];
            if (L.seen.test_set(s)) continue;
            L.todo[m++] = s;
            prefetch(L.c, s);
          }
          ++L.expanded;
          L.evals += m;
          L.m = m;
          tk.tick(m);
          if (m > 0) L.phase = Lane::kEval;
          else select(L);
          break;
        }
        case Lane::kEval:  // the codes of todo were requested one round ago
          score(L.c, L.todo.data(), L.m, [&](float dd, std::uint32_t s) {
            pool_insert(L.pool.data(), L.size, L.next, ef, dd, s);
          });
          select(L);
          break;
        case Lane::kFinish: {
          res.resize(L.size);
          for (std::size_t i = 0; i < L.size; ++i)
            res[i] = {L.pool[i].first, L.pool[i].second & ~kDone};
          evals += L.evals;
          expanded += L.expanded;
          L.phase = Lane::kIdle;
          --active;
          finish(L.qi, L.c, res);
          if (next_q < nq) start(L);
          break;
        }
      }
    }
  }
  if (st) {
    st->distance_evals += evals;
    st->nodes_visited += expanded;
  }
}

void HnswGraph::search_level(const QueryCtx& c, Cand ep, std::size_t ef, int level,
                             const std::uint64_t* allow, bool two_hop, SearchStats* st,
                             std::vector<Cand>& res, const Deadline* dl) const {
  if (!allow && ntomb == 0) return search_level_pool(c, ep, ef, level, st, res, dl);
  DeadlineTicker tk(dl);
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
    if (!cand.empty()) prefetch_row(cand.front().second, level);  // the next node to expand
    ++expanded;
    const std::size_t n = read_list(ll(cur.second, level), maxn, nb.data());
    todo.clear();
    for (std::size_t i = 0; i < n; ++i) {
      const std::uint32_t s = nb[i];
      if (!two_hop || ok(s)) {
        if (vis.test_set(s)) continue;
        todo.push_back(s);
        prefetch(c, s);
        continue;
      }
      // Filtered out: step through it to its eligible neighbours. It is marked
      // visited only when its neighbours were really looked at.
      if (todo.size() >= cap_hop || vis.test_set(s)) continue;
      const std::size_t n2 = read_list(ll(s, level), maxn, hop.data());
      for (std::size_t j = 0; j < n2 && todo.size() < cap_hop; ++j) {
        const std::uint32_t s2 = hop[j];
        if (ok(s2) && !vis.test_set(s2)) {
          todo.push_back(s2);
          prefetch(c, s2);
        }
      }
    }
    evals += todo.size();
    tk.tick(todo.size() + 1);  // + the expansion (two-hop rows read without a distance)
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
  // Checked per query, and inside the walks and scans every few hundred distances.
  const detail::Deadline dl(params);
  std::shared_lock lk(g_->rw);
  g_->ensure_all();  // a mapped graph: checksums and links, once
  dl.check();
  const auto& g = *g_;
  const std::size_t d = g.d, k = std::size_t(params.k);
  const std::size_t ef = std::max<std::size_t>(std::size_t(params.ef), k);

  Bitset allow_bits;
  std::size_t nallowed = g.nlive;
  if (params.filter.active()) {
    allow_bits = make_allow(
        params.filter, g.nslots, [&](std::size_t s) { return g.state[s] == detail::kLive ? g.labels[s] : idx_t(-1); },
        [&](idx_t id) -> std::int64_t {
          auto it = g.map().find(id);
          return it == g.map().end() ? -1 : std::int64_t(it->second);
        });
    nallowed = 0;
    for (auto w : allow_bits) nallowed += std::size_t(__builtin_popcountll(w));
  }

  // Planner: an exact scan of the allowed set when it costs less than a graph walk
  // (the walk's distance evaluations per unit of ef are learned from this index's
  // unfiltered searches; a filtered walk costs about 1/selectivity more), a
  // filter-aware walk with two-hop expansion at low selectivity, else a plain walk.
  // The same rule sends searches whose ef approaches the index size to the scan,
  // which also reaches nodes the graph cannot.
  int plan = 0;
  {
    const double sel = g.nlive ? double(nallowed) / double(g.nlive) : 0.0;
    double per_ef = g.mean_evals.load();
    if (per_ef <= 0) per_ef = double(g.R0) * 0.5;
    // quantized steps are cheaper than the scan's exact ones
    const double walk_cost = per_ef * double(ef) * (g.p.quantized ? 0.5 : 1.0) / std::max(sel, 1e-3);
    if (double(nallowed) <= walk_cost) plan = 1;
    else if (params.filter.active()) plan = sel < 0.3 ? 2 : 0;
  }
  if (plan == 1 && allow_bits.empty()) {
    allow_bits.assign(detail::bit_words(g.nslots) + 1, 0);
    for (std::size_t s = 0; s < g.nslots; ++s)
      if (g.state[s] == detail::kLive) detail::bit_set(allow_bits.data(), s);
  }
  const std::uint64_t* allow = allow_bits.empty() ? nullptr : allow_bits.data();

  std::atomic<std::uint64_t> evals{0}, visited{0}, refine_bytes{0};
  std::vector<float> qn;
  q = detail::query_rows(q, nq, d, metric_, qn);

  // The k results of a query from its heap of slots: only the results' labels are read
  // (loads issued together).
  auto emit = [&](std::size_t qi, detail::TopK<idx_t>& top) {
    const int found = top.finish();
    idx_t* out = I + qi * k;
    for (int j = 0; j < found; ++j) __builtin_prefetch(&g.labels[std::size_t(out[j])]);
    for (int j = 0; j < found; ++j) out[j] = g.labels[std::size_t(out[j])];
  };
  // Candidates whose exact vectors are fetched before the re-rank starts.
  const std::size_t rerank_fetch = 2 * k;
  // The end of a graph walk: res (the walk's candidates) re-ranked into the k results.
  auto finish_walk = [&](std::size_t qi, const detail::QueryCtx& c, std::vector<detail::Cand>& res,
                         SearchStats& st) {
    detail::TopK<idx_t> top(D + qi * k, I + qi * k, int(k));
    std::sort(res.begin(), res.end());
    std::size_t take = res.size();
    if (g.p.quantized) {
      // Re-rank in order of approximate distance. By default the cut-off calibrates
      // itself per query: the first k candidates measure the quantization error, and
      // the scan stops once a candidate's approximate distance exceeds the current
      // k-th exact distance by more than twice the largest error seen so far.
      std::size_t done = 0;
      // The exact vectors are cold: fetch the likely re-rank set in parallel first.
      for (std::size_t i = 0; i < std::min(take, rerank_fetch); ++i) g.prefetch_exact(res[i].second);
      if (params.rerank > 0) {
        take = std::min(take, std::max<std::size_t>(k, std::size_t(params.rerank)));
        for (; done < take; ++done) top.push(g.exact_query(c, res[done].second), idx_t(res[done].second));
      } else {
        float maxerr = 0.f;
        for (; done < take; ++done) {
          const float approx = res[done].first;
          if (done >= k && top.full() && approx - 2.f * maxerr > top.threshold()) break;
          const float dd = g.exact_query(c, res[done].second);
          maxerr = std::max(maxerr, std::abs(dd - approx));
          top.push(dd, idx_t(res[done].second));
        }
      }
      st.distance_evals += done;
      st.refine_bytes += done * (g.coded ? g.d : (g.half ? 2 : 4) * g.d);
    } else {
      for (std::size_t i = 0; i < take; ++i) top.push(res[i].first, idx_t(res[i].second));
    }
    emit(qi, top);
  };

  // Unfiltered batches walk several queries at once per thread (search_interleaved);
  // the per-query path below serves filters, tombstones, scans and single queries.
  const bool interleave = plan == 0 && !allow && g.ntomb == 0 && nq >= 2 && g.entry >= 0 &&
                          nallowed > 0;
  if (interleave) {
    const std::size_t nt = std::size_t(std::max(1, get_num_threads()));
    const std::size_t block = std::clamp<std::size_t>(nq / (4 * nt), detail::kInterleaveLanes, 64);
    parallel_for((nq + block - 1) / block, [&](std::size_t b, int) {
      const std::size_t q0 = b * block;
      SearchStats st;
      g.search_interleaved(q + q0 * d, std::min(block, nq - q0), ef, rerank_fetch, &st,
                           [&](std::size_t i, const detail::QueryCtx& c, std::vector<detail::Cand>& res) {
                             finish_walk(q0 + i, c, res, st);
                           },
                           &dl);
      evals += st.distance_evals;
      visited += st.nodes_visited;
      refine_bytes += st.refine_bytes;
    });
  } else {
    parallel_for(nq, [&](std::size_t qi, int) {
      dl.check();
      const float* qv = q + qi * d;
      SearchStats st;
      if (g.entry < 0 || nallowed == 0) {
        detail::TopK<idx_t> top(D + qi * k, I + qi * k, int(k));
        top.finish();
        return;
      }
      thread_local detail::QueryCtx c;
      thread_local std::vector<detail::Cand> res;
      bool scan = plan == 1;
      g.prepare(c, qv);
      if (!scan) {
        detail::Cand ep = g.descend(c, g.max_level, 0);
        g.search_level(c, ep, ef, 0, allow, plan == 2, &st, res, &dl);
        // A filtered walk that starts where no allowed node is within reach (e.g. the
        // filter keeps other clusters) finds fewer than k results although more exist:
        // then scan the allowed set exactly instead of returning padding.
        scan = allow && res.size() < std::min(k, nallowed);
      }
      if (scan) {
        detail::TopK<idx_t> top(D + qi * k, I + qi * k, int(k));
        detail::DeadlineTicker tk(&dl);
        for (std::size_t w = 0; w < detail::bit_words(g.nslots); ++w) {
          tk.tick(std::size_t(__builtin_popcountll(allow[w])));
          for (std::uint64_t m = allow[w]; m; m &= m - 1) {
            const std::size_t s = w * 64 + std::size_t(__builtin_ctzll(m));
            const float dd = g.exact_query(c, s);
            if (dd < top.threshold()) top.push(dd, idx_t(s));
          }
        }
        st.distance_evals += nallowed;
        emit(qi, top);
      } else {
        finish_walk(qi, c, res, st);
      }
      evals += st.distance_evals;
      visited += st.nodes_visited;
      refine_bytes += st.refine_bytes;
    });
  }

  if (plan == 0 && !allow && nq > 0) {
    const double per_query = double(evals.load()) / double(nq) / double(ef);
    const double old = g.mean_evals.load();
    g.mean_evals.store(old <= 0 ? per_query : 0.8 * old + 0.2 * per_query);
  }
  finalize_distances(D, I, nq * k);
  if (stats) {
    stats->distance_evals += evals.load();
    stats->nodes_visited += visited.load();
    stats->refine_bytes += refine_bytes.load();
    stats->allowed = nallowed;
    stats->plan = plan;
  }
}

}  // namespace warpsearch
