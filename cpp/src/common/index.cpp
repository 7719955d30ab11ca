// SPDX-FileCopyrightText: 2026 warpsearch contributors
// SPDX-License-Identifier: Apache-2.0
#include <algorithm>
#include <cmath>
#include <limits>
#include <unordered_set>

#include "io/format.hpp"
#include "warpsearch/brute_force.hpp"
#include "warpsearch/errors.hpp"
#include "warpsearch/hnsw.hpp"
#include "warpsearch/index.hpp"
#include "warpsearch/ivf_pq.hpp"

namespace warpsearch {

Metric parse_metric(const std::string& name) {
  if (name == "l2") return Metric::L2;
  if (name == "ip") return Metric::IP;
  if (name == "cosine") return Metric::Cosine;
  WS_EXPECTS(false, "unknown metric '", name, "' (expected 'l2', 'ip' or 'cosine')");
  return Metric::L2;
}

const char* metric_name(Metric m) {
  switch (m) {
    case Metric::L2: return "l2";
    case Metric::IP: return "ip";
    case Metric::Cosine: return "cosine";
  }
  return "?";
}

Refine parse_refine(const std::string& name) {
  if (name == "none") return Refine::None;
  if (name == "sq8") return Refine::SQ8;
  if (name == "fp16") return Refine::FP16;
  if (name == "fp32") return Refine::FP32;
  WS_EXPECTS(false, "unknown refine '", name, "' (expected 'none', 'sq8', 'fp16' or 'fp32')");
  return Refine::None;
}

const char* refine_name(Refine r) {
  switch (r) {
    case Refine::None: return "none";
    case Refine::SQ8: return "sq8";
    case Refine::FP16: return "fp16";
    case Refine::FP32: return "fp32";
  }
  return "?";
}

Storage parse_storage(const std::string& name) {
  if (name == "fp32") return Storage::FP32;
  if (name == "fp16") return Storage::FP16;
  if (name == "sq8") return Storage::SQ8;
  if (name == "sq4") return Storage::SQ4;
  if (name == "binary") return Storage::Binary;
  WS_EXPECTS(false, "unknown storage '", name, "' (expected 'fp32', 'fp16', 'sq8', 'sq4' or 'binary')");
  return Storage::FP32;
}

const char* storage_name(Storage s) {
  switch (s) {
    case Storage::FP32: return "fp32";
    case Storage::FP16: return "fp16";
    case Storage::SQ8: return "sq8";
    case Storage::SQ4: return "sq4";
    case Storage::Binary: return "binary";
  }
  return "?";
}

Index::Index(int dim, Metric metric) : dim_(dim), metric_(metric) {
  WS_EXPECTS(dim > 0 && dim <= 65536, "dim must be in [1, 65536], got ", dim);
}

void Index::validate_add(const float* x, std::size_t n, const idx_t* ids) const {
  const std::size_t d = std::size_t(dim_);
  for (std::size_t i = 0; i < n; ++i) {
    const float* v = x + i * d;
    float sum = 0.f;
    for (std::size_t j = 0; j < d; ++j) sum += v[j] * 0.f;  // NaN/inf propagate
    if (!std::isfinite(sum)) {
      for (std::size_t j = 0; j < d; ++j)
        WS_EXPECTS(std::isfinite(v[j]), "vector ", i, " has a non-finite value (NaN or inf) at dimension ", j);
    }
    if (metric_ == Metric::Cosine) {
      double nn = 0;
      for (std::size_t j = 0; j < d; ++j) nn += double(v[j]) * v[j];
      WS_EXPECTS(nn > 0, "vector ", i, " has zero norm; cosine similarity is undefined");
    }
  }
  if (!ids && n > 0) {
    constexpr idx_t kMax = std::numeric_limits<idx_t>::max();
    WS_EXPECTS(next_id_ >= 0 && idx_t(n - 1) <= kMax - next_id_,
               "default ids would overflow int64 (an id is at or near 2^63-1); pass ids explicitly");
  }
  if (ids) {
    std::unordered_set<idx_t> seen;
    seen.reserve(n * 2);
    for (std::size_t i = 0; i < n; ++i)
      WS_EXPECTS(seen.insert(ids[i]).second, "duplicate id ", ids[i], " in one add call");
  }
}

void Index::advance_next_id(const idx_t* ids, std::size_t n) {
  if (next_id_ < 0 || n == 0) return;  // exhausted stays exhausted
  idx_t mx = next_id_ - 1;
  if (ids) {
    for (std::size_t i = 0; i < n; ++i) mx = std::max(mx, ids[i]);
  } else {
    mx = next_id_ + idx_t(n - 1);  // validate_add checked that this does not overflow
  }
  next_id_ = mx == std::numeric_limits<idx_t>::max() ? -1 : mx + 1;
}

void Index::finalize_distances(float* D, idx_t* I, std::size_t count) const {
  // Padding is (+inf, -1) from TopK::finish; negating it gives the -inf of ip/cosine.
  // Ids are arbitrary int64 (negative ones too), so the id alone never marks padding.
  (void)I;
  if (metric_ == Metric::L2) return;
  for (std::size_t i = 0; i < count; ++i) D[i] = -D[i];
}

std::unique_ptr<Index> load_index(const std::string& path, bool mmap) {
  detail::FileReader r(path, mmap);
  if (r.type() == "flat") return FlatIndex::load_from(&r);
  if (r.type() == "hnsw") return HnswIndex::load_from(&r);
  if (r.type() == "ivf_pq") return IvfPqIndex::load_from(&r);
  WS_EXPECTS(false, "index file '", path, "' has unknown index type '", r.type(), "'");
  return nullptr;
}

}  // namespace warpsearch
