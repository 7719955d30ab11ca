// SPDX-FileCopyrightText: 2026 warpsearch contributors
// SPDX-License-Identifier: Apache-2.0
// IvfPqIndex: save/load in the warpsearch file format, and the memory model.
#include <algorithm>
#include <cmath>
#include <mutex>

#include "io/format.hpp"
#include "ivf_pq/ivf_pq_impl.hpp"
#include "simd/fastscan.hpp"
#include "warpsearch/errors.hpp"

namespace warpsearch {
namespace {

constexpr std::size_t kMetaLen = 12;

std::size_t list_code_bytes(const detail::IvfPqState& s, std::size_t n) {
  return s.fast_scan() ? fastscan_bytes(n, s.m) : n * s.m;
}

}  // namespace

void IvfPqIndex::save(const std::string& path) const {
  std::shared_lock lk(s_->mu);
  const auto& s = *s_;
  const std::vector<std::int64_t> meta{next_id_,
                                       s.p.nlist,
                                       s.p.m,
                                       s.p.nbits,
                                       std::int64_t(s.p.refine),
                                       std::int64_t(s.p.seed),
                                       s.p.kmeans_iters,
                                       s.p.max_points_per_centroid,
                                       s.trained ? 1 : 0,
                                       s.defaults.nprobe,
                                       s.defaults.refine_factor,
                                       std::int64_t(s.n)};
  s.ensure_all();
  // The lists' ids, codes and refine records are written straight from each list (a
  // section gathered from parts): no copy of the index is made to save it.
  std::vector<std::uint64_t> sizes;
  std::vector<detail::FileWriter::Part> ids, codes, refine;
  sizes.reserve(s.lists.size());
  for (const auto& L : s.lists) {
    sizes.push_back(L.size());
    ids.push_back({L.ids.data(), L.size() * sizeof(idx_t)});
    codes.push_back({L.codes.data(), list_code_bytes(s, L.size())});
    refine.push_back({L.refine.data(), L.size() * s.refine_bytes});
  }
  detail::FileWriter w("ivf_pq", metric_, dim_, s.n);
  w.add("meta", meta);
  w.add("list_sizes", sizes);
  w.add_parts("ids", std::move(ids));
  w.add_parts("codes", std::move(codes));
  w.add_parts("refine", std::move(refine));
  const std::vector<float> empty;
  w.add("centroids", s.centroids);
  w.add("probe_centroids", s.probe_centroids);
  w.add("pq_codebook", s.trained ? s.pq.codebook() : empty);
  w.add("sq_min", s.sq_min);
  w.add("sq_scale", s.sq_scale);
  const std::vector<std::int64_t> opq{s.p.opq};
  w.add("opq", opq);
  w.add("rotation", s.rot.matrix());
  w.add("probe_gaps", s.gaps.table());
  // Derived from the stored vectors; saved so that a mapped load need not read them all.
  w.add("radius", s.radius);
  w.write(path);
}

std::unique_ptr<IvfPqIndex> IvfPqIndex::load_from(const void* reader) {
  const auto& r = *static_cast<const detail::FileReader*>(reader);
  const std::string bad = "corrupt index file '" + r.path() + "': ";
  const auto meta = r.vec<std::int64_t>("meta", kMetaLen);
  IvfPqParams p;
  WS_EXPECTS(meta[1] >= 1 && meta[1] <= (1 << 24) && meta[2] >= 1 && meta[2] <= r.dim() &&
                 (meta[3] == 4 || meta[3] == 8) && meta[4] >= 0 && meta[4] <= 3 &&
                 meta[9] >= 1 && meta[10] >= 1 && meta[11] >= 0 && std::uint64_t(meta[11]) == r.count(),
             bad, "bad parameters");
  p.nlist = int(meta[1]);
  p.m = int(meta[2]);
  p.nbits = int(meta[3]);
  p.refine = Refine(meta[4]);
  p.seed = std::uint64_t(meta[5]);
  p.kmeans_iters = int(meta[6]);
  p.max_points_per_centroid = int(meta[7]);
  if (r.has("opq")) {  // files before OPQ have neither section (no rotation)
    const auto opq = r.vec<std::int64_t>("opq", 1);
    WS_EXPECTS(opq[0] >= -1 && opq[0] <= 1, bad, "bad opq setting");
    p.opq = int(opq[0]);
  }
  auto idx = std::make_unique<IvfPqIndex>(r.dim(), r.metric(), p);
  auto& s = *idx->s_;
  s.defaults.nprobe = int(meta[9]);
  s.defaults.refine_factor = int(meta[10]);
  idx->next_id_ = meta[0];
  const bool trained = meta[8] != 0;
  const std::size_t n = std::size_t(meta[11]), nlist = std::size_t(p.nlist);
  WS_EXPECTS(trained || n == 0, bad, "vectors in an untrained index");
  if (trained) {
    s.centroids = r.vec<float>("centroids", nlist * s.d);
    if (s.ip()) s.probe_centroids = r.vec<float>("probe_centroids", nlist * s.d);
    s.pq.set_codebook(r.vec<float>("pq_codebook", s.m * s.ksub * s.dsub));
    if (r.has("rotation")) {
      const auto rot = r.vec<float>("rotation");
      if (!rot.empty()) {
        WS_EXPECTS(rot.size() == s.d * s.d, bad, "the rotation is not dim x dim");
        for (std::size_t i = 0; i < s.d; ++i) {  // rows of an orthogonal matrix are unit vectors
          double nn = 0;
          for (std::size_t t = 0; t < s.d; ++t) nn += double(rot[i * s.d + t]) * rot[i * s.d + t];
          WS_EXPECTS(std::abs(nn - 1.0) < 1e-3, bad, "the rotation is not orthogonal");
        }
        s.rot.set(rot, s.d);
      }
    }
    if (r.has("probe_gaps")) {  // files before adaptive probing: fixed probing
      try {
        s.gaps = detail::ProbeGaps::from_table(r.vec<float>("probe_gaps"), nlist);
      } catch (const std::invalid_argument& e) {
        throw std::invalid_argument(bad + e.what());
      }
    }
    if (p.refine == Refine::SQ8) {
      s.sq_min = r.vec<float>("sq_min", s.d);
      s.sq_scale = r.vec<float>("sq_scale", s.d);
    }
    s.finish_training();
  }
  const auto sizes = r.vec<std::uint64_t>("list_sizes", nlist);
  const auto [idp, ids_len] = r.raw("ids");
  const auto [codes, code_len] = r.raw("codes");
  const auto [refine, refine_len] = r.raw("refine");
  (void)codes;
  (void)refine;
  std::size_t total = 0, code_off = 0, ref_off = 0;
  for (auto sz : sizes) {
    WS_EXPECTS(sz <= n, bad, "bad list size");
    total += sz;
    code_off += list_code_bytes(s, sz);
  }
  WS_EXPECTS(total == n && ids_len == n * sizeof(idx_t) && code_off == code_len && refine_len == n * s.refine_bytes, bad,
             "list sections do not match the list sizes");
  // Lists: copied into RAM, or views of the mapped sections (lazy).
  const bool lazy = r.lazy() && r.has("radius");
  if (!lazy) {  // ids must be unique (the id map itself is built on first need)
    std::vector<idx_t> sorted(n);
    if (n) std::memcpy(sorted.data(), idp, n * sizeof(idx_t));
    std::sort(sorted.begin(), sorted.end());
    const auto dup = std::adjacent_find(sorted.begin(), sorted.end());
    WS_EXPECTS(dup == sorted.end(), bad, "duplicate id ", dup == sorted.end() ? 0 : *dup);
  }
  code_off = 0;
  total = 0;
  for (std::size_t l = 0; l < nlist; ++l) {
    auto& L = s.lists[l];
    const std::size_t sz = sizes[l], cb = list_code_bytes(s, sz);
    r.load_part(L.ids, "ids", total * sizeof(idx_t), sz);
    r.load_part(L.codes, "codes", code_off, cb);
    r.load_part(L.refine, "refine", ref_off, sz * s.refine_bytes);
    total += sz;
    code_off += cb;
    ref_off += sz * s.refine_bytes;
  }
  s.n = n;
  if (r.lazy() && !lazy) s.own_all();  // files from before the saved radii: into RAM
  if (r.lazy()) {
    s.lists_ok.store(false);  // checksums of the mapped lists on first use
    s.map_ready.store(false);
    if (lazy) r.file()->advise_random();  // a search reads the few lists it probes
  }
  if (r.has("radius")) {
    s.radius = r.vec<float>("radius", nlist);
  } else {
    s.compute_radii();  // files before the saved radii: derived from the stored vectors
  }
  return idx;
}

void IvfPqIndex::verify() const {
  std::shared_lock lk(s_->mu);
  s_->ensure_all();
  // Mapped lists: ids unique (checked by the id map). In RAM the load checked them and
  // the map stays unbuilt until an id lookup needs it.
  if (s_->mapped_bytes() > 0) s_->ensure_map();
}

std::size_t IvfPqIndex::mapped_bytes() const {
  std::shared_lock lk(s_->mu);
  return s_->mapped_bytes();
}

std::size_t IvfPqIndex::memory_usage() const {
  std::shared_lock lk(s_->mu);
  const auto& s = *s_;
  std::size_t b = sizeof(detail::IvfPqState) + s.lists.capacity() * sizeof(detail::InvList);
  for (const auto& L : s.lists)
    b += L.ids.capacity() * sizeof(idx_t) + L.codes.capacity() + L.refine.capacity();
  b += (s.centroids.capacity() + s.probe_centroids.capacity() + s.pq.codebook().capacity() + s.cbt.capacity() +
        s.sq_min.capacity() + s.sq_scale.capacity() + s.ptab.capacity() + s.pmin.capacity() +
        s.prange.capacity() + s.psum_min.capacity() + s.rot.matrix().capacity() +
        s.rot_centroids.capacity() + s.gaps.table().capacity() + s.radius.capacity()) * sizeof(float) +
        s.rot.panel_bytes() +
        s.ptab16.capacity() * sizeof(std::int16_t);
  b += s.coarse.bytes() + s.map.bytes();
  return b;
}

IvfPqMemory IvfPqIndex::estimate_memory(std::size_t n, int dim, const IvfPqParams& params,
                                        Metric metric, bool with_id_map) {
  const detail::IvfPqState s(dim, metric, params);  // validates the parameters
  const std::size_t nlist = std::size_t(s.p.nlist), d = s.d;
  IvfPqMemory m;
  if (s.fast_scan()) {
    // Each non-empty cell wastes half a block of 32 codes on average.
    const std::size_t cells = std::min(n, nlist);
    m.codes = (n * 2 + cells * detail::kFsBlock) / (2 * detail::kFsBlock) * s.m_pad * 16;
  } else {
    m.codes = n * s.m;
  }
  m.ids = n * sizeof(idx_t);
  m.refine = n * s.refine_bytes;
  m.id_map = with_id_map ? detail::IdMap::capacity_for(n) * 16 : 0;
  const std::size_t np = (nlist + 15) / 16 * 16;
  m.centroids = nlist * d * 4 * (s.ip() ? 2 : 1) + np * d * 4 + 2 * np * 4 + 2 * s.m * s.ksub * s.dsub * 4 +
                (s.p.refine == Refine::SQ8 ? 2 * d * 4 : 0) + sizeof(detail::IvfPqState) +
                (s.cell_tables() ? nlist * (s.m * s.ksub + 2 * s.m + 1) * 4 : 0) +
                nlist * (sizeof(detail::InvList) + sizeof(float));
  m.centroids += detail::ProbeGaps::grid(nlist).size() * 2 * sizeof(float);  // adaptive probing
  // OPQ (on, or possibly chosen by auto): the matrix, its panel copy, rotated centroids.
  if (s.tries_opq()) m.centroids += (d * d + (d + 15) / 16 * 16 * d + nlist * d) * 4;
  m.total = m.codes + m.ids + m.refine + m.id_map + m.centroids;
  return m;
}

}  // namespace warpsearch
