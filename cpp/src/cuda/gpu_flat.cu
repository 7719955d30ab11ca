// SPDX-FileCopyrightText: 2026 warpsearch contributors
// SPDX-License-Identifier: Apache-2.0
// GpuFlatData: the device-resident copy of an exact index, and its search.
#include <algorithm>
#include <cmath>
#include <vector>

#include "common/vector_ops.hpp"
#include "cuda/internal.cuh"
#include "cuda/staging.cuh"
#include "warpsearch/errors.hpp"
#include "warpsearch/gpu.hpp"

namespace warpsearch {
namespace detail {

struct GpuFlatState {
  int device = 0;
  std::size_t n = 0, d = 0;
  Metric metric = Metric::L2;
  gpu::DeviceBuffer<float> x, norms;
  gpu::DeviceBuffer<idx_t> labels;
  GpuPrecision prec = GpuPrecision::FP32;
  int rerank_factor = 4;
  gpu::DeviceBuffer<std::uint16_t> xh;  // fp16 / bf16 copy (reduced precision only)

  void make_reduced(cudaStream_t stream) {
    if (prec == GpuPrecision::FP32) {
      xh.resize(0);
      return;
    }
    xh.resize(gpu::reduced_rows(n) * gpu::reduced_dim(d));
    gpu::to_reduced(x.data(), n, d, prec == GpuPrecision::BF16, xh.data(), gpu::reduced_rows(n), stream);
  }
};

namespace gpu {
std::size_t popcount_bits(const std::uint64_t* bits, std::size_t n) {
  std::size_t c = 0;
  for (std::size_t w = 0; w < (n + 63) / 64; ++w) {
    std::uint64_t m = bits[w];
    if (w == n / 64) m &= (std::uint64_t(1) << (n % 64)) - 1;  // ignore bits past n
    c += std::size_t(__builtin_popcountll(m));
  }
  return c;
}
}  // namespace gpu
}  // namespace detail

using namespace detail::gpu;

GpuFlatData::GpuFlatData(int device) : s_(std::make_unique<detail::GpuFlatState>()) {
  expect_device(device);
  s_->device = device;
}

GpuFlatData::~GpuFlatData() {
  try {
    DeviceGuard guard(s_->device);
    s_.reset();  // frees the buffers on their own device
  } catch (...) {
  }
}

void GpuFlatData::upload(const float* x, std::size_t n, std::size_t d, Metric metric,
                         const idx_t* labels) {
  WS_EXPECTS(d > 0, "dimension must be > 0");
  WS_EXPECTS(n < std::size_t(kNoId) - 1024, "GPU exact search supports up to 2^32 - 1025 vectors");
  DeviceGuard guard(s_->device);
  Stream stream;
  auto& s = *s_;
  s.x.resize(n * d);
  s.labels.resize(n);
  s.norms.resize(metric == Metric::L2 ? n : 0);
  s.x.upload(x, n * d, stream.get());
  s.labels.upload(labels, n, stream.get());
  if (metric == Metric::L2) row_sq_norms(s.x.data(), n, d, s.norms.data(), stream.get());
  s.n = n;
  s.d = d;
  s.metric = metric;
  s.make_reduced(stream.get());
  stream.sync();
}

void GpuFlatData::set_precision(GpuPrecision p, int rerank_factor) {
  WS_EXPECTS(rerank_factor >= 1, "rerank_factor must be >= 1, got ", rerank_factor);
  WS_EXPECTS(p == GpuPrecision::FP32 || p == GpuPrecision::FP16 || p == GpuPrecision::BF16,
             "unknown GPU precision");
  DeviceGuard guard(s_->device);
  Stream stream;
  s_->prec = p;
  s_->rerank_factor = rerank_factor;
  if (s_->d > 0) s_->make_reduced(stream.get());
  stream.sync();
}

GpuPrecision GpuFlatData::precision() const { return s_->prec; }

void GpuFlatData::search(const float* q, std::size_t nq, int k, const std::uint64_t* allow, float* D,
                         idx_t* I, MemSpace space, GpuSearchStats* stats) const {
  WS_EXPECTS(k >= 1 && k <= kGpuMaxK, "k must be in [1, ", kGpuMaxK, "] on the GPU, got ", k);
  const auto& s = *s_;
  DeviceGuard guard(s.device);
  Stream stream;
  const std::size_t count = nq * std::size_t(k);
  SearchIO io(s.device, q, nq, s.d, D, I, count, space, stream.get());
  DeviceBuffer<std::uint64_t> abuf;
  if (allow) abuf.upload(allow, (s.n + 63) / 64, stream.get());
  detail::gpu::FlatView v{s.x.data(), s.norms.data(), s.labels.data(), s.n, s.d, s.metric};
  const std::uint64_t* al = allow ? abuf.data() : nullptr;
  if (s.prec == GpuPrecision::FP32) {
    flat_search(v, io.q(), nq, k, al, io.D(), io.I(), stream.get());
  } else {
    const std::size_t kc = std::clamp<std::size_t>(std::size_t(k) * std::size_t(s.rerank_factor), std::size_t(k),
                                                    std::size_t(kGpuMaxK));
    flat_search_reduced(v, s.xh.data(), s.prec == GpuPrecision::BF16, io.q(), nq, k, int(kc), al, io.D(),
                        io.I(), stream.get());
  }
  io.finish(stream.get());
  stream.sync();
  if (stats) {
    const std::size_t allowed = allow ? detail::gpu::popcount_bits(allow, s.n) : s.n;
    stats->allowed = allowed;
    stats->distance_evals += std::uint64_t(nq) * allowed;
    stats->plan = 1;
  }
}

int GpuFlatData::device() const { return s_->device; }
std::size_t GpuFlatData::size() const { return s_->n; }
std::size_t GpuFlatData::dim() const { return s_->d; }
std::size_t GpuFlatData::memory_usage() const {
  return s_->x.bytes() + s_->norms.bytes() + s_->labels.bytes() + s_->xh.bytes();
}

void gpu_flat_search(int device, const float* base, std::size_t n, std::size_t d, Metric metric,
                     const float* q, std::size_t nq, int k, const std::uint64_t* allow, float* D,
                     idx_t* I) {
  GpuFlatData data(device);
  std::vector<idx_t> labels(n);
  for (std::size_t i = 0; i < n; ++i) labels[i] = idx_t(i);
  std::vector<float> normed;
  if (metric == Metric::Cosine) {  // the index stores cosine rows normalized
    base = detail::metric_rows(base, n, d, metric, normed);
  }
  data.upload(base, n, d, metric, labels.data());
  data.search(q, nq, k, allow, D, I);
}

}  // namespace warpsearch
