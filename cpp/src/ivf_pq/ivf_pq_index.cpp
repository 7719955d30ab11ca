// SPDX-FileCopyrightText: 2026 warpsearch contributors
// SPDX-License-Identifier: Apache-2.0
// IvfPqIndex: construction, training, add, remove and accessors.
#include <algorithm>
#include <cmath>
#include <limits>
#include <mutex>
#include <random>

#include "common/vector_ops.hpp"
#include "ivf_pq/ivf_pq_impl.hpp"
#include "quantization/vector_codec.hpp"
#include "simd/distance.hpp"
#include "simd/fastscan.hpp"
#include "warpsearch/errors.hpp"
#include "warpsearch/kmeans.hpp"
#include "warpsearch/threads.hpp"

namespace warpsearch {
namespace detail {
namespace {

// Normalized copy for cosine, else the input itself.
const float* prepared(const float* x, std::size_t n, std::size_t d, Metric metric,
                      std::vector<float>& buf) {
  return metric_rows(x, n, d, metric, buf);
}

// The n rows base[lab[i]] + r[i] with their residual r replaced by its PQ reconstruction
// (residuals rotated by rot for the codebooks, and back).
std::vector<float> pq_reconstruct(const ProductQuantizer& pq, const Rotation& rot, const float* r,
                                  std::size_t n, const std::int32_t* lab, const float* base) {
  const std::size_t d = std::size_t(pq.dim()), m = std::size_t(pq.m());
  std::vector<float> buf, y(n * d), out(n * d);
  const float* rr = r;
  if (!rot.empty()) {
    buf.resize(n * d);
    rot.apply(r, n, buf.data());
    rr = buf.data();
  }
  std::vector<std::uint8_t> codes(n * m);
  pq.encode(rr, n, codes.data());
  pq.decode(codes.data(), n, y.data());
  if (!rot.empty()) rot.apply_transpose(y.data(), n, out.data()), std::swap(y, out);
  for (std::size_t i = 0; i < n; ++i)
    for (std::size_t j = 0; j < d; ++j) out[i * d + j] = base[std::size_t(lab[i]) * d + j] + y[i * d + j];
  return out;
}

// Share of the k nearest rows of x (exact) that are among the `depth` nearest by the
// approximations xh, over nq queries.
double ranking_recall(const float* q, std::size_t nq, const float* x, const float* xh,
                      std::size_t n, std::size_t d, bool ip, std::size_t k, std::size_t depth) {
  const auto& K = kernels();
  k = std::min(k, n);
  depth = std::min(depth, n);
  std::vector<std::size_t> hits(nq, 0);
  parallel_for(nq, [&](std::size_t i, int) {
    const float* qi = q + i * d;
    std::vector<std::pair<float, std::size_t>> ex(n), ap(n);
    for (std::size_t j = 0; j < n; ++j) {
      ex[j] = {ip ? -K.ip(qi, x + j * d, d) : K.l2(qi, x + j * d, d), j};
      ap[j] = {ip ? -K.ip(qi, xh + j * d, d) : K.l2(qi, xh + j * d, d), j};
    }
    std::partial_sort(ex.begin(), ex.begin() + std::ptrdiff_t(k), ex.end());
    std::nth_element(ap.begin(), ap.begin() + std::ptrdiff_t(depth - 1), ap.end());
    std::vector<std::size_t> top(depth);
    for (std::size_t j = 0; j < depth; ++j) top[j] = ap[j].second;
    std::sort(top.begin(), top.end());
    for (std::size_t j = 0; j < k; ++j) hits[i] += std::binary_search(top.begin(), top.end(), ex[j].second);
  });
  std::size_t total = 0;
  for (const auto h : hits) total += h;
  return nq ? double(total) / double(nq * k) : 0.0;
}

// The "auto" OPQ decision. The rotation costs dim^2 per query, so it is kept when it
// finds more true neighbours where the ranking by PQ distances decides: at least 1 more
// in 100 of the 10 nearest sample rows among the 20 best by reconstruction (with a
// refine store, which re-ranks k * refine_factor candidates; the sample is sparser than
// the index, so its depth is smaller) or among the 10 best (without one: the PQ ranking
// is the result), for up to 200 validation rows from outside the sample. When the plain
// codes already find 98 in 100, the rotation is not even trained. Without validation
// rows (every row in the sample), it is kept when it lowers the reconstruction error.
// (On the development data: sift, 128-d L2, 0.973 -> 0.994 at depth 20, kept; MiniLM
// text, 384-d IP, 0.988: not tried; there the cells, not the codes, limit recall.)
class OpqCheck {
 public:
  OpqCheck(const IvfPqState& s, const float* x, std::size_t n, const std::vector<std::size_t>& rows,
           const std::vector<float>& res, const std::vector<std::int32_t>& lab,
           const std::vector<float>& cent)
      : s_(s), res_(res), lab_(lab), cent_(cent), d_(s.d), nt_(rows.size()) {
    xs_.resize(nt_ * d_);
    for (std::size_t i = 0; i < nt_; ++i)
      for (std::size_t j = 0; j < d_; ++j) xs_[i * d_ + j] = cent[std::size_t(lab[i]) * d_ + j] + res[i * d_ + j];
    std::mt19937_64 rng(s.p.seed ^ 0x2545F4914F6CDD1Dull);
    for (std::size_t t = 0; t < 4 * kQueries && n > nt_ && q_.size() < kQueries * d_; ++t) {
      const std::size_t r = std::size_t(rng() % n);
      if (std::binary_search(rows.begin(), rows.end(), r)) continue;
      q_.insert(q_.end(), x + r * d_, x + (r + 1) * d_);
    }
  }
  // Validation recall of a quantizer (NaN without validation rows).
  double recall(const ProductQuantizer& pq, const Rotation& rot) const {
    const std::size_t nq = q_.size() / d_;
    if (nq < kMinQueries) return std::numeric_limits<double>::quiet_NaN();
    const auto xh = pq_reconstruct(pq, rot, res_.data(), nt_, lab_.data(), cent_.data());
    const std::size_t depth = s_.p.refine != Refine::None ? 20 : 10;
    return ranking_recall(q_.data(), nq, xs_.data(), xh.data(), nt_, d_, s_.ip(), 10, depth);
  }
  double error(const ProductQuantizer& pq, const Rotation& rot) const {
    const auto xh = pq_reconstruct(pq, rot, res_.data(), nt_, lab_.data(), cent_.data());
    double e = 0;
    for (std::size_t i = 0; i < nt_ * d_; ++i) e += double(xs_[i] - xh[i]) * double(xs_[i] - xh[i]);
    return e;
  }

