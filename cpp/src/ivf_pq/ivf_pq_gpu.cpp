// SPDX-FileCopyrightText: 2026 warpsearch contributors
// SPDX-License-Identifier: Apache-2.0
// IVF-PQ on the GPU, host side: export of the index to GpuIvfPqData, and the search
// plan around the device scan (filters, the exhaustive plan for small allowed sets,
// re-ranking of the GPU's candidates from the refine store on the CPU).
#include <algorithm>
#include <limits>
#include <mutex>

#include "common/bitset.hpp"
#include "common/topk.hpp"
#include "common/vector_ops.hpp"
#include "ivf_pq/ivf_pq_impl.hpp"
#include "simd/distance.hpp"
#include "warpsearch/errors.hpp"
#include "warpsearch/threads.hpp"

namespace warpsearch {

std::unique_ptr<GpuIvfPqData> IvfPqIndex::to_device(int device) const {
  auto dev = std::make_unique<GpuIvfPqData>(device);
  std::shared_lock lk(s_->mu);
  const auto& s = *s_;
  const std::size_t nlist = s.trained ? s.lists.size() : 0;
  std::vector<std::size_t> off(nlist + 1, 0);
  for (std::size_t l = 0; l < nlist; ++l) off[l + 1] = off[l] + s.lists[l].size();
  std::vector<std::uint8_t> codes(off[nlist] * s.m);
  for (std::size_t l = 0; l < nlist; ++l)
    for (std::size_t p = 0; p < s.lists[l].size(); ++p) s.get_code(l, p, &codes[(off[l] + p) * s.m]);
  IvfPqView v;
  v.n = off[nlist];
  v.d = s.d;
  v.nlist = nlist;
  v.m = s.m;
  v.nbits = s.p.nbits;
  v.metric = metric_;
  // With OPQ the device works in the rotated space throughout (probing distances and
  // dot products are unchanged by a rotation): rotated centroids here, rotated queries
  // in search_gpu.
  std::vector<float> rprobe;
  if (!s.rot.empty() && s.ip()) {
    rprobe.resize(s.probe_centroids.size());
    s.rot.apply(s.probe_centroids.data(), nlist, rprobe.data());
  }
  v.probe_centroids = !s.ip() ? s.pq_centroids() : rprobe.empty() ? s.probe_centroids.data() : rprobe.data();
  v.centroids = s.pq_centroids();
  v.codebook = s.trained ? s.pq.codebook().data() : nullptr;
  v.list_offsets = off.data();
  v.codes = codes.data();
  dev->upload(v);
  return dev;
}

void IvfPqIndex::search_gpu(const GpuIvfPqData& dev, const float* q, std::size_t nq,
                            const SearchParams& params, const IvfSearchParams& ivf, LutType lut,
                            float* D, idx_t* I, SearchStats* stats) const {
  WS_EXPECTS(params.k > 0 && params.k <= kGpuMaxK, "k must be in [1, ", kGpuMaxK, "] on the GPU, got ",
             params.k);
  WS_EXPECTS(ivf.nprobe >= 1, "nprobe must be >= 1, got ", ivf.nprobe);
  WS_EXPECTS(ivf.refine_factor >= 1, "refine_factor must be >= 1, got ", ivf.refine_factor);
  std::shared_lock lk(s_->mu);
  const auto& s = *s_;
  WS_EXPECTS(dev.size() == (s.trained ? s.n : 0),
             "the device copy of this index is out of date (the index changed since to_device)");
  const std::size_t k = std::size_t(params.k), d = s.d;
  const bool refine = s.p.refine != Refine::None;
  const std::size_t nlist = s.lists.size();
  // The GPU scores every code from float tables: 4-bit codes need no re-rank, so only a
  // refine store asks for more candidates than k (as many as on the CPU, up to kGpuMaxK).
  const SearchPlan sp = plan_search(params, ivf);
  const std::size_t allowed = sp.allowed;
  const std::vector<std::size_t>& base = sp.base;
  const std::uint64_t* allow = sp.allow();
  const bool brute = sp.brute;
  std::size_t kc = refine ? std::min(sp.kc, std::size_t(kGpuMaxK)) : k;
  std::size_t nprobe = sp.nprobe;
  float gap = sp.gap;
  // The CPU's plan: a small allowed set is searched exhaustively (every cell). With a
  // refine store, all of it is re-ranked when it fits the candidate list.
  if (brute) {
    nprobe = nlist;
    gap = -1.f;
    if (refine) kc = std::clamp(allowed, kc, std::size_t(kGpuMaxK));
  }
  SearchStats st;
  st.allowed = allowed;
  st.plan = brute ? 1 : allow ? 2 : 0;
  if (!s.trained || s.n == 0 || nq == 0) {
    for (std::size_t i = 0; i < nq * k; ++i) {
      D[i] = std::numeric_limits<float>::infinity();
      I[i] = -1;
    }
  } else {
    std::vector<float> qbuf;
    if (metric_ == Metric::Cosine) {
      qbuf.resize(nq * d);
      detail::normalize_rows(q, nq, d, qbuf.data());
      q = qbuf.data();
    }
    std::vector<float> keys(nq * kc);
    std::vector<idx_t> slots(nq * kc);
    GpuSearchStats gst;
    std::vector<float> rbuf;
    dev.search(s.pq_space(q, nq, rbuf), nq, int(nprobe), int(kc), allow, lut, keys.data(), slots.data(), &gst,
               gap);
    st.distance_evals = gst.distance_evals;
    st.nodes_visited = gst.nodes_visited;
    auto locate = [&](idx_t slot, std::size_t& l, std::size_t& p) {
      l = std::size_t(std::upper_bound(base.begin(), base.end(), std::size_t(slot)) - base.begin()) - 1;
      p = std::size_t(slot) - base[l];
    };
    if (!refine) {
      for (std::size_t i = 0; i < nq; ++i)
        for (std::size_t j = 0; j < k; ++j) {
          const idx_t slot = j < kc ? slots[i * kc + j] : -1;
          std::size_t l = 0, p = 0;
          if (slot >= 0) locate(slot, l, p);
          D[i * k + j] = slot >= 0 ? keys[i * kc + j] : std::numeric_limits<float>::infinity();
          I[i * k + j] = slot >= 0 ? s.lists[l].ids[p] : -1;
        }
    } else {
      // Exact distances of the candidates from the refine store (the CPU's re-rank).
      const auto& K = detail::kernels();
      std::vector<std::uint64_t> evals(nq, 0);
      parallel_for(nq, [&](std::size_t i, int) {
        std::vector<float> v(d);
        detail::TopK<idx_t> top(D + i * k, I + i * k, int(k));
        for (std::size_t j = 0; j < kc; ++j) {
          const idx_t slot = slots[i * kc + j];
          if (slot < 0) break;  // sorted: padding comes last
          std::size_t l = 0, p = 0;
          locate(slot, l, p);
          s.decode_refine(&s.lists[l].refine[p * s.refine_bytes], v.data());
          const float* qi = q + i * d;
          const float dist = s.ip() ? -K.ip(qi, v.data(), d) : K.l2(qi, v.data(), d);
          ++evals[i];
          if (dist < top.threshold()) top.push(dist, s.lists[l].ids[p]);
        }
        top.finish();
      });
      for (const auto e : evals) st.distance_evals += e;
    }
  }
  finalize_distances(D, I, nq * k);
  if (stats) {
    stats->distance_evals += st.distance_evals;
    stats->nodes_visited += st.nodes_visited;
    stats->allowed = st.allowed;
    stats->plan = st.plan;
    stats->adaptive = gap >= 0.f;
  }
}

}  // namespace warpsearch
