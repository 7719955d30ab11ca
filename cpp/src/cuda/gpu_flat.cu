// SPDX-FileCopyrightText: 2026 warpsearch contributors
// SPDX-License-Identifier: Apache-2.0
// GpuFlatData: the device-resident copy of an exact index, and its search.
#include <cmath>
#include <vector>

#include "common/vector_ops.hpp"
#include "cuda/internal.cuh"
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
  stream.sync();
  s.n = n;
  s.d = d;
  s.metric = metric;
}

void GpuFlatData::search(const float* q, std::size_t nq, int k, const std::uint64_t* allow, float* D,
                         idx_t* I, MemSpace space, GpuSearchStats* stats) const {
  WS_EXPECTS(k >= 1 && k <= kGpuMaxK, "k must be in [1, ", kGpuMaxK, "] on the GPU, got ", k);
  const auto& s = *s_;
  DeviceGuard guard(s.device);
  if (space == MemSpace::Device) {
    expect_device_pointer(q, s.device, "queries");
    expect_device_pointer(D, s.device, "distances output");
    expect_device_pointer(I, s.device, "ids output");
  }
  Stream stream;
  const std::size_t count = nq * std::size_t(k);
  DeviceBuffer<float> qbuf, dbuf;
  DeviceBuffer<idx_t> ibuf;
  DeviceBuffer<std::uint64_t> abuf;
  const float* dq = q;
  float* dD = D;
  idx_t* dI = I;
  if (space == MemSpace::Host) {
    qbuf.upload(q, nq * s.d, stream.get());
    dq = qbuf.data();
    dbuf.resize(count);
    ibuf.resize(count);
    dD = dbuf.data();
    dI = ibuf.data();
  }
  if (allow) abuf.upload(allow, (s.n + 63) / 64, stream.get());
  detail::gpu::FlatView v{s.x.data(), s.norms.data(), s.labels.data(), s.n, s.d, s.metric};
  flat_search(v, dq, nq, k, allow ? abuf.data() : nullptr, dD, dI, stream.get());
  if (space == MemSpace::Host) {
    dbuf.download(D, count, stream.get());
    ibuf.download(I, count, stream.get());
  }
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
  return s_->x.bytes() + s_->norms.bytes() + s_->labels.bytes();
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
