// SPDX-FileCopyrightText: 2026 warpsearch contributors
// SPDX-License-Identifier: Apache-2.0
// HnswIndex: the public operations (add, remove, accessors) over the graph in
// hnsw_impl.hpp, and node reordering for locality. save/load are in hnsw_io.cpp.
#include <algorithm>
#include <cmath>
#include <deque>

#include "common/vector_ops.hpp"
#include "hnsw/hnsw_impl.hpp"
#include "quantization/vector_codec.hpp"
#include "warpsearch/errors.hpp"
#include "warpsearch/threads.hpp"

namespace warpsearch {
namespace detail {
namespace {

std::uint64_t splitmix(std::uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

}  // namespace

int HnswGraph::choose_bits(const std::uint32_t* slots, std::size_t n) const {
  // 4-bit codes halve the bytes the walk reads per distance; 8-bit ones rank more
  // faithfully. On an even sample of the first data, 4 bits are chosen when the 4-bit
  // codes alone keep at least 90% of each sample query's 10 nearest sample neighbours
  // in its top 10: the walk's pool is wider than 10 and its best are re-ranked exactly.
  constexpr std::size_t kSample = 2000, kQueries = 100, kTop = 10;
  if (n < 1000) return 8;  // small indexes stay in cache: bytes per distance matter little
  const std::size_t ns = std::min(n, kSample), nb = ns - kQueries;
  std::vector<float> sample(half ? ns * d : 0);
  std::vector<const float*> rows(ns);
  for (std::size_t i = 0; i < ns; ++i) rows[i] = row(slots[i * n / ns], half ? &sample[i * d] : nullptr);
  std::vector<float> lo(d, INFINITY), hi(d, -INFINITY), dec(nb * d);
  for (std::size_t i = kQueries; i < ns; ++i)
    for (std::size_t j = 0; j < d; ++j) {
      lo[j] = std::min(lo[j], rows[i][j]);
      hi[j] = std::max(hi[j], rows[i][j]);
    }
  for (std::size_t i = 0; i < nb; ++i)
    for (std::size_t j = 0; j < d; ++j) {
      const float sc = (hi[j] - lo[j]) / 15.f;
      const float t = sc > 0 ? std::nearbyint((rows[kQueries + i][j] - lo[j]) / sc) : 0.f;
      dec[i * d + j] = lo[j] + sc * t;
    }
  const auto& K = kernels();
  auto dist = [&](const float* a, const float* b) { return is_l2() ? K.l2(a, b, d) : -K.ip(a, b, d); };
  std::atomic<std::size_t> kept{0};
  parallel_for(kQueries, [&](std::size_t qi, int) {
    std::vector<std::pair<float, std::uint32_t>> ex(nb), ap(nb);
    for (std::size_t i = 0; i < nb; ++i) {
      ex[i] = {dist(rows[qi], rows[kQueries + i]), std::uint32_t(i)};
      ap[i] = {dist(rows[qi], &dec[i * d]), std::uint32_t(i)};
    }
    std::nth_element(ex.begin(), ex.begin() + kTop, ex.end());
    std::nth_element(ap.begin(), ap.begin() + kTop, ap.end());
    std::size_t hit = 0;
    for (std::size_t a = 0; a < kTop; ++a)
      for (std::size_t b = 0; b < kTop; ++b) hit += ex[a].second == ap[b].second;
    kept += hit;
  }, 4);
  return double(kept.load()) >= 0.9 * double(kQueries * kTop) ? 4 : 8;
}

void HnswGraph::reorder() {
  if (nslots < 2 || entry < 0) return;
  std::vector<std::uint32_t> order;
  order.reserve(nslots);
  std::vector<std::uint8_t> seen(nslots, 0);
  // BFS on level 0 from the entry point: neighbours end up close in memory.
  std::deque<std::uint32_t> q{std::uint32_t(entry)};
  seen[std::size_t(entry)] = 1;
  while (!q.empty()) {
    const std::uint32_t u = q.front();
    q.pop_front();
    order.push_back(u);
    const std::uint32_t* l = ll0(u);
    for (std::size_t i = 0; i < l[0]; ++i)
      if (!seen[l[1 + i]]) {
        seen[l[1 + i]] = 1;
        q.push_back(l[1 + i]);
      }
  }
  for (std::size_t s = 0; s < nslots; ++s)
    if (!seen[s]) order.push_back(std::uint32_t(s));
  // Nodes of the upper levels first, highest level first (BFS order kept inside a level):
  // every query's descent reads them, and packed together their codes and lists stay
  // in cache across queries instead of sharing cache lines with cold level-0 nodes.
  std::stable_sort(order.begin(), order.end(),
                   [&](std::uint32_t a, std::uint32_t b) { return levels[a] > levels[b]; });
  std::vector<std::uint32_t> new_of(nslots);
  for (std::size_t i = 0; i < nslots; ++i) new_of[order[i]] = std::uint32_t(i);

  avector<std::uint32_t> l0(links0.size(), 0);
  std::vector<std::vector<std::uint32_t>> up(cap);
  avector<float> vv(vecs.size());
  avector<std::uint16_t> hv(hvecs.size());
  std::vector<float> cn(cnorm.size()), xn(xnorm.size()), ag(aug.size());
  avector<std::uint8_t> cc(codes.size());
  std::vector<std::uint8_t> lv(levels.size(), 0), st(state.size(), kFree);
  std::vector<idx_t> lb(labels.size(), -1);
  // Upper lists are copied into fresh allocations in the new order, one thread: the
  // lists of the descent's nodes then lie together in memory too.
  for (std::size_t i = 0; i < nslots && levels[order[i]] > 0; ++i) {
    const std::size_t o = order[i];
    up[i].assign(upper[o].begin(), upper[o].end());
    for (int l = 1; l <= int(levels[o]); ++l) {
      std::uint32_t* u = &up[i][std::size_t(l - 1) * (R + 1)];
      for (std::size_t j = 0; j < u[0]; ++j) u[1 + j] = new_of[u[1 + j]];
    }
  }
  parallel_for(nslots, [&](std::size_t i, int) {
    const std::size_t o = order[i];
    const std::uint32_t* src = ll0(o);
    std::uint32_t* dst = &l0[i * (R0 + 1)];
    dst[0] = src[0];
    for (std::size_t j = 0; j < src[0]; ++j) dst[1 + j] = new_of[src[1 + j]];
    if (levels[o] == 0) up[i] = std::move(upper[o]);
    if (half)
      std::copy(&hvecs[o * d], &hvecs[o * d] + d, &hv[i * d]);
    else if (!coded)
      std::copy(&vecs[o * d], &vecs[o * d] + d, &vv[i * d]);
    if (p.quantized) {
      std::copy(code(o), code(o) + cs, &cc[i * cs]);
      cn[i] = cnorm[o];
    }
    if (mips) {
      xn[i] = xnorm[o];
      ag[i] = aug[o];
    }
    lv[i] = levels[o];
    st[i] = state[o];
    lb[i] = labels[o];
  }, 256);
  links0.swap(l0);
  upper.swap(up);
  vecs.swap(vv);
  hvecs.swap(hv);
  codes.swap(cc);
  cnorm.swap(cn);
  xnorm.swap(xn);
  aug.swap(ag);
  levels.swap(lv);
  state.swap(st);
  labels.swap(lb);
  for (auto& kv : map()) kv.second = new_of[kv.second];
  for (auto& f : free_slots) f = new_of[f];
  std::sort(free_slots.begin(), free_slots.end(), std::greater<>());
  entry = new_of[std::size_t(entry)];
}

}  // namespace detail

HnswIndex::HnswIndex(int dim, Metric metric, const HnswParams& params)
    : Index(dim, metric), g_(std::make_unique<detail::HnswGraph>()) {
  WS_EXPECTS(params.M >= 2 && params.M <= 256, "M must be in [2, 256], got ", params.M);
  WS_EXPECTS(params.ef_construction >= 1, "ef_construction must be >= 1, got ", params.ef_construction);
  auto& g = *g_;
  g.p = params;
  g.d = std::size_t(dim);
  g.metric = metric;
  g.R = std::size_t(params.M);
  g.R0 = 2 * std::size_t(params.M);
  WS_EXPECTS(params.sq_bits == 0 || params.sq_bits == 4 || params.sq_bits == 8,
             "sq_bits must be 4, 8 or 0 (chosen from the data), got ", params.sq_bits);
  WS_EXPECTS(params.storage == Storage::FP32 || params.storage == Storage::FP16 ||
                 params.storage == Storage::SQ8,
             "HNSW storage must be 'fp32', 'fp16' or 'sq8', got '", storage_name(params.storage), "'");
  g.half = params.storage == Storage::FP16;
  g.coded = params.storage == Storage::SQ8;
  WS_EXPECTS(!g.coded || (params.quantized && params.sq_bits != 4),
             "storage='sq8' keeps only the 8-bit traversal codes: it needs quantized=True and sq_bits 8");
  if (g.coded) g.p.sq_bits = 8;
  g.cd = (g.d + 63) / 64 * 64;
  g.set_bits(g.p.sq_bits == 0 ? 8 : g.p.sq_bits);
  g.mips = metric == Metric::IP;
  g.level_mult = 1.0 / std::log(double(std::max(params.M, 2)));
}

HnswIndex::~HnswIndex() = default;

const HnswParams& HnswIndex::params() const { return g_->p; }

std::size_t HnswIndex::size() const {
  std::shared_lock lk(g_->rw);
  return g_->nlive;
}

void HnswIndex::add(const float* x, std::size_t n, const idx_t* ids) {
  validate_add(x, n, ids);
  if (n == 0) return;
  auto& g = *g_;
  const std::size_t d = g.d;
  std::vector<float> normed;
  x = detail::metric_rows(x, n, d, metric_, normed);
  if (g.half) detail::expect_half_range(x, n, d, "storage='fp16'");
  std::lock_guard<std::mutex> wl(g.write_mu);
  std::vector<std::uint32_t> slots(n);
  {
    std::unique_lock lk(g.rw);
    g.own_all();  // a mapped graph is copied into RAM before its first change
    // Re-added ids replace their old vector: the old slot becomes a tombstone.
    for (std::size_t i = 0; i < n; ++i) {
      auto it = g.map().find(ids ? ids[i] : next_id_ + idx_t(i));
      if (it == g.map().end()) continue;
      g.state[it->second] = detail::kTomb;
      g.map().erase(it);
      --g.nlive;
      ++g.ntomb;
    }
    if (g.ntomb > 0 && (g.ntomb >= n || g.ntomb * 10 > g.nslots)) g.consolidate();

    const std::size_t reuse = std::min(n, g.free_slots.size());
    const std::size_t fresh = n - reuse;
    if (g.nslots + fresh > g.cap) g.grow(std::max(g.nslots + fresh, g.cap + g.cap / 2));
    for (std::size_t i = 0; i < reuse; ++i) {
      slots[i] = g.free_slots.back();
      g.free_slots.pop_back();
    }
    for (std::size_t i = reuse; i < n; ++i) slots[i] = std::uint32_t(g.nslots++);

    for (std::size_t i = 0; i < n; ++i) g.store_row(slots[i], x + i * d);
    if (g.mips) {
      // The augmentation needs M >= every norm; when it grows, all extra coordinates move.
      float m2 = g.mips_m2;
      for (std::size_t i = 0; i < n; ++i) {
        const float* v = g.coded ? x + i * d : g.row(slots[i], g.scratch());
        m2 = std::max(m2, detail::kernels().ip(v, v, d));
      }
      if (m2 > g.mips_m2) {
        g.mips_m2 = m2;
        for (std::size_t s = 0; s < g.nslots; ++s)
          if (g.state[s] != detail::kFree) g.set_norms(s);
      }
      if (!g.coded)  // coded: from the decoded codes, once they are written (below)
        for (std::size_t i = 0; i < n; ++i) g.set_norms(slots[i]);
    }
    bool reencoded = false;
    if (g.p.quantized) {
      // Per-dimension range of the int8 codes; widened (with headroom, so it
      // rarely happens) and everything re-encoded when new data falls outside.
      // Integer-valued data whose range spans at most 256 values (uint8 inputs such
      // as SIFT descriptors) gets the unit grid instead: its codes are lossless.
      std::vector<float> lo(d, INFINITY), hi(d, -INFINITY);
      bool integral = true;
      for (std::size_t i = 0; i < n; ++i) {
        const float* row = g.coded ? x + i * d : g.row(slots[i], g.scratch());
        for (std::size_t j = 0; j < d; ++j) {
          const float v = row[j];
          lo[j] = std::min(lo[j], v);
          hi[j] = std::max(hi[j], v);
          integral = integral && v == std::nearbyint(v);
        }
      }
      if (!g.sq_trained) {
        bool grid8 = integral;
        for (std::size_t j = 0; j < d && grid8; ++j) grid8 = hi[j] - lo[j] <= 255.f;
        // Lossless 8-bit codes beat anything 4 bits can do; else the data decides.
        g.set_bits(g.p.sq_bits != 0 ? g.p.sq_bits : grid8 ? 8 : g.choose_bits(slots.data(), n));
        g.p.sq_bits = g.bits;
      }
      const float top = float(g.levels_max());
      bool unit_grid = integral;
      for (std::size_t j = 0; j < d && unit_grid; ++j) {
        const float nlo = g.sq_trained ? std::min(lo[j], g.vmin[j]) : lo[j];
        const float nhi = g.sq_trained ? std::max(hi[j], g.vmin[j] + top * g.vscale[j]) : hi[j];
        unit_grid = nhi - nlo <= top && (!g.sq_trained || g.vscale[j] == 1.f);
      }
      bool reencode = false;
      const std::vector<float> old_min = g.coded ? g.vmin : std::vector<float>();
      const std::vector<float> old_scale = g.coded ? g.vscale : std::vector<float>();
      if (!g.sq_trained) {
        g.vmin = lo;
        g.vscale.resize(d);
        for (std::size_t j = 0; j < d; ++j) g.vscale[j] = unit_grid ? 1.f : (hi[j] - lo[j]) / top;
        g.sq_trained = true;
      } else {
        for (std::size_t j = 0; j < d; ++j) {
          const float omin = g.vmin[j], omax = g.vmin[j] + top * g.vscale[j];
          if (lo[j] >= omin && hi[j] <= omax) continue;
          reencode = true;
          if (unit_grid) {  // slide the unit grid down; it still covers the top
            g.vmin[j] = std::min(lo[j], omin);
            continue;
          }
          const float span = std::max(omax - omin, hi[j] - lo[j]);
          const float nmin = lo[j] < omin ? std::min(lo[j], omin - 0.25f * span) : omin;
          const float nmax = hi[j] > omax ? std::max(hi[j], omax + 0.25f * span) : omax;
          g.vmin[j] = nmin;
          g.vscale[j] = (nmax - nmin) / top;
        }
      }
      if (reencode) {
        std::atomic<bool> exact{true};
        parallel_for(g.nslots, [&](std::size_t s, int) {
          if (g.state[s] == detail::kFree) return;
          bool ok;
          if (g.coded) {  // the code is the only copy: decode with the old range
            thread_local std::vector<float> v;
            v.resize(d);
            for (std::size_t j = 0; j < d; ++j) v[j] = old_min[j] + old_scale[j] * float(g.code(s)[j]);
            ok = g.encode(s, v.data());
          } else {
            ok = g.encode(s);
          }
          if (!ok) exact.store(false, std::memory_order_relaxed);
        }, 1024);
        g.codes_exact = exact.load();
        reencoded = true;
      }
      g.update_uniform();
    }
    for (std::size_t i = 0; i < n; ++i) {
      const std::uint32_t s = slots[i];
      if (g.p.quantized && !g.encode(s, g.coded ? x + i * d : nullptr)) g.codes_exact = false;
      const std::uint64_t r = detail::splitmix(g.p.seed ^ (std::uint64_t(s) * 0x9E37ull) ^
                                               (std::uint64_t(g.nlive + i) << 32));
      const double u = (double(r >> 11) + 1.0) * (1.0 / 9007199254740993.0);
      const int level = std::min(30, int(-std::log(u) * g.level_mult));
      g.levels[s] = std::uint8_t(level);
      g.upper[s].assign(std::size_t(level) * (g.R + 1), 0);
      g.ll0(s)[0] = 0;
      g.labels[s] = ids ? ids[i] : next_id_ + idx_t(i);
      g.state[s] = detail::kLive;
      g.map()[g.labels[s]] = s;
    }
    g.nlive += n;
    if (g.coded && g.mips) {
      if (reencoded) {
        for (std::size_t s = 0; s < g.nslots; ++s)
          if (g.state[s] != detail::kFree) g.set_norms(s);
      } else {
        for (std::size_t i = 0; i < n; ++i) g.set_norms(slots[i]);
      }
    }
  }
  {
    std::shared_lock lk(g.rw);
    std::size_t first = 0;
    if (g.entry < 0) g.insert(slots[first++]);
    parallel_for(n - first, [&](std::size_t i, int) { g.insert(slots[first + i]); }, 16);
  }
  advance_next_id(ids, n);
  if (n >= 1024 && 2 * n >= g.nlive) {
    std::unique_lock lk(g.rw);
    g.reorder();
  }
}

std::size_t HnswIndex::remove(const idx_t* ids, std::size_t n) {
  auto& g = *g_;
  std::lock_guard<std::mutex> wl(g.write_mu);
  std::unique_lock lk(g.rw);
  g.own_all();  // a mapped graph is copied into RAM before its first change
  std::size_t removed = 0;
  for (std::size_t i = 0; i < n; ++i) {
    auto it = g.map().find(ids[i]);
    if (it == g.map().end()) continue;
    g.state[it->second] = detail::kTomb;
    g.map().erase(it);
    --g.nlive;
    ++g.ntomb;
    ++removed;
  }
  if (g.ntomb * 10 > g.nslots) g.consolidate();
  return removed;
}

void HnswIndex::reorder() {
  std::lock_guard<std::mutex> wl(g_->write_mu);
  std::unique_lock lk(g_->rw);
  g_->own_all();
  g_->reorder();
}

void HnswIndex::consolidate() {
  std::lock_guard<std::mutex> wl(g_->write_mu);
  std::unique_lock lk(g_->rw);
  g_->own_all();
  g_->consolidate();
}

bool HnswIndex::contains(idx_t id) const {
  std::shared_lock lk(g_->rw);
  g_->ensure_all();
  return g_->map().count(id) != 0;
}

std::vector<idx_t> HnswIndex::ids() const {
  std::shared_lock lk(g_->rw);
  g_->ensure_all();
  std::vector<idx_t> out;
  out.reserve(g_->nlive);
  for (std::size_t s = 0; s < g_->nslots; ++s)
    if (g_->state[s] == detail::kLive) out.push_back(g_->labels[s]);
  return out;
}

std::vector<bool> HnswIndex::reconstruct(const idx_t* ids, std::size_t n, float* out) const {
  std::shared_lock lk(g_->rw);
  g_->ensure_all();
  std::vector<bool> found(n, false);
  for (std::size_t i = 0; i < n; ++i) {
    auto it = g_->map().find(ids[i]);
    if (it == g_->map().end()) continue;
    const float* v = g_->row(it->second, out + i * g_->d);
    if (v != out + i * g_->d) std::copy(v, v + g_->d, out + i * g_->d);
    found[i] = true;
  }
  return found;
}

std::size_t HnswIndex::memory_usage() const {
  std::shared_lock lk(g_->rw);
  const auto& g = *g_;
  std::size_t b = g.links0.capacity() * 4 + g.vecs.capacity() * 4 + g.hvecs.capacity() * 2 +
                  g.codes.capacity() +
                  g.cnorm.capacity() * 4 + g.labels.capacity() * 8 + g.levels.capacity() +
                  g.state.capacity() + g.upper.capacity() * sizeof(std::vector<std::uint32_t>) +
                  g.map_bytes() + g.free_slots.capacity() * 4;
  for (const auto& u : g.upper) b += u.capacity() * 4;
  return b;
}

}  // namespace warpsearch