 private:
  static constexpr std::size_t kQueries = 200, kMinQueries = 20;
  const IvfPqState& s_;
  const std::vector<float>& res_;
  const std::vector<std::int32_t>& lab_;
  const std::vector<float>& cent_;
  std::size_t d_, nt_;
  std::vector<float> xs_, q_;
};

}  // namespace

}  // namespace detail

IvfPqIndex::IvfPqIndex(int dim, Metric metric, const IvfPqParams& params)
    : Index(dim, metric), s_(std::make_unique<detail::IvfPqState>(dim, metric, params)) {}

IvfPqIndex::~IvfPqIndex() = default;

bool IvfPqIndex::is_trained() const {
  std::shared_lock lk(s_->mu);
  return s_->trained;
}

const IvfPqParams& IvfPqIndex::params() const { return s_->p; }

void IvfPqIndex::set_search_defaults(const IvfSearchParams& p) {
  WS_EXPECTS(p.nprobe >= 1, "nprobe must be >= 1, got ", p.nprobe);
  WS_EXPECTS(p.refine_factor >= 1, "refine_factor must be >= 1, got ", p.refine_factor);
  std::unique_lock lk(s_->mu);
  s_->defaults = p;
}

void IvfPqIndex::train(const float* x, std::size_t n, int device) {
  auto& s = *s_;
  const std::size_t nlist = std::size_t(s.p.nlist), d = s.d;
  WS_EXPECTS(n >= nlist, "training needs at least nlist=", nlist, " vectors, got ", n);
  WS_EXPECTS(n >= s.ksub, "training needs at least ", s.ksub, " vectors for the PQ codebooks, got ", n);
  std::unique_lock wlk(s.mu);
  WS_EXPECTS(s.n == 0, "the index holds ", s.n, " vectors; train an empty index");
  validate_add(x, n, nullptr);
  std::vector<float> buf;
  x = detail::prepared(x, n, d, metric_, buf);

  std::vector<float> cent(nlist * d);
  KMeansParams kp;
  kp.iters = s.p.kmeans_iters;
  kp.seed = s.p.seed;
  kp.max_points_per_centroid = s.p.max_points_per_centroid;
  kp.device = device;
  kp.objective = false;  // one assignment pass less (10% of k-means at 10 iterations)
  // Inner-product cells: unit centroids (spherical k-means), otherwise probing by the
  // largest q.c favours the centroids of wide clusters and unbalances the cells.
  kp.spherical = s.ip();
  kmeans(x, n, d, nlist, kp, cent.data());
  detail::CentroidPanels cp;
  cp.set(cent.data(), nlist, d);
  std::vector<float> probe;
  if (s.ip()) {
    // Residuals are taken from the cell means (shorter than from the unit centroids,
    // which sit on the sphere while the data of a cell may not).
    probe = cent;
    detail::cell_means(x, n, d, cp, true, cent.data());
  }

  // PQ codebooks on residuals of a sample (8-bit: fewer points per centroid, its k-means
  // is 16x larger).
  std::mt19937_64 rng(s.p.seed ^ 0xA0761D6478BD642Full);
  const std::size_t cap = s.ksub * (s.p.nbits == 8 ? 64 : 256);
  const auto rows = detail::sample_indices(n, std::min(n, cap), rng);
  const std::size_t nt = rows.size();
  std::vector<float> res(nt * d), dist(nt);
  std::vector<std::int32_t> lab(nt);
  for (std::size_t i = 0; i < nt; ++i) std::memcpy(&res[i * d], x + rows[i] * d, d * sizeof(float));
  parallel_for((nt + 255) / 256, [&](std::size_t t, int) {
    const std::size_t b = t * 256, e = std::min(nt, b + 256);
    cp.nearest(&res[b * d], e - b, s.ip(), &dist[b], &lab[b]);
    for (std::size_t i = b; i < e; ++i)
      for (std::size_t j = 0; j < d; ++j) res[i * d + j] -= cent[std::size_t(lab[i]) * d + j];
  });
  ProductQuantizer pq(dim_, int(s.m), s.p.nbits);
  pq.train(res.data(), nt, s.p.seed + 1, 20, 0);
  detail::Rotation rot;
  if (s.tries_opq()) {
    // Non-parametric OPQ: the residuals on their principal axes, grouped by eigenvalue
    // allocation. "auto" keeps it only where it pays (see OpqCheck).
    const detail::OpqCheck check(s, x, n, rows, res, lab, cent);
    const double base = s.p.opq == 1 ? 0.0 : check.recall(pq, detail::Rotation{});
    if (!(base >= 0.98)) {
      rot = detail::Rotation::train(res.data(), nt, d, s.dsub);
      std::vector<float> rres(nt * d);
      rot.apply(res.data(), nt, rres.data());
      ProductQuantizer rpq(dim_, int(s.m), s.p.nbits);
      rpq.train(rres.data(), nt, s.p.seed + 1, 20, 0);
      bool keep = s.p.opq == 1;
      if (!keep && std::isnan(base)) keep = check.error(rpq, rot) < check.error(pq, detail::Rotation{});
      if (!keep && !std::isnan(base)) keep = check.recall(rpq, rot) >= base + 0.01;
      if (keep) {
        pq = std::move(rpq);
      } else {
        rot.clear();
      }
    }
  }

  std::vector<float> vmin, vscale;
  if (s.p.refine == Refine::SQ8) {
    vmin.assign(d, std::numeric_limits<float>::infinity());
    std::vector<float> vmax(d, -std::numeric_limits<float>::infinity());
    for (std::size_t i = 0; i < n; ++i)
      for (std::size_t j = 0; j < d; ++j) {
        vmin[j] = std::min(vmin[j], x[i * d + j]);
        vmax[j] = std::max(vmax[j], x[i * d + j]);
      }
    // Integer data whose range spans at most 256 values per dimension (uint8
    // descriptors such as SIFT) gets the unit grid: its sq8 copy is then lossless.
    bool unit_grid = true;
    for (std::size_t i = 0; i < n * d && unit_grid; ++i) unit_grid = x[i] == std::nearbyint(x[i]);
    for (std::size_t j = 0; j < d && unit_grid; ++j) unit_grid = vmax[j] - vmin[j] <= 255.f;
    vscale.resize(d);
    for (std::size_t j = 0; j < d; ++j) vscale[j] = unit_grid ? 1.f : (vmax[j] - vmin[j]) / 255.f;
  }
  // Probing by centroid-distance gaps, calibrated on the probing centroids.
  s.gaps = detail::ProbeGaps::calibrate(cp, x, n, s.ip(), s.p.seed ^ 0x9E3779B97F4A7C15ull);
  s.centroids = std::move(cent);
  s.probe_centroids = std::move(probe);
  s.pq = std::move(pq);
  s.rot = std::move(rot);
  s.sq_min = std::move(vmin);
  s.sq_scale = std::move(vscale);
  s.radius.assign(nlist, 0.f);  // the lists are empty; removed vectors may have grown it
  s.finish_training();
  ++s.generation;
}

void IvfPqIndex::add(const float* x, std::size_t n, const idx_t* ids) {
  auto& s = *s_;
  validate_add(x, n, ids);
  std::shared_lock rlk(s.mu);
  WS_EXPECTS(s.trained, "the index is not trained: call train() before add()");
  if (n == 0) return;
  const std::uint64_t generation = s.generation;
  const std::size_t d = s.d, m = s.m, rb = s.refine_bytes;
  std::vector<float> buf;
  x = detail::prepared(x, n, d, metric_, buf);
  if (s.p.refine == Refine::FP16) detail::expect_half_range(x, n, d, "refine='fp16'");
  // Encoding reads only the codebooks: a shared lock lets searches run meanwhile.
  std::vector<std::int32_t> lab(n);
  std::vector<std::uint8_t> codes(n * m), recs(n * rb);
  constexpr std::size_t kChunk = 16384;
  std::vector<float> res, dist, rbuf;
  for (std::size_t c0 = 0; c0 < n; c0 += kChunk) {
    const std::size_t c1 = std::min(n, c0 + kChunk), nc = c1 - c0;
    res.resize(nc * d);
    dist.resize(nc);
    parallel_for((nc + 255) / 256, [&](std::size_t t, int) {
      const std::size_t b = t * 256, e = std::min(nc, b + 256);
      s.coarse.nearest(x + (c0 + b) * d, e - b, s.ip(), &dist[b], &lab[c0 + b]);
      for (std::size_t i = b; i < e; ++i) {
        const float* v = x + (c0 + i) * d;
        const float* c = &s.centroids[std::size_t(lab[c0 + i]) * d];
        for (std::size_t j = 0; j < d; ++j) res[i * d + j] = v[j] - c[j];
        if (rb) s.encode_refine(v, &recs[(c0 + i) * rb]);
      }
    });
    s.pq.encode(s.pq_space(res.data(), nc, rbuf), nc, &codes[c0 * m]);
  }

  rlk.unlock();
  std::unique_lock lk(s.mu);
  WS_EXPECTS(s.generation == generation, "the index was retrained during add; add again");
  s.own_all();  // mapped lists are copied into RAM before their first change
  // Reserve everything first: past this block nothing can fail, so an error leaves the
  // index as it was.
  std::vector<std::size_t> extra(s.lists.size(), 0);
  for (std::size_t i = 0; i < n; ++i) ++extra[std::size_t(lab[i])];
  for (std::size_t l = 0; l < s.lists.size(); ++l) {
    if (!extra[l]) continue;
    auto& L = s.lists[l];
    const std::size_t need = L.size() + extra[l];
    detail::grow_to(L.ids, need);
    detail::grow_to(L.codes, s.fast_scan() ? fastscan_bytes(need, m) : need * m);
    detail::grow_to(L.refine, need * rb);
  }
  // Explicit ids may replace stored vectors: they need the id map. Default ids are new.
  if (ids) s.ensure_map();
  const bool mapped = s.map_ready.load();
  if (mapped) s.map.reserve(s.n + n);
  for (std::size_t i = 0; i < n; ++i) {
    const idx_t id = ids ? ids[i] : next_id_ + idx_t(i);
    const std::uint64_t old = mapped ? s.map.find(id) : detail::IdMap::kNone;
    if (old != detail::IdMap::kNone) {
      s.erase(detail::loc_list(old), detail::loc_pos(old));
    } else {
      ++s.n;
    }
    const std::size_t l = std::size_t(lab[i]);
    const std::size_t pos = s.append(l, id, &codes[i * m], rb ? &recs[i * rb] : nullptr);
    if (mapped) s.map.set(id, detail::pack_loc(l, pos));
  }
  advance_next_id(ids, n);
}

std::size_t IvfPqIndex::remove(const idx_t* ids, std::size_t n) {
  auto& s = *s_;
  std::unique_lock lk(s.mu);
  if (n == 0 || s.n == 0) return 0;
  s.own_all();  // mapped lists are copied into RAM before their first change
  s.ensure_map();
  std::size_t removed = 0;
  for (std::size_t i = 0; i < n; ++i) {
    const std::uint64_t loc = s.map.find(ids[i]);
    if (loc == detail::IdMap::kNone) continue;
    s.map.erase(ids[i]);
    s.erase(detail::loc_list(loc), detail::loc_pos(loc));
    --s.n;
    ++removed;
  }
  return removed;
}

std::size_t IvfPqIndex::size() const {
  std::shared_lock lk(s_->mu);
  return s_->n;
}

bool IvfPqIndex::contains(idx_t id) const {
  std::shared_lock lk(s_->mu);
  s_->ensure_map();
  return s_->map.find(id) != detail::IdMap::kNone;
}

std::vector<idx_t> IvfPqIndex::ids() const {
  std::shared_lock lk(s_->mu);
  s_->ensure_all();
  std::vector<idx_t> out;
  out.reserve(s_->n);
  for (const auto& L : s_->lists) out.insert(out.end(), L.ids.begin(), L.ids.end());
  return out;
}

std::vector<bool> IvfPqIndex::reconstruct(const idx_t* ids, std::size_t n, float* out) const {
  std::shared_lock lk(s_->mu);
  s_->ensure_all();
  std::vector<bool> found(n, false);
  if (n > 0) s_->ensure_map();
  for (std::size_t i = 0; i < n; ++i) {
    const std::uint64_t loc = s_->map.find(ids[i]);
    if (loc == detail::IdMap::kNone) continue;
    s_->reconstruct(detail::loc_list(loc), detail::loc_pos(loc), out + i * s_->d);
    found[i] = true;
  }
  return found;
}

std::vector<float> IvfPqIndex::centroids() const {
  std::shared_lock lk(s_->mu);
  return s_->ip() ? s_->probe_centroids : s_->centroids;
}

std::vector<float> IvfPqIndex::pq_codebook() const {
  std::shared_lock lk(s_->mu);
  return s_->trained ? s_->pq.codebook() : std::vector<float>{};
}

std::vector<float> IvfPqIndex::rotation() const {
  std::shared_lock lk(s_->mu);
  return s_->rot.matrix();
}

std::vector<float> IvfPqIndex::probe_gaps() const {
  std::shared_lock lk(s_->mu);
  return s_->gaps.table();
}

std::vector<std::size_t> IvfPqIndex::list_sizes() const {
  std::shared_lock lk(s_->mu);
  std::vector<std::size_t> out;
  for (const auto& L : s_->lists) out.push_back(L.size());
  return out;
}

}  // namespace warpsearch
