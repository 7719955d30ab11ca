// SPDX-FileCopyrightText: 2026 warpsearch contributors
// SPDX-License-Identifier: Apache-2.0
// Export of an HNSW index to the GPU graph search: level 0 becomes a padded
// nslots x R0 table, the upper levels a flat array with per-slot offsets; the
// exact vectors (normalized for cosine), labels and live state go along.
#include <limits>
#include <vector>

#include "hnsw/hnsw_impl.hpp"
#include "warpsearch/errors.hpp"
#include "warpsearch/gpu.hpp"

namespace warpsearch {

std::unique_ptr<GpuGraphData> HnswIndex::to_device(int device) const {
  auto dev = std::make_unique<GpuGraphData>(device);
  std::shared_lock lk(g_->rw);
  g_->ensure_all();  // a mapped graph: checksums and links, once
  const auto& g = *g_;
  constexpr std::uint32_t kNone = std::numeric_limits<std::uint32_t>::max();
  const std::size_t n = g.nslots, R0 = g.R0, R = g.R;
  std::vector<std::uint32_t> graph(n * R0, kNone);
  std::vector<std::uint64_t> live((n + 63) / 64, 0);
  std::vector<std::uint32_t> up_off(n, kNone);
  std::vector<std::uint32_t> up_links;
  for (std::size_t s = 0; s < n; ++s) {
    if (g.state[s] == detail::kFree) continue;
    if (g.state[s] == detail::kLive) detail::bit_set(live.data(), s);
    const std::uint32_t* l = g.ll0(s);
    const std::size_t cnt = std::min<std::size_t>(l[0], R0);
    for (std::size_t j = 0; j < cnt; ++j) graph[s * R0 + j] = l[1 + j] < n ? l[1 + j] : kNone;
    const int levels = g.levels[s];
    if (levels > 0) {
      WS_EXPECTS(up_links.size() + std::size_t(levels) * R < kNone, "graph too large for the GPU");
      up_off[s] = std::uint32_t(up_links.size());
      for (int lv = 1; lv <= levels; ++lv) {
        const std::uint32_t* u = g.ll(s, lv);
        const std::size_t c = std::min<std::size_t>(u[0], R);
        for (std::size_t j = 0; j < R; ++j) up_links.push_back(j < c && u[1 + j] < n ? u[1 + j] : kNone);
      }
    }
  }
  GraphView v;
  v.n = n;
  v.degree = R0;
  v.graph = graph.data();
  v.d = g.d;
  std::vector<float> decoded;  // fp16 storage: the device gets the decoded floats
  if (g.half || g.coded) {
    decoded.resize(n * g.d);
    for (std::size_t s = 0; s < n; ++s) g.row(s, &decoded[s * g.d]);
  }
  v.vectors = g.half || g.coded ? decoded.data() : g.vecs.data();
  v.labels = g.labels.data();
  v.live = live.data();
  v.metric = metric_;
  v.entry = g.entry;
  v.max_level = g.max_level < 0 ? 0 : g.max_level;
  if (!up_links.empty()) {
    v.upper_offsets = up_off.data();
    v.upper_links = up_links.data();
    v.upper_links_size = up_links.size();
    v.upper_degree = R;
  }
  dev->upload(v);
  return dev;
}

void HnswIndex::search_gpu(const GpuGraphData& dev, const float* q, std::size_t nq, const SearchParams& params,
                           float* D, idx_t* I, SearchStats* stats, MemSpace space) const {
  WS_EXPECTS(params.k > 0, "k must be > 0, got ", params.k);
  WS_EXPECTS(params.ef > 0, "ef must be > 0, got ", params.ef);
  std::shared_lock lk(g_->rw);
  g_->ensure_all();  // a mapped graph: checksums and links, once
  const auto& g = *g_;
  WS_EXPECTS_CURRENT_COPY(dev.size() == g.nlive);
  Bitset allow_bits;
  if (params.filter.active())
    allow_bits = make_allow(
        params.filter, g.nslots,
        [&](std::size_t s) { return g.state[s] == detail::kLive ? g.labels[s] : idx_t(-1); },
        [&](idx_t id) -> std::int64_t {
          auto it = g.map().find(id);
          return it == g.map().end() ? -1 : std::int64_t(it->second);
        });
  GpuSearchStats st;
  dev.search(q, nq, params.k, std::max(params.ef, params.k), allow_bits.empty() ? nullptr : allow_bits.data(),
             D, I, space, &st);
  if (stats) {
    stats->distance_evals += st.distance_evals;
    stats->nodes_visited += st.nodes_visited;
    stats->allowed = st.allowed;
    stats->plan = st.plan;
  }
}

}  // namespace warpsearch
