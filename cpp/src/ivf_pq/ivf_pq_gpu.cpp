// SPDX-FileCopyrightText: 2026 warpsearch contributors
// SPDX-License-Identifier: Apache-2.0
// IVF-PQ on the GPU, host side: export of the index to GpuIvfPqData, and the plan of a
// search (filters, the exhaustive plan for small allowed sets, adaptive probing,
// candidates to re-rank), which the device then runs from end to end.
#include <algorithm>
#include <limits>
#include <mutex>

#include "ivf_pq/ivf_pq_impl.hpp"
#include "warpsearch/errors.hpp"

namespace warpsearch {

std::unique_ptr<GpuIvfPqData> IvfPqIndex::to_device(int device) const {
  auto dev = std::make_unique<GpuIvfPqData>(device);
  std::shared_lock lk(s_->mu);
  s_->ensure_all();
  const auto& s = *s_;
  const std::size_t nlist = s.trained ? s.lists.size() : 0;
  std::vector<std::size_t> off(nlist + 1, 0);
  for (std::size_t l = 0; l < nlist; ++l) off[l + 1] = off[l] + s.lists[l].size();
  const std::size_t n = off[nlist], rb = s.refine_bytes;
  std::vector<std::uint8_t> codes(n * s.m);
  std::vector<idx_t> ids(n);
  std::vector<std::uint8_t> recs(s.p.refine != Refine::None ? n * rb : 0);
  for (std::size_t l = 0; l < nlist; ++l) {
    const auto& L = s.lists[l];
    for (std::size_t p = 0; p < L.size(); ++p) s.get_code(l, p, &codes[(off[l] + p) * s.m]);
    std::copy(L.ids.begin(), L.ids.end(), ids.begin() + std::ptrdiff_t(off[l]));
    if (!recs.empty() && L.size())
      std::copy(L.refine.begin(), L.refine.begin() + std::ptrdiff_t(L.size() * rb),
                recs.begin() + std::ptrdiff_t(off[l] * rb));
  }
  IvfPqView v;
  v.n = n;
  v.d = s.d;
  v.nlist = nlist;
  v.m = s.m;
  v.nbits = s.p.nbits;
  v.metric = metric_;
  // With OPQ the device probes and scans in the rotated space (probing distances and
  // dot products are unchanged by a rotation): rotated centroids here, and the device
  // rotates the queries. The refine store holds unrotated vectors.
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
  v.ids = ids.data();
  v.rotation = s.trained && !s.rot.empty() ? s.rot.matrix().data() : nullptr;
  if (s.trained && !recs.empty()) {
    v.refine = s.p.refine;
    v.refine_bytes = rb;
    v.refine_codes = recs.data();
    v.sq_min = s.sq_min.empty() ? nullptr : s.sq_min.data();
    v.sq_scale = s.sq_scale.empty() ? nullptr : s.sq_scale.data();
  }
  dev->upload(v);
  return dev;
}

void IvfPqIndex::search_gpu(const GpuIvfPqData& dev, const float* q, std::size_t nq,
                            const SearchParams& params, const IvfSearchParams& ivf, LutType lut,
                            float* D, idx_t* I, SearchStats* stats, MemSpace space) const {
  WS_EXPECTS(params.k > 0 && params.k <= kGpuMaxK, "k must be in [1, ", kGpuMaxK, "] on the GPU, got ",
             params.k);
  WS_EXPECTS(ivf.nprobe >= 1, "nprobe must be >= 1, got ", ivf.nprobe);
  WS_EXPECTS(ivf.refine_factor >= 1, "refine_factor must be >= 1, got ", ivf.refine_factor);
  std::shared_lock lk(s_->mu);
  s_->ensure_all();
  const auto& s = *s_;
  WS_EXPECTS_CURRENT_COPY(dev.size() == (s.trained ? s.n : 0));
  const std::size_t k = std::size_t(params.k);
  const bool refine = s.p.refine != Refine::None;
  // The GPU scores every code from float tables: 4-bit codes need no re-rank, so only a
  // refine store asks for more candidates than k (as many as on the CPU, up to kGpuMaxK).
  const SearchPlan sp = plan_search(params, ivf);
  GpuIvfPlan plan;
  plan.k = int(k);
  plan.kc = int(refine ? std::clamp(sp.kc, k, std::size_t(kGpuMaxK)) : k);
  plan.nprobe = int(std::min<std::size_t>(sp.nprobe, std::size_t(std::numeric_limits<int>::max())));
  plan.gap = sp.gap;
  plan.allow = sp.allow();
  // The CPU's plan: a small allowed set is searched exhaustively (every cell). With a
  // refine store, all of it is re-ranked when it fits the candidate list.
  if (sp.brute) {
    plan.nprobe = int(s.lists.size());
    plan.gap = -1.f;
    if (refine) plan.kc = int(std::clamp(sp.allowed, std::size_t(plan.kc), std::size_t(kGpuMaxK)));
  }
  GpuSearchStats gst;
  dev.search(q, nq, plan, lut, D, I, space, &gst);
  if (stats) {
    stats->distance_evals += gst.distance_evals;
    stats->nodes_visited += gst.nodes_visited;
    stats->allowed = sp.allowed;
    stats->plan = sp.brute ? 1 : plan.allow ? 2 : 0;
    stats->adaptive = plan.gap >= 0.f;
  }
}

}  // namespace warpsearch
