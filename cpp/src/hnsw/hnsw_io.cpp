// SPDX-FileCopyrightText: 2026 warpsearch contributors
// SPDX-License-Identifier: Apache-2.0
// HnswIndex: save/load in the warpsearch file format, and the mapped (load_index with
// mmap) state of a graph: lazy id map, first-use checks, copy into RAM before a write.
#include <algorithm>
#include <functional>

#include "hnsw/hnsw_impl.hpp"
#include "io/format.hpp"
#include "warpsearch/errors.hpp"

namespace warpsearch {
namespace detail {

void HnswGraph::ensure_map() const {
  if (map_ready_.load(std::memory_order_acquire)) return;
  std::lock_guard lk(map_mu_);
  if (map_ready_.load(std::memory_order_relaxed)) return;
  labels.ensure();
  state.ensure();
  std::unordered_map<idx_t, std::uint32_t> m;
  m.reserve(nlive);
  for (std::size_t s = 0; s < nslots; ++s)
    if (state[s] == kLive && !m.emplace(labels[s], std::uint32_t(s)).second)
      throw CorruptFileError(concat("corrupt index: duplicate id ", labels[s]));
  map_.swap(m);
  map_ready_.store(true, std::memory_order_release);
}

void HnswGraph::own_all() {
  if (mapped()) to_ram();
}

void HnswGraph::to_ram() {
  ensure_all();
  links0.own(); vecs.own(); hvecs.own(); codes.own(); cnorm.own();
  xnorm.own(); aug.own(); labels.own(); levels.own(); state.own();
  const std::size_t c = std::max<std::size_t>(cap, 1);
  cap = 0;  // grow() sizes every array for c slots, keeping what they hold
  grow(c);
}

bool HnswGraph::mapped() const {
  return links0.mapped() || vecs.mapped() || hvecs.mapped() || codes.mapped() || cnorm.mapped() ||
         xnorm.mapped() || aug.mapped() || labels.mapped() || levels.mapped() || state.mapped();
}

std::size_t HnswGraph::mapped_bytes() const {
  return links0.mapped_bytes() + vecs.mapped_bytes() + hvecs.mapped_bytes() + codes.mapped_bytes() +
         cnorm.mapped_bytes() + xnorm.mapped_bytes() + aug.mapped_bytes() + labels.mapped_bytes() +
         levels.mapped_bytes() + state.mapped_bytes();
}

void HnswGraph::ensure_all() const {
  links0.ensure(); vecs.ensure(); hvecs.ensure(); codes.ensure(); cnorm.ensure();
  xnorm.ensure(); aug.ensure(); labels.ensure(); levels.ensure(); state.ensure();
  if (links_ok_.load(std::memory_order_acquire)) return;
  std::lock_guard lk(links_mu_);
  if (links_ok_.load(std::memory_order_relaxed)) return;
  check_links();
  links0.release();  // the check read every list: only what walks read stays resident
  levels.release();
  links_ok_.store(true, std::memory_order_release);
}

void HnswGraph::check_links() const {
  for (std::size_t s = 0; s < nslots; ++s)
    for (int l = 0; l <= int(levels[s]); ++l) {
      const std::uint32_t* lst = ll(s, l);
      if (lst[0] > max_links(l))
        throw CorruptFileError(concat("corrupt index: bad neighbour count at slot ", s));
      for (std::size_t j = 0; j < lst[0]; ++j)
        if (!(lst[1 + j] < nslots && levels[lst[1 + j]] >= l))
          throw CorruptFileError(concat("corrupt index: bad neighbour id at slot ", s));
    }
}

}  // namespace detail

void HnswIndex::save(const std::string& path) const {
  std::shared_lock lk(g_->rw);
  const auto& g = *g_;
  g.ensure_all();
  const std::size_t ns = g.nslots;
  std::vector<std::int64_t> meta{next_id_, g.entry, g.max_level, std::int64_t(ns),
                                 g.p.M, g.p.ef_construction, g.p.quantized ? 1 : 0,
                                 std::int64_t(g.p.seed), g.sq_trained ? 1 : 0, g.bits,
                                 std::int64_t(g.p.storage)};
  std::vector<std::uint32_t> up;
  for (std::size_t s = 0; s < ns; ++s) up.insert(up.end(), g.upper[s].begin(), g.upper[s].end());
  // Derived arrays are saved too (traversal codes and their norms, the IP augmentation),
  // so that a mapped load reads nothing it does not need; 'hnsw_extra' marks such files.
  const std::vector<std::int64_t> extra{g.codes_exact ? 1 : 0};
  detail::FileWriter w("hnsw", metric_, dim_, g.nlive);
  w.add("meta", meta);
  w.add("hnsw_extra", extra);
  w.add("labels", g.labels.data(), ns * sizeof(idx_t));
  w.add("state", g.state.data(), ns);
  w.add("levels", g.levels.data(), ns);
  w.add("links0", g.links0.data(), ns * (g.R0 + 1) * sizeof(std::uint32_t));
  w.add("upper", up);
  if (g.half)
    w.add("vectors16", g.hvecs.data(), ns * g.d * sizeof(std::uint16_t));
  else if (!g.coded)
    w.add("vectors", g.vecs.data(), ns * g.d * sizeof(float));
  if (g.p.quantized) {
    w.add("codes", g.codes.data(), ns * g.cs);
    w.add("cnorm", g.cnorm.data(), ns * sizeof(float));
  }
  if (g.mips) {
    w.add("xnorm", g.xnorm.data(), ns * sizeof(float));
    w.add("aug", g.aug.data(), ns * sizeof(float));
  }
  w.add("sq_min", g.vmin);
  w.add("sq_scale", g.vscale);
  std::vector<float> m2{g.mips_m2};
  w.add("mips_m2", m2);
  w.write(path);
}

std::unique_ptr<HnswIndex> HnswIndex::load_from(const void* reader) {
  const auto& r = *static_cast<const detail::FileReader*>(reader);
  const std::string bad = "corrupt index file '" + r.path() + "': ";
  auto meta = r.vec<std::int64_t>("meta");
  // Files from before 4-bit codes have 9 entries (8-bit codes), from before storage
  // options 10 (fp32).
  WS_EXPECTS(meta.size() >= 9 && meta.size() <= 11, bad, "section 'meta' has ", meta.size(),
             " entries, expected 11");
  if (meta.size() == 9) meta.push_back(8);
  if (meta.size() == 10) meta.push_back(std::int64_t(Storage::FP32));
  WS_EXPECTS(meta[10] == std::int64_t(Storage::FP32) || meta[10] == std::int64_t(Storage::FP16) ||
                 (meta[10] == std::int64_t(Storage::SQ8) && meta[6] != 0 && meta[9] == 8),
             bad, "bad storage ", meta[10]);
  HnswParams p;
  p.storage = Storage(meta[10]);
  WS_EXPECTS(meta[4] >= 2 && meta[4] <= 256 && meta[5] >= 1 && meta[3] >= 0, bad, "bad parameters");
  p.M = int(meta[4]);
  p.ef_construction = int(meta[5]);
  p.quantized = meta[6] != 0;
  p.seed = std::uint64_t(meta[7]);
  WS_EXPECTS(meta[9] == 4 || meta[9] == 8, bad, "bad code width ", meta[9]);
  p.sq_bits = int(meta[9]);
  auto idx = std::make_unique<HnswIndex>(r.dim(), r.metric(), p);
  auto& g = *idx->g_;
  const std::size_t ns = std::size_t(meta[3]), d = g.d;
  g.sq_trained = meta[8] != 0;
  // Files from before the saved derived arrays: loaded into RAM, derived arrays recomputed.
  const bool current = r.has("hnsw_extra");
  r.load(g.labels, "labels", ns);
  r.load(g.state, "state", ns);
  r.load(g.levels, "levels", ns);
  r.load(g.links0, "links0", ns * (g.R0 + 1));
  if (g.half)
    r.load(g.hvecs, "vectors16", ns * d);
  else if (!g.coded)
    r.load(g.vecs, "vectors", ns * d);
  if (g.coded || (g.p.quantized && current)) r.load(g.codes, "codes", ns * g.cs);
  if (g.p.quantized && current) r.load(g.cnorm, "cnorm", ns);
  if (g.mips && current) {
    r.load(g.xnorm, "xnorm", ns);
    r.load(g.aug, "aug", ns);
  }
  g.cap = ns;
  g.nslots = ns;
  if (current) g.codes_exact = r.vec<std::int64_t>("hnsw_extra", 1)[0] != 0;
  if (!r.lazy() || !current) {
    g.to_ram();  // RAM: every array for cap slots, as after an add
  } else {
    g.upper.resize(ns);
    r.file()->advise_random();  // a walk reads scattered nodes
  }
  auto up = r.vec<std::uint32_t>("upper");
  std::size_t off = 0;
  for (std::size_t s = 0; s < ns; ++s) {
    const std::uint8_t st = g.state[s], lv = g.levels[s];
    WS_EXPECTS(st <= detail::kTomb && lv <= 30, bad, "bad node state");
    const std::size_t len = std::size_t(lv) * (g.R + 1);
    WS_EXPECTS(off + len <= up.size(), bad, "upper levels truncated");
    g.upper[s].assign(up.begin() + std::ptrdiff_t(off), up.begin() + std::ptrdiff_t(off + len));
    off += len;
    if (st == detail::kLive) {
      ++g.nlive;
    } else if (st == detail::kTomb) {
      ++g.ntomb;
    } else {
      g.free_slots.push_back(std::uint32_t(s));
    }
  }
  std::sort(g.free_slots.begin(), g.free_slots.end(), std::greater<>());
  WS_EXPECTS(off == up.size(), bad, "upper levels have trailing data");
  WS_EXPECTS(g.nlive == r.count(), bad, "count mismatch");
  g.entry = meta[1];
  g.max_level = int(meta[2]);
  WS_EXPECTS((g.entry < 0 && ns == 0) || (g.entry >= 0 && std::size_t(g.entry) < ns &&
              int(g.levels[std::size_t(g.entry)]) == g.max_level) || (g.entry < 0 && g.nlive == 0),
             bad, "bad entry point");
  // Links and ids: checked now in RAM; a mapped graph checks them on first use (reading
  // every list now would page in the whole graph).
  g.map_ready_.store(false);
  g.links_ok_.store(false);
  if (!g.mapped()) {
    try {
      g.ensure_all();
      g.ensure_map();
    } catch (const CorruptFileError& e) {
      throw CorruptFileError(bad + e.what());
    }
  }
  if (g.p.quantized && g.sq_trained) {
    g.vmin = r.vec<float>("sq_min", d);
    g.vscale = r.vec<float>("sq_scale", d);
    g.update_uniform();
    if (!current) {
      std::vector<float> v(d);
      for (std::size_t s = 0; s < ns; ++s) {
        if (g.state[s] == detail::kFree) continue;
        if (!g.coded) {
          if (!g.encode(s)) g.codes_exact = false;
          continue;
        }
        const float* dec = g.row(s, v.data());  // the code is the vector: its norm
        g.cnorm[s] = detail::kernels().ip(dec, dec, d);
      }
    }
  }
  WS_EXPECTS(!g.coded || g.sq_trained || ns == 0, bad, "sq8 storage without its range");
  if (g.mips) {  // after the codes: coded storage reads its vectors from them
    g.mips_m2 = r.vec<float>("mips_m2", 1)[0];
    if (!current)
      for (std::size_t s = 0; s < ns; ++s)
        if (g.state[s] != detail::kFree) g.set_norms(s);
  }
  idx->next_id_ = meta[0];
  return idx;
}

void HnswIndex::verify() const {
  std::shared_lock lk(g_->rw);
  g_->ensure_all();
  g_->ensure_map();
}

std::size_t HnswIndex::mapped_bytes() const {
  std::shared_lock lk(g_->rw);
  return g_->mapped_bytes();
}

}  // namespace warpsearch
