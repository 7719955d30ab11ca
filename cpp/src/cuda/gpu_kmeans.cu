// SPDX-FileCopyrightText: 2026 warpsearch contributors
// SPDX-License-Identifier: Apache-2.0
// GpuAssigner: the assignment step of k-means on a device, as an exact 1-NN search of
// the points (queries, resident) over the centroids (the base, copied each iteration).
#include <vector>

#include "cuda/internal.cuh"
#include "warpsearch/errors.hpp"
#include "warpsearch/gpu.hpp"

namespace warpsearch {
namespace detail {

struct GpuAssignState {
  int device = 0;
  std::size_t n = 0, d = 0;
  gpu::DeviceBuffer<float> x;
};

}  // namespace detail

using namespace detail::gpu;

GpuAssigner::GpuAssigner(int device, const float* x, std::size_t n, std::size_t d)
    : s_(std::make_unique<detail::GpuAssignState>()) {
  WS_EXPECTS(d >= 1, "dimension must be >= 1");
  expect_device(device);
  s_->device = device;
  DeviceGuard guard(device);
  Stream stream;
  s_->x.upload(x, n * d, stream.get());
  stream.sync();
  s_->n = n;
  s_->d = d;
}

GpuAssigner::~GpuAssigner() {
  try {
    DeviceGuard guard(s_->device);
    s_.reset();
  } catch (...) {
  }
}

void GpuAssigner::assign(const float* centroids, std::size_t k, std::int32_t* labels, float* dists) const {
  WS_EXPECTS(k >= 1 && k < std::size_t(kNoId) - 1024, "k-means on the GPU needs 1 <= k < 2^32 - 1025");
  const auto& s = *s_;
  if (s.n == 0) return;
  DeviceGuard guard(s.device);
  Stream stream;
  std::vector<idx_t> cells(k);
  for (std::size_t j = 0; j < k; ++j) cells[j] = idx_t(j);
  DeviceBuffer<float> c, cn, D(s.n);
  DeviceBuffer<idx_t> ids, I(s.n);
  c.upload(centroids, k * s.d, stream.get());
  ids.upload(cells.data(), k, stream.get());
  cn.resize(k);
  row_sq_norms(c.data(), k, s.d, cn.data(), stream.get());
  const FlatView v{c.data(), cn.data(), ids.data(), k, s.d, Metric::L2};
  flat_search(v, s.x.data(), s.n, 1, nullptr, D.data(), I.data(), stream.get());
  std::vector<idx_t> lab(s.n);
  D.download(dists, s.n, stream.get());
  I.download(lab.data(), s.n, stream.get());
  stream.sync();
  for (std::size_t i = 0; i < s.n; ++i) labels[i] = std::int32_t(lab[i]);
}

}  // namespace warpsearch
