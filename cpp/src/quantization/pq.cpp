// SPDX-FileCopyrightText: 2026 warpsearch contributors
// SPDX-License-Identifier: Apache-2.0
// Product quantizer: training (k-means per sub-space), encoding, decoding, float LUTs.
#include <algorithm>
#include <cstring>
#include <random>

#include "quantization/nearest.hpp"
#include "warpsearch/errors.hpp"
#include "warpsearch/kmeans.hpp"
#include "warpsearch/quantization.hpp"
#include "warpsearch/threads.hpp"

namespace warpsearch {

ProductQuantizer::ProductQuantizer(int dim, int m, int nbits) : dim_(dim), m_(m), nbits_(nbits) {
  WS_EXPECTS(nbits == 4 || nbits == 8, "nbits must be 4 or 8, got ", nbits);
  WS_EXPECTS(dim >= 1, "dim must be >= 1, got ", dim);
  WS_EXPECTS(m >= 1 && m <= dim, "m must be in [1, dim], got m=", m, " for dim=", dim);
  WS_EXPECTS(dim % m == 0, "m=", m, " must divide dim=", dim);
}

void ProductQuantizer::set_codebook(const std::vector<float>& cb) {
  WS_EXPECTS(cb.size() == std::size_t(m_) * std::size_t(ksub()) * std::size_t(dsub()),
             "PQ codebook has ", cb.size(), " values, expected m*ksub*dsub=",
             std::size_t(m_) * std::size_t(ksub()) * std::size_t(dsub()));
  cb_ = cb;
}

void ProductQuantizer::train(const float* x, std::size_t n, std::uint64_t seed, int iters,
                             int max_points_per_centroid) {
  const std::size_t ks = std::size_t(ksub()), ds = std::size_t(dsub()), d = std::size_t(dim_);
  WS_EXPECTS(n >= ks, "PQ training needs at least ", ks, " vectors, got ", n);
  // One shared sample for every sub-space (kmeans would otherwise sample per sub-space).
  const std::size_t cap = max_points_per_centroid > 0 ? ks * std::size_t(max_points_per_centroid) : n;
  std::mt19937_64 rng(seed ^ 0x5851F42D4C957F2Dull);
  const std::vector<std::size_t> rows = detail::sample_indices(n, std::min(n, cap), rng);
  const std::size_t nt = rows.size();
  std::vector<float> cb(std::size_t(m_) * ks * ds);
  parallel_for(std::size_t(m_), [&](std::size_t j, int) {
    std::vector<float> sub(nt * ds);
    for (std::size_t i = 0; i < nt; ++i)
      std::memcpy(&sub[i * ds], x + rows[i] * d + j * ds, ds * sizeof(float));
    KMeansParams kp;
    kp.iters = iters;
    kp.seed = seed + j;
    kp.max_points_per_centroid = 0;
    kp.objective = false;
    kmeans(sub.data(), nt, ds, ks, kp, &cb[j * ks * ds]);
  });
  cb_ = std::move(cb);
}

void ProductQuantizer::encode(const float* x, std::size_t n, std::uint8_t* codes) const {
  WS_EXPECTS(!cb_.empty(), "the product quantizer is not trained");
  const std::size_t ks = std::size_t(ksub()), ds = std::size_t(dsub()), d = std::size_t(dim_);
  const std::size_t m = std::size_t(m_);
  std::vector<detail::CentroidPanels> cps(m);
  for (std::size_t j = 0; j < m; ++j) cps[j].set(&cb_[j * ks * ds], ks, ds);
  constexpr std::size_t kChunk = 256;
  parallel_for((n + kChunk - 1) / kChunk, [&](std::size_t t, int) {
    const std::size_t b = t * kChunk, e = std::min(n, b + kChunk);
    std::vector<float> sub((e - b) * ds), dist(e - b);
    std::vector<std::int32_t> lab(e - b);
    for (std::size_t j = 0; j < m; ++j) {
      for (std::size_t i = b; i < e; ++i)
        std::memcpy(&sub[(i - b) * ds], x + i * d + j * ds, ds * sizeof(float));
      cps[j].nearest(sub.data(), e - b, false, dist.data(), lab.data());
      for (std::size_t i = b; i < e; ++i) codes[i * m + j] = std::uint8_t(lab[i - b]);
    }
  });
}

void ProductQuantizer::decode(const std::uint8_t* codes, std::size_t n, float* x) const {
  WS_EXPECTS(!cb_.empty(), "the product quantizer is not trained");
  const std::size_t ks = std::size_t(ksub()), ds = std::size_t(dsub()), m = std::size_t(m_);
  for (std::size_t i = 0; i < n; ++i)
    for (std::size_t j = 0; j < m; ++j)
      std::memcpy(x + i * dim_ + j * ds, &cb_[(j * ks + codes[i * m + j]) * ds], ds * sizeof(float));
}

void ProductQuantizer::compute_lut(const float* q, Metric metric, float* lut) const {
  WS_EXPECTS(!cb_.empty(), "the product quantizer is not trained");
  const std::size_t ks = std::size_t(ksub()), ds = std::size_t(dsub()), m = std::size_t(m_);
  for (std::size_t j = 0; j < m; ++j)
    for (std::size_t i = 0; i < ks; ++i) {
      const float* c = &cb_[(j * ks + i) * ds];
      float s = 0.f;
      for (std::size_t t = 0; t < ds; ++t) {
        if (metric == Metric::L2) {
          const float df = q[j * ds + t] - c[t];
          s += df * df;
        } else {
          s -= q[j * ds + t] * c[t];
        }
      }
      lut[j * ks + i] = s;
    }
}

}  // namespace warpsearch
