// SPDX-FileCopyrightText: 2026 warpsearch contributors
// SPDX-License-Identifier: Apache-2.0
// IvfPqState: derived tables, refine records, and the per-cell storage of codes (append,
// erase, code access) and of the id map.
#include <algorithm>
#include <cmath>
#include <limits>
#include <mutex>

#include "ivf_pq/ivf_pq_impl.hpp"
#include "simd/fastscan.hpp"
#include "warpsearch/errors.hpp"
#include "warpsearch/threads.hpp"

namespace warpsearch::detail {
namespace {

int resolve_m(int dim, int m) { return m > 0 ? m : (dim % 2 == 0 ? dim / 2 : dim); }

}  // namespace

void cell_means(const float* x, std::size_t n, std::size_t d, const CentroidPanels& cp, bool ip,
                float* means) {
  const std::size_t k = cp.k();
  std::vector<std::int32_t> lab(n);
  std::vector<float> dist(n);
  parallel_for((n + 255) / 256, [&](std::size_t t, int) {
    const std::size_t b = t * 256, e = std::min(n, b + 256);
    cp.nearest(x + b * d, e - b, ip, &dist[b], &lab[b]);
  });
  std::vector<std::size_t> start, order;
  group_by_label(lab.data(), n, k, start, order);
  parallel_for(k, [&](std::size_t j, int) {
    if (start[j] == start[j + 1]) return;  // an empty cell keeps its centroid
    std::vector<double> acc(d, 0.0);
    for (std::size_t t = start[j]; t < start[j + 1]; ++t)
      for (std::size_t p = 0; p < d; ++p) acc[p] += x[order[t] * d + p];
    for (std::size_t p = 0; p < d; ++p) means[j * d + p] = float(acc[p] / double(start[j + 1] - start[j]));
  }, 16);
}

IvfPqState::IvfPqState(int dim, Metric mt, const IvfPqParams& params)
    : p(params), metric(mt), pq(dim, resolve_m(dim, params.m), params.nbits) {
  WS_EXPECTS(params.nlist >= 1 && params.nlist <= (1 << 24), "nlist must be in [1, 2^24], got ",
             params.nlist);
  WS_EXPECTS(params.kmeans_iters >= 0, "kmeans_iters must be >= 0, got ", params.kmeans_iters);
  WS_EXPECTS(params.max_points_per_centroid >= 0, "max_points_per_centroid must be >= 0");
  WS_EXPECTS(params.opq >= -1 && params.opq <= 1, "opq must be -1 (auto), 0 or 1, got ", params.opq);
  p.m = pq.m();
  d = std::size_t(dim);
  m = std::size_t(pq.m());
  ksub = std::size_t(pq.ksub());
  dsub = std::size_t(pq.dsub());
  m_pad = fastscan_m_pad(m);
  switch (p.refine) {
    case Refine::None: refine_bytes = 0; break;
    case Refine::SQ8: refine_bytes = d + sizeof(float); break;
    case Refine::FP16: refine_bytes = 2 * d; break;
    case Refine::FP32: refine_bytes = 4 * d; break;
    default: WS_EXPECTS(false, "unknown refine mode ", std::uint32_t(p.refine));
  }
  lists.resize(std::size_t(p.nlist));
  radius.assign(lists.size(), 0.f);
}

void IvfPqState::row_weights() {
  // A row's table range grows with the squared spread of its codewords: row j gets units
  // 2^t_j finer than the widest row, t_j = floor(log2(widest / spread_j)) up to
  // kMaxShift, made equal within a group of kFsShiftRows rows (their minimum) and
  // non-decreasing along the rows (suffix minimum).
  constexpr unsigned kMaxShift = 3;
  const auto& cb = pq.codebook();
  std::vector<double> spread(m, 0.0);
  for (std::size_t j = 0; j < m; ++j)
    for (std::size_t a = 0; a < ksub; ++a)
      for (std::size_t b = a + 1; b < ksub; ++b) {
        double s = 0;
        for (std::size_t t = 0; t < dsub; ++t) {
          const double df = double(cb[(j * ksub + a) * dsub + t]) - cb[(j * ksub + b) * dsub + t];
          s += df * df;
        }
        spread[j] = std::max(spread[j], s);
      }
  const double widest = m ? *std::max_element(spread.begin(), spread.end()) : 0.0;
  const std::size_t groups = (m_pad + kFsShiftRows - 1) / kFsShiftRows;
  std::vector<unsigned> tg(groups, kMaxShift);
  for (std::size_t j = 0; j < m; ++j) {
    unsigned t = kMaxShift;
    if (spread[j] > 0 && widest > 0)
      t = unsigned(std::clamp(std::floor(std::log2(widest / spread[j])), 0.0, double(kMaxShift)));
    tg[j / kFsShiftRows] = std::min(tg[j / kFsShiftRows], t);
  }
  for (std::size_t g = groups; g-- > 1;) tg[g - 1] = std::min(tg[g - 1], tg[g]);
  rshift.clear();
  gdelta.clear();
  if (groups && tg.back() > 0) {
    rshift.resize(m_pad);
    for (std::size_t j = 0; j < m_pad; ++j) rshift[j] = std::uint8_t(tg[j / kFsShiftRows]);
    gdelta = fastscan_gdelta(rshift.data(), m_pad);
  }
  fs_cap = fastscan_cap(rshift_ptr(), m);
}

void IvfPqState::finish_training() {
  coarse.set(ip() ? probe_centroids.data() : centroids.data(), std::size_t(p.nlist), d);
  rot_centroids.clear();
  if (!rot.empty()) {
    rot_centroids.resize(centroids.size());
    rot.apply(centroids.data(), std::size_t(p.nlist), rot_centroids.data());
  }
  const auto& cb = pq.codebook();
  cbt.assign(m * dsub * ksub, 0.f);
  for (std::size_t j = 0; j < m; ++j)
    for (std::size_t i = 0; i < ksub; ++i)
      for (std::size_t t = 0; t < dsub; ++t) cbt[(j * dsub + t) * ksub + i] = cb[(j * ksub + i) * dsub + t];
  if (fast_scan()) row_weights();
  if (cell_tables()) {
    const std::size_t nlist = std::size_t(p.nlist);
    ptab.assign(nlist * m * ksub, 0.f);
    pmin.assign(nlist * m, 0.f);
    prange.assign(nlist * m, 0.f);
    psum_min.assign(nlist, 0.f);
    for (std::size_t l = 0; l < nlist; ++l) {
      const float* c = pq_centroids() + l * d;
      double sum_min = 0;
      for (std::size_t j = 0; j < m; ++j) {
        float mn = std::numeric_limits<float>::infinity(), mx = -mn;
        for (std::size_t i = 0; i < ksub; ++i) {
          const float* ce = &cb[(j * ksub + i) * dsub];
          float v = 0.f;
          for (std::size_t t = 0; t < dsub; ++t) v += ce[t] * ce[t] + 2.f * c[j * dsub + t] * ce[t];
          ptab[(l * m + j) * ksub + i] = v;
          mn = std::min(mn, v);
          mx = std::max(mx, v);
        }
        for (std::size_t i = 0; i < ksub; ++i) ptab[(l * m + j) * ksub + i] -= mn;
        pmin[l * m + j] = mn;
        prange[l * m + j] = mx - mn;
        sum_min += mn;
      }
      psum_min[l] = float(sum_min);
    }
    const float pmax = prange.empty() ? 0.f : *std::max_element(prange.begin(), prange.end());
    punit = pmax > 0.f ? pmax / float(kFix16Max) : 1.f;
    ptab16.resize(ptab.size());
    for (std::size_t i = 0; i < ptab.size(); ++i)
      ptab16[i] = std::int16_t(std::min<long>(kFix16Max, std::lrint(ptab[i] / punit)));
  }
  trained = true;
}

void IvfPqState::encode_refine(const float* x, std::uint8_t* out) const {
  switch (p.refine) {
    case Refine::FP32: std::memcpy(out, x, d * sizeof(float)); break;
    case Refine::FP16:
      for (std::size_t j = 0; j < d; ++j) {
        const std::uint16_t h = float_to_half(x[j]);
        std::memcpy(out + 2 * j, &h, 2);
      }
      break;
    case Refine::SQ8: {
      double nn = 0;
      for (std::size_t j = 0; j < d; ++j) {
        float t = sq_scale[j] > 0 ? (x[j] - sq_min[j]) / sq_scale[j] : 0.f;
        t = t < 0.f ? 0.f : (t > 255.f ? 255.f : t);
        out[j] = std::uint8_t(t + 0.5f);
        const float dec = sq_min[j] + sq_scale[j] * float(out[j]);
        nn += double(dec) * dec;
      }
      const float f = float(nn);
      std::memcpy(out + d, &f, sizeof f);
      break;
    }
    case Refine::None: break;
  }
}

void IvfPqState::decode_refine(const std::uint8_t* rec, float* out) const {
  switch (p.refine) {
    case Refine::FP32: std::memcpy(out, rec, d * sizeof(float)); break;
    case Refine::FP16:
      for (std::size_t j = 0; j < d; ++j) {
        std::uint16_t h;
        std::memcpy(&h, rec + 2 * j, 2);
        out[j] = half_to_float(h);
      }
      break;
    case Refine::SQ8:
      for (std::size_t j = 0; j < d; ++j) out[j] = sq_min[j] + sq_scale[j] * float(rec[j]);
      break;
    case Refine::None: break;
  }
}

const float* IvfPqState::pq_space(const float* x, std::size_t n, std::vector<float>& buf) const {
  if (rot.empty()) return x;
  buf.resize(n * d);
  rot.apply(x, n, buf.data());
  return buf.data();
}

void IvfPqState::get_code(std::size_t list, std::size_t pos, std::uint8_t* code) const {
  const InvList& L = lists[list];
  if (!fast_scan()) {
    std::memcpy(code, &L.codes[pos * m], m);
    return;
  }
  const std::uint8_t* blk = &L.codes[(pos / kFsBlock) * m_pad * 16];
  const std::size_t v = pos % kFsBlock, byte = v & 15;
  for (std::size_t j = 0; j < m; ++j) code[j] = v < 16 ? (blk[j * 16 + byte] & 15) : (blk[j * 16 + byte] >> 4);
}

void IvfPqState::reconstruct(std::size_t list, std::size_t pos, float* out) const {
  if (p.refine != Refine::None) {
    decode_refine(&lists[list].refine[pos * refine_bytes], out);
    return;
  }
  std::vector<std::uint8_t> code(m);
  get_code(list, pos, code.data());
  pq.decode(code.data(), 1, out);
  if (!rot.empty()) {
    const std::vector<float> r(out, out + d);
    rot.apply_transpose(r.data(), 1, out);
  }
  for (std::size_t j = 0; j < d; ++j) out[j] += centroids[list * d + j];
}

std::size_t IvfPqState::append(std::size_t list, idx_t id, const std::uint8_t* code,
                               const std::uint8_t* rec) {
  InvList& L = lists[list];
  const std::size_t pos = L.ids.size();
  L.ids.push_back(id);
  if (fast_scan()) {
    const std::size_t need = fastscan_bytes(pos + 1, m);
    if (L.codes.size() < need) L.codes.resize(need, 0);
    std::uint8_t* blk = &L.codes[(pos / kFsBlock) * m_pad * 16];
    const std::size_t v = pos % kFsBlock, byte = v & 15, shift = v < 16 ? 0 : 4;
    for (std::size_t j = 0; j < m; ++j)
      blk[j * 16 + byte] = std::uint8_t((blk[j * 16 + byte] & ~(0xf << shift)) | ((code[j] & 15) << shift));
  } else {
    L.codes.insert(L.codes.end(), code, code + m);
  }
  if (refine_bytes) L.refine.insert(L.refine.end(), rec, rec + refine_bytes);
  radius[list] = std::max(radius[list], stored_radius(list, pos));
  return pos;
}

float IvfPqState::stored_radius(std::size_t list, std::size_t pos) const {
  thread_local std::vector<float> v;
  thread_local std::vector<std::uint8_t> code;
  v.resize(d);
  if (p.refine != Refine::None) {
    decode_refine(&lists[list].refine[pos * refine_bytes], v.data());
    const float* c = &centroids[list * d];
    for (std::size_t j = 0; j < d; ++j) v[j] -= c[j];
  } else {  // the decoded residual (in the codebooks' space: a rotation keeps its norm)
    code.resize(m);
    get_code(list, pos, code.data());
    pq.decode(code.data(), 1, v.data());
  }
  double nn = 0;
  for (std::size_t j = 0; j < d; ++j) nn += double(v[j]) * v[j];
  return float(std::sqrt(nn));
}

void IvfPqState::compute_radii() {
  radius.assign(lists.size(), 0.f);
  for (std::size_t l = 0; l < lists.size(); ++l)
    for (std::size_t p = 0; p < lists[l].size(); ++p) radius[l] = std::max(radius[l], stored_radius(l, p));
}

void IvfPqState::erase(std::size_t list, std::size_t pos) {
  InvList& L = lists[list];
  const std::size_t last = L.ids.size() - 1;
  if (pos != last) {
    std::vector<std::uint8_t> code(m);
    get_code(list, last, code.data());
    if (fast_scan()) {
      std::uint8_t* blk = &L.codes[(pos / kFsBlock) * m_pad * 16];
      const std::size_t v = pos % kFsBlock, byte = v & 15, shift = v < 16 ? 0 : 4;
      for (std::size_t j = 0; j < m; ++j)
        blk[j * 16 + byte] = std::uint8_t((blk[j * 16 + byte] & ~(0xf << shift)) | (code[j] << shift));
    } else {
      std::memcpy(&L.codes[pos * m], code.data(), m);
    }
    if (refine_bytes)
      std::memcpy(&L.refine[pos * refine_bytes], &L.refine[last * refine_bytes], refine_bytes);
    L.ids[pos] = L.ids[last];
    if (map_ready.load(std::memory_order_relaxed)) map.set(L.ids[pos], pack_loc(list, pos));
  }
  if (fast_scan()) {  // clear the freed nibbles, drop a block that became empty
    std::uint8_t* blk = &L.codes[(last / kFsBlock) * m_pad * 16];
    const std::size_t v = last % kFsBlock, byte = v & 15, shift = v < 16 ? 0 : 4;
    for (std::size_t j = 0; j < m; ++j) blk[j * 16 + byte] &= std::uint8_t(~(0xf << shift));
    L.codes.resize(fastscan_bytes(last, m));
  } else {
    L.codes.resize(last * m);
  }
  L.refine.resize(last * refine_bytes);
  L.ids.pop_back();
}

void IvfPqState::ensure_map() const {
  if (map_ready.load(std::memory_order_acquire)) return;
  std::lock_guard<std::mutex> g(map_mu);
  if (map_ready.load(std::memory_order_relaxed)) return;
  ensure_all();
  map.reserve(n);
  for (std::size_t l = 0; l < lists.size(); ++l)
    for (std::size_t p = 0; p < lists[l].size(); ++p) {
      const idx_t id = lists[l].ids[p];
      if (map.find(id) != IdMap::kNone) {
        map = IdMap();
        throw CorruptFileError(concat("corrupt index: duplicate id ", id));
      }
      map.set(id, pack_loc(l, p));
    }
  map_ready.store(true, std::memory_order_release);
}

void IvfPqState::ensure_all() const {
  if (lists_ok.load(std::memory_order_acquire)) return;
  std::lock_guard<std::mutex> g(lists_mu);
  if (lists_ok.load(std::memory_order_relaxed)) return;
  for (const auto& L : lists) {  // one check per file section, whatever the list count
    L.ids.ensure();
    L.codes.ensure();
    L.refine.ensure();
  }
  lists_ok.store(true, std::memory_order_release);
}

void IvfPqState::own_all() {
  bool any = false;
  for (const auto& L : lists) any = any || L.mapped();
  if (!any) return;
  ensure_all();
  for (auto& L : lists) {
    L.ids.own();
    L.codes.own();
    L.refine.own();
  }
}

std::size_t IvfPqState::mapped_bytes() const {
  std::size_t b = 0;
  for (const auto& L : lists) b += L.ids.mapped_bytes() + L.codes.mapped_bytes() + L.refine.mapped_bytes();
  return b;
}

}  // namespace warpsearch::detail
