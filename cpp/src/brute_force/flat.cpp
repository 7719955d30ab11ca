// SPDX-FileCopyrightText: 2026 warpsearch contributors
// SPDX-License-Identifier: Apache-2.0
// Exact search. Vectors live in panels of kPanel (dimension-major inside a panel)
// so the micro-kernel computes a block of queries x kPanel vectors with broadcast
// FMAs; distances are fused with per-query top-k, never materialized as a matrix.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <mutex>
#include <shared_mutex>
#include <unordered_map>
#include <vector>

#include "common/bitset.hpp"
#include "common/topk.hpp"
#include "common/vector_ops.hpp"
#include "io/format.hpp"
#include "simd/distance.hpp"
#include "warpsearch/brute_force.hpp"
#include "warpsearch/errors.hpp"
#include "warpsearch/threads.hpp"

namespace warpsearch {
namespace detail {

struct FlatStorage {
  std::size_t d = 0;
  std::size_t n = 0;
  std::vector<float> panels;  // ceil(n / kPanel) * kPanel * d
  std::vector<float> norms;   // squared norms (L2 only)
  std::vector<idx_t> ids;
  std::unordered_map<idx_t, std::size_t> rows;
  mutable std::shared_mutex mu;

  float* slot(std::size_t row, std::size_t p) {
    return &panels[(row / kPanel) * kPanel * d + p * kPanel + row % kPanel];
  }
  const float* slot(std::size_t row, std::size_t p) const {
    return &panels[(row / kPanel) * kPanel * d + p * kPanel + row % kPanel];
  }
  void put_row(std::size_t row, const float* v) {
    for (std::size_t p = 0; p < d; ++p) *slot(row, p) = v[p];
    double s = 0;
    for (std::size_t p = 0; p < d; ++p) s += double(v[p]) * v[p];
    norms[row] = float(s);
  }
  void get_row(std::size_t row, float* out) const {
    for (std::size_t p = 0; p < d; ++p) out[p] = *slot(row, p);
  }
  void reserve_rows(std::size_t rows_needed) {
    std::size_t panels_needed = (rows_needed + kPanel - 1) / kPanel;
    if (panels.size() < panels_needed * kPanel * d) {
      std::size_t grow = std::max(panels_needed, panels.size() / (kPanel * d) * 3 / 2);
      panels.resize(grow * kPanel * d, 0.f);
    }
    if (norms.size() < panels_needed * kPanel) norms.resize(panels.size() / d, 0.f);
  }
};

}  // namespace detail

FlatIndex::FlatIndex(int dim, Metric metric)
    : Index(dim, metric), s_(std::make_unique<detail::FlatStorage>()) {
  s_->d = std::size_t(dim);
}

FlatIndex::~FlatIndex() = default;

std::size_t FlatIndex::size() const {
  std::shared_lock lk(s_->mu);
  return s_->n;
}

void FlatIndex::add(const float* x, std::size_t n, const idx_t* ids) {
  validate_add(x, n, ids);
  if (n == 0) return;
  const std::size_t d = s_->d;
  std::vector<float> normed;
  if (metric_ == Metric::Cosine) {
    normed.resize(n * d);
    detail::normalize_rows(x, n, d, normed.data());
    x = normed.data();
  }
  std::unique_lock lk(s_->mu);
  auto& s = *s_;
  std::size_t fresh = 0;
  for (std::size_t i = 0; i < n; ++i) fresh += ids == nullptr || !s.rows.count(ids[i]);
  s.reserve_rows(s.n + fresh);  // the only step that may fail (bad_alloc): nothing changed yet
  if (s.ids.capacity() < s.n + fresh)  // grow geometrically: many small adds stay linear
    s.ids.reserve(std::max(s.n + fresh, s.ids.capacity() + s.ids.capacity() / 2));
  for (std::size_t i = 0; i < n; ++i) {
    const idx_t id = ids ? ids[i] : next_id_ + idx_t(i);
    auto it = s.rows.find(id);
    std::size_t row;
    if (it != s.rows.end()) {
      row = it->second;
    } else {
      row = s.n++;
      s.ids.push_back(id);
      s.rows.emplace(id, row);
    }
    s.put_row(row, x + i * d);
  }
  advance_next_id(ids, n);
}

std::size_t FlatIndex::remove(const idx_t* ids, std::size_t n) {
  std::unique_lock lk(s_->mu);
  auto& s = *s_;
  std::vector<float> tmp(s.d);
  std::size_t removed = 0;
  for (std::size_t i = 0; i < n; ++i) {
    auto it = s.rows.find(ids[i]);
    if (it == s.rows.end()) continue;
    const std::size_t row = it->second, last = s.n - 1;
    s.rows.erase(it);
    if (row != last) {  // move the last row into the hole
      s.get_row(last, tmp.data());
      s.put_row(row, tmp.data());
      s.ids[row] = s.ids[last];
      s.rows[s.ids[row]] = row;
    }
    for (std::size_t p = 0; p < s.d; ++p) *s.slot(last, p) = 0.f;
    s.norms[last] = 0.f;
    s.ids.pop_back();
    --s.n;
    ++removed;
  }
  return removed;
}

void FlatIndex::search(const float* q, std::size_t nq, const SearchParams& params, float* D,
                       idx_t* I, SearchStats* stats) const {
  WS_EXPECTS(params.k > 0, "k must be > 0, got ", params.k);
  std::shared_lock lk(s_->mu);
  const auto& s = *s_;
  const std::size_t d = s.d, n = s.n, k = std::size_t(params.k);
  const auto& K = detail::kernels();
  Bitset allow_bits;
  if (params.filter.active())
    allow_bits = make_allow(
        params.filter, n, [&](std::size_t r) { return s.ids[r]; },
        [&](idx_t id) -> std::int64_t {
          auto it = s.rows.find(id);
          return it == s.rows.end() ? -1 : std::int64_t(it->second);
        });
  const std::uint64_t* allow = allow_bits.empty() ? nullptr : allow_bits.data();

  std::vector<float> qbuf(nq * d);
  if (metric_ == Metric::Cosine) {
    detail::normalize_rows(q, nq, d, qbuf.data());
  } else {
    std::memcpy(qbuf.data(), q, nq * d * sizeof(float));
  }
  std::vector<float> qnorm(nq, 0.f);
  if (metric_ == Metric::L2)
    for (std::size_t i = 0; i < nq; ++i) qnorm[i] = K.ip(&qbuf[i * d], &qbuf[i * d], d);

  // Work split: query groups x base ranges. Ranges exist only to use all threads
  // when there are few queries; their partial top-k lists are merged at the end.
  const std::size_t threads = std::size_t(get_num_threads());
  const std::size_t npanels = (n + detail::kPanel - 1) / detail::kPanel;
  const std::size_t mq = std::size_t(K.max_q);
  std::size_t group = std::max<std::size_t>(mq, (nq + threads - 1) / threads);
  group = std::min<std::size_t>((group + mq - 1) / mq * mq, 1024);
  const std::size_t ngroups = (nq + group - 1) / group;
  std::size_t nranges = 1;
  if (ngroups < 2 * threads) nranges = std::min<std::size_t>((2 * threads + ngroups - 1) / ngroups, std::max<std::size_t>(1, npanels / 64));
  nranges = std::max<std::size_t>(1, std::min(nranges, npanels));
  const std::size_t panels_per_range = (npanels + nranges - 1) / std::max<std::size_t>(1, nranges);

  std::vector<float> pd(nranges == 1 ? 0 : nranges * nq * k);
  std::vector<idx_t> pi(nranges == 1 ? 0 : nranges * nq * k);
  // Panels per cache block: ~256 KiB of vectors stay in L2 while every query group uses them.
  const std::size_t chunk = std::max<std::size_t>(1, (256 * 1024) / (detail::kPanel * d * sizeof(float)));
  const bool is_l2 = metric_ == Metric::L2;

  parallel_for(ngroups * nranges, [&](std::size_t task, int) {
    const std::size_t g = task / nranges, r = task % nranges;
    const std::size_t q0 = g * group, q1 = std::min(nq, q0 + group);
    const std::size_t p0 = r * panels_per_range, p1 = std::min(npanels, p0 + panels_per_range);
    float* dd = nranges == 1 ? D : &pd[r * nq * k];
    idx_t* ii = nranges == 1 ? I : &pi[r * nq * k];
    std::vector<detail::TopK<idx_t>> heaps;
    heaps.reserve(q1 - q0);
    for (std::size_t qi = q0; qi < q1; ++qi) heaps.emplace_back(dd + qi * k, ii + qi * k, int(k));
    float out[16 * detail::kPanel];
    for (std::size_t c0 = p0; c0 < p1; c0 += chunk) {
      const std::size_t c1 = std::min(p1, c0 + chunk);
      for (std::size_t qb = q0; qb < q1; qb += mq) {
        const std::size_t nb = std::min(mq, q1 - qb);
        for (std::size_t pnl = c0; pnl < c1; ++pnl) {
          const std::size_t row0 = pnl * detail::kPanel;
          std::uint32_t lanes = 0xFFFF;
          if (allow) {
            lanes = std::uint32_t((allow[row0 >> 6] >> (row0 & 63)) & 0xFFFF);
            if (!lanes) continue;
          }
          if (row0 + detail::kPanel > n) lanes &= (1u << (n - row0)) - 1;
          K.dot_panel(&qbuf[qb * d], nb, d, &s.panels[pnl * detail::kPanel * d], d, out);
          for (std::size_t i = 0; i < nb; ++i) {
            auto& h = heaps[qb - q0 + i];
            const float* o = out + i * detail::kPanel;
            float thr = h.threshold();
            for (std::uint32_t m = lanes; m; m &= m - 1) {
              const int lane = __builtin_ctz(m);
              float dist = is_l2 ? std::max(0.f, qnorm[qb + i] + s.norms[row0 + lane] - 2.f * o[lane])
                                 : -o[lane];
              if (dist < thr) {
                h.push(dist, s.ids[row0 + lane]);
                thr = h.threshold();
              }
            }
          }
        }
      }
    }
    for (auto& h : heaps) h.finish();
  });

  if (nranges > 1) {
    parallel_for(nq, [&](std::size_t qi, int) {
      detail::TopK<idx_t> h(D + qi * k, I + qi * k, int(k));
      for (std::size_t r = 0; r < nranges; ++r)
        for (std::size_t j = 0; j < k; ++j) {
          const idx_t id = pi[(r * nq + qi) * k + j];
          const float dist = pd[(r * nq + qi) * k + j];
          // (+inf, -1) is padding; a negative id with a finite distance is a real result
          if (id != -1 || dist != std::numeric_limits<float>::infinity()) h.push(dist, id);
        }
      h.finish();
    });
  }
  finalize_distances(D, I, nq * k);
  if (stats) {
    std::size_t allowed = n;
    if (allow) {
      allowed = 0;
      for (std::size_t w = 0; w < detail::bit_words(n); ++w) allowed += __builtin_popcountll(allow[w]);
    }
    stats->distance_evals += std::uint64_t(nq) * allowed;
    stats->allowed = allowed;
    stats->plan = 1;
  }
}

void FlatIndex::save(const std::string& path) const {
  std::shared_lock lk(s_->mu);
  const auto& s = *s_;
  std::vector<float> rows(s.n * s.d);
  for (std::size_t r = 0; r < s.n; ++r) s.get_row(r, &rows[r * s.d]);
  std::vector<std::int64_t> meta{next_id_};
  detail::FileWriter w("flat", metric_, dim_, s.n);
  w.add("ids", s.ids);
  w.add("vectors", rows);
  w.add("meta", meta);
  w.write(path);
}

std::unique_ptr<FlatIndex> FlatIndex::load_from(const void* reader) {
  const auto& r = *static_cast<const detail::FileReader*>(reader);
  auto idx = std::make_unique<FlatIndex>(r.dim(), r.metric());
  const std::size_t n = std::size_t(r.count()), d = std::size_t(r.dim());
  auto ids = r.vec<idx_t>("ids", n);
  auto rows = r.vec<float>("vectors", n * d);
  auto meta = r.vec<std::int64_t>("meta", 1);
  auto& s = *idx->s_;
  s.reserve_rows(n);
  s.ids = ids;
  s.n = n;
  for (std::size_t i = 0; i < n; ++i) {
    WS_EXPECTS(s.rows.emplace(ids[i], i).second, "corrupt index file '", r.path(), "': duplicate id ", ids[i]);
    s.put_row(i, &rows[i * d]);
  }
  idx->next_id_ = meta[0];
  return idx;
}

std::size_t FlatIndex::memory_usage() const {
  std::shared_lock lk(s_->mu);
  return s_->panels.capacity() * sizeof(float) + s_->norms.capacity() * sizeof(float) +
         s_->ids.capacity() * sizeof(idx_t) + s_->rows.size() * (sizeof(idx_t) + sizeof(std::size_t) + 16);
}

bool FlatIndex::contains(idx_t id) const {
  std::shared_lock lk(s_->mu);
  return s_->rows.count(id) != 0;
}

std::vector<idx_t> FlatIndex::ids() const {
  std::shared_lock lk(s_->mu);
  return s_->ids;
}

std::vector<bool> FlatIndex::reconstruct(const idx_t* ids, std::size_t n, float* out) const {
  std::shared_lock lk(s_->mu);
  std::vector<bool> found(n, false);
  for (std::size_t i = 0; i < n; ++i) {
    auto it = s_->rows.find(ids[i]);
    if (it == s_->rows.end()) continue;
    s_->get_row(it->second, out + i * s_->d);
    found[i] = true;
  }
  return found;
}

std::unique_ptr<GpuFlatData> FlatIndex::to_device(int device) const {
  auto dev = std::make_unique<GpuFlatData>(device);
  std::shared_lock lk(s_->mu);
  const auto& s = *s_;
  std::vector<float> rows(s.n * s.d);  // panels -> row-major (cosine rows are stored normalized)
  for (std::size_t r = 0; r < s.n; ++r) s.get_row(r, &rows[r * s.d]);
  dev->upload(rows.data(), s.n, s.d, metric_, s.ids.data());
  return dev;
}

void FlatIndex::search_gpu(const GpuFlatData& dev, const float* q, std::size_t nq, const SearchParams& params,
                           float* D, idx_t* I, SearchStats* stats, MemSpace space) const {
  WS_EXPECTS(params.k > 0, "k must be > 0, got ", params.k);
  std::shared_lock lk(s_->mu);
  const auto& s = *s_;
  WS_EXPECTS(dev.size() == s.n && dev.dim() == s.d,
             "the device copy of this index is out of date (the index changed since to_device)");
  Bitset allow_bits;
  if (params.filter.active())
    allow_bits = make_allow(
        params.filter, s.n, [&](std::size_t r) { return s.ids[r]; },
        [&](idx_t id) -> std::int64_t {
          auto it = s.rows.find(id);
          return it == s.rows.end() ? -1 : std::int64_t(it->second);
        });
  GpuSearchStats st;
  dev.search(q, nq, params.k, allow_bits.empty() ? nullptr : allow_bits.data(), D, I, space, &st);
  if (stats) {
    stats->distance_evals += st.distance_evals;
    stats->allowed = st.allowed;
    stats->plan = 1;
  }
}

}  // namespace warpsearch
