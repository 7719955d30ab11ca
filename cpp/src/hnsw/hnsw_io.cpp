// SPDX-FileCopyrightText: 2026 warpsearch contributors
// SPDX-License-Identifier: Apache-2.0
// HnswIndex: save/load in the warpsearch file format.
#include <algorithm>
#include <functional>

#include "hnsw/hnsw_impl.hpp"
#include "io/format.hpp"
#include "warpsearch/errors.hpp"

namespace warpsearch {

void HnswIndex::save(const std::string& path) const {
  std::shared_lock lk(g_->rw);
  const auto& g = *g_;
  const std::size_t ns = g.nslots;
  std::vector<std::int64_t> meta{next_id_, g.entry, g.max_level, std::int64_t(ns),
                                 g.p.M, g.p.ef_construction, g.p.quantized ? 1 : 0,
                                 std::int64_t(g.p.seed), g.sq_trained ? 1 : 0, g.bits,
                                 std::int64_t(g.p.storage)};
  std::vector<std::uint32_t> up;
  for (std::size_t s = 0; s < ns; ++s) up.insert(up.end(), g.upper[s].begin(), g.upper[s].end());
  std::vector<std::uint32_t> l0(g.links0.begin(), g.links0.begin() + std::ptrdiff_t(ns * (g.R0 + 1)));
  detail::FileWriter w("hnsw", metric_, dim_, g.nlive);
  w.add("meta", meta);
  w.add("labels", g.labels.data(), ns * sizeof(idx_t));
  w.add("state", g.state.data(), ns);
  w.add("levels", g.levels.data(), ns);
  w.add("links0", l0);
  w.add("upper", up);
  if (g.half)
    w.add("vectors16", g.hvecs.data(), ns * g.d * sizeof(std::uint16_t));
  else if (g.coded)
    w.add("codes", g.codes.data(), ns * g.cs);
  else
    w.add("vectors", g.vecs.data(), ns * g.d * sizeof(float));
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
  g.grow(std::max<std::size_t>(ns, 1));
  g.nslots = ns;
  auto labels = r.vec<idx_t>("labels", ns);
  auto state = r.vec<std::uint8_t>("state", ns);
  auto levels = r.vec<std::uint8_t>("levels", ns);
  auto l0 = r.vec<std::uint32_t>("links0", ns * (g.R0 + 1));
  auto up = r.vec<std::uint32_t>("upper");
  if (g.half) {
    auto h = r.vec<std::uint16_t>("vectors16", ns * d);
    std::copy(h.begin(), h.end(), g.hvecs.begin());
  } else if (g.coded) {
    auto c = r.vec<std::uint8_t>("codes", ns * g.cs);
    std::copy(c.begin(), c.end(), g.codes.begin());
  } else {
    auto v = r.vec<float>("vectors", ns * d);
    std::copy(v.begin(), v.end(), g.vecs.begin());
  }
  std::copy(labels.begin(), labels.end(), g.labels.begin());
  std::copy(state.begin(), state.end(), g.state.begin());
  std::copy(levels.begin(), levels.end(), g.levels.begin());
  std::copy(l0.begin(), l0.end(), g.links0.begin());
  std::size_t off = 0;
  for (std::size_t s = 0; s < ns; ++s) {
    WS_EXPECTS(state[s] <= detail::kTomb && levels[s] <= 30, bad, "bad node state");
    const std::size_t len = std::size_t(levels[s]) * (g.R + 1);
    WS_EXPECTS(off + len <= up.size(), bad, "upper levels truncated");
    g.upper[s].assign(up.begin() + std::ptrdiff_t(off), up.begin() + std::ptrdiff_t(off + len));
    off += len;
    for (int l = 0; l <= int(levels[s]); ++l) {
      const std::uint32_t* lst = g.ll(s, l);
      WS_EXPECTS(lst[0] <= g.max_links(l), bad, "bad neighbour count");
      for (std::size_t j = 0; j < lst[0]; ++j)
        WS_EXPECTS(lst[1 + j] < ns && levels[lst[1 + j]] >= l, bad, "bad neighbour id");
    }
    if (state[s] == detail::kLive) {
      WS_EXPECTS(g.map.emplace(labels[s], std::uint32_t(s)).second, bad, "duplicate id ", labels[s]);
      ++g.nlive;
    } else if (state[s] == detail::kTomb) {
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
              int(levels[std::size_t(g.entry)]) == g.max_level) || (g.entry < 0 && g.nlive == 0),
             bad, "bad entry point");
  g.sq_trained = meta[8] != 0;
  if (g.p.quantized && g.sq_trained) {
    g.vmin = r.vec<float>("sq_min", d);
    g.vscale = r.vec<float>("sq_scale", d);
    g.update_uniform();
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
  WS_EXPECTS(!g.coded || g.sq_trained || ns == 0, bad, "sq8 storage without its range");
  if (g.mips) {  // after the codes: coded storage reads its vectors from them
    g.mips_m2 = r.vec<float>("mips_m2", 1)[0];
    for (std::size_t s = 0; s < ns; ++s)
      if (g.state[s] != detail::kFree) g.set_norms(s);
  }
  idx->next_id_ = meta[0];
  return idx;
}

}  // namespace warpsearch
