// SPDX-FileCopyrightText: 2026 warpsearch contributors
// SPDX-License-Identifier: Apache-2.0
// HNSW construction: parallel insertion with per-node (striped) locks, the
// neighbour-selection heuristic, tombstone deletes and their repair.
#include <algorithm>
#include <cmath>
#include <limits>

#include "hnsw/hnsw_impl.hpp"
#include "warpsearch/errors.hpp"
#include "warpsearch/threads.hpp"

namespace warpsearch::detail {

void HnswGraph::grow(std::size_t new_cap) {
  if (new_cap <= cap) return;
  links0.resize(new_cap * (R0 + 1), 0);
  upper.resize(new_cap);
  if (half)
    hvecs.resize(new_cap * d, 0);
  else if (!coded)
    vecs.resize(new_cap * d, 0.f);
  if (p.quantized) {
    codes.resize(new_cap * cs, 0);
    cnorm.resize(new_cap, 0.f);
  }
  if (mips) {
    xnorm.resize(new_cap, 0.f);
    aug.resize(new_cap, 0.f);
  }
  labels.resize(new_cap, -1);
  levels.resize(new_cap, 0);
  state.resize(new_cap, kFree);
  cap = new_cap;
}

void HnswGraph::select_neighbors(std::vector<Cand>& cands, std::size_t m) const {
  if (cands.size() <= m) return;
  std::vector<Cand> kept;
  kept.reserve(m);
  for (const Cand& c : cands) {
    if (kept.size() >= m) break;
    bool good = true;
    const float* vc = kept.empty() ? nullptr : vec_of(c.second);
    for (const Cand& r : kept) {
      if (exact_pair(vc, c.second, r.second) < c.first) {
        good = false;
        break;
      }
    }
    if (good) kept.push_back(c);
  }
  cands.swap(kept);
}

void HnswGraph::link(std::uint32_t from, std::uint32_t to, float dist, int level) {
  std::lock_guard<std::mutex> lk(lock_of(from));
  std::uint32_t* l = ll(from, level);
  const std::size_t maxn = max_links(level);
  const std::size_t n = l[0];
  for (std::size_t i = 0; i < n; ++i)
    if (l[1 + i] == to) return;
  if (n < maxn) {
    l[1 + n] = to;
    std::atomic_ref<std::uint32_t>(l[0]).store(std::uint32_t(n + 1), std::memory_order_release);
    return;
  }
  std::vector<Cand> cands;
  cands.reserve(n + 1);
  cands.emplace_back(dist, to);
  const float* vf = vec_of(from);
  for (std::size_t i = 0; i < n; ++i) cands.emplace_back(exact_pair(vf, from, l[1 + i]), l[1 + i]);
  std::sort(cands.begin(), cands.end());
  select_neighbors(cands, maxn);
  for (std::size_t i = 0; i < cands.size(); ++i) l[1 + i] = cands[i].second;
  std::atomic_ref<std::uint32_t>(l[0]).store(std::uint32_t(cands.size()), std::memory_order_release);
}

void HnswGraph::insert(std::uint32_t s) {
  const int level = levels[s];
  std::int64_t ep;
  int top;
  {
    std::lock_guard<std::mutex> lk(entry_mu);
    ep = entry;
    top = max_level;
    if (ep < 0) {
      entry = s;
      max_level = level;
      return;
    }
  }
  thread_local QueryCtx c;
  thread_local std::vector<std::vector<Cand>> chosen;  // neighbours per level
  prepare_node(c, s);
  Cand cur{tdist(c, std::size_t(ep)), std::uint32_t(ep)};
  if (top > level) {
    // descend() starts from the global entry; do the same walk from the snapshot.
    for (int l = top; l > level; --l) {
      bool changed = true;
      while (changed) {
        changed = false;
        std::uint32_t buf[256];
        std::size_t n;
        {
          std::lock_guard<std::mutex> lk(lock_of(cur.second));
          const std::uint32_t* lst = ll(cur.second, l);
          n = std::min<std::size_t>(lst[0], R);
          std::copy(lst + 1, lst + 1 + n, buf);
        }
        for (std::size_t i = 0; i < n; ++i) {
          const float dd = tdist(c, buf[i]);
          if (dd < cur.first) {
            cur = {dd, buf[i]};
            changed = true;
          }
        }
      }
    }
  }
  // Search top-down, then link bottom-up: s becomes reachable at a level only once
  // its lists below are written. Linking top-down let a concurrent insert descend
  // into s, start its level-0 search at s's still empty list, and link only to s,
  // after which s's own list write dropped that reverse link: an unreachable node.
  const int lmax = std::min(level, top);
  if (chosen.size() < std::size_t(lmax + 1)) chosen.resize(std::size_t(lmax + 1));
  for (int l = lmax; l >= 0; --l) {
    auto& cands = chosen[std::size_t(l)];
    search_level(c, cur, std::size_t(p.ef_construction), l, nullptr, false, nullptr, cands);
    if (cands.empty()) continue;
    // Re-score exactly: the graph is built on exact geometry.
    if (p.quantized)
      for (auto& cd : cands) cd.first = exact_pair(c.q, s, cd.second);  // c.q: s as floats
    std::sort(cands.begin(), cands.end());
    cur = cands.front();
    select_neighbors(cands, max_links(l));
  }
  for (int l = 0; l <= lmax; ++l) {
    const auto& cands = chosen[std::size_t(l)];
    {
      std::lock_guard<std::mutex> lk(lock_of(s));
      std::uint32_t* lst = ll(s, l);
      for (std::size_t i = 0; i < cands.size(); ++i) lst[1 + i] = cands[i].second;
      std::atomic_ref<std::uint32_t>(lst[0]).store(std::uint32_t(cands.size()), std::memory_order_release);
    }
    for (const auto& cd : cands) link(cd.second, s, cd.first, l);
  }
  if (level > top) {
    std::lock_guard<std::mutex> lk(entry_mu);
    if (level > max_level) {
      entry = s;
      max_level = level;
    }
  }
}

void HnswGraph::consolidate() {
  if (ntomb == 0) return;
  // Every live node that points at a tombstone gets its list rebuilt from its live
  // neighbours plus the live neighbours of the dead ones (two hops), pruned by the
  // same heuristic as insertion.
  parallel_for(nslots, [&](std::size_t u, int) {
    if (state[u] != kLive) return;
    for (int l = 0; l <= int(levels[u]); ++l) {
      std::uint32_t* lst = ll(u, l);
      const std::size_t n = lst[0];
      bool touched = false;
      for (std::size_t i = 0; i < n && !touched; ++i) touched = state[lst[1 + i]] != kLive;
      if (!touched) continue;
      std::vector<std::uint32_t> pool;
      for (std::size_t i = 0; i < n; ++i) {
        const std::uint32_t v = lst[1 + i];
        if (state[v] == kLive) {
          pool.push_back(v);
        } else if (int(levels[v]) >= l) {
          const std::uint32_t* l2 = ll(v, l);
          for (std::size_t j = 0; j < l2[0]; ++j)
            if (state[l2[1 + j]] == kLive && l2[1 + j] != u) pool.push_back(l2[1 + j]);
        }
      }
      std::sort(pool.begin(), pool.end());
      pool.erase(std::unique(pool.begin(), pool.end()), pool.end());
      std::vector<Cand> cands;
      cands.reserve(pool.size());
      const float* vu = vec_of(u);
      for (auto v : pool) cands.emplace_back(exact_pair(vu, u, v), v);
      std::sort(cands.begin(), cands.end());
      select_neighbors(cands, max_links(l));
      for (std::size_t i = 0; i < cands.size(); ++i) lst[1 + i] = cands[i].second;
      lst[0] = std::uint32_t(cands.size());
    }
  });
  for (std::size_t s = 0; s < nslots; ++s) {
    if (state[s] != kTomb) continue;
    state[s] = kFree;
    labels[s] = -1;
    ll0(s)[0] = 0;
    upper[s].clear();
    upper[s].shrink_to_fit();
    levels[s] = 0;
    free_slots.push_back(std::uint32_t(s));
  }
  ntomb = 0;
  if (entry >= 0 && state[std::size_t(entry)] != kLive) {
    entry = -1;
    max_level = -1;
    for (std::size_t s = 0; s < nslots; ++s)
      if (state[s] == kLive && int(levels[s]) > max_level) {
        max_level = levels[s];
        entry = std::int64_t(s);
      }
  }
  // Freed slots are reused from the lowest first.
  std::sort(free_slots.begin(), free_slots.end(), std::greater<>());
}

}  // namespace warpsearch::detail
