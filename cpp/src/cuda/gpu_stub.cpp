// SPDX-FileCopyrightText: 2026 warpsearch contributors
// SPDX-License-Identifier: Apache-2.0
// Linked when the build has no CUDA: every GPU entry point is a clear error.
#include "warpsearch/errors.hpp"
#include "warpsearch/gpu.hpp"

namespace warpsearch {
namespace detail {
struct GpuFlatState {};
struct GpuGraphState {};
struct GpuIvfPqState {};
struct GpuAssignState {};
namespace {
[[noreturn]] void no_cuda() {
  throw std::invalid_argument(
      "warpsearch was built without CUDA: GPU search is unavailable (use device='cpu')");
}
}  // namespace
}  // namespace detail

GpuFlatData::GpuFlatData(int) { detail::no_cuda(); }
GpuFlatData::~GpuFlatData() = default;
void GpuFlatData::upload(const float*, std::size_t, std::size_t, Metric, const idx_t*) { detail::no_cuda(); }
void GpuFlatData::search(const float*, std::size_t, int, const std::uint64_t*, float*, idx_t*, MemSpace,
                         GpuSearchStats*) const {
  detail::no_cuda();
}
void GpuFlatData::set_precision(GpuPrecision, int) { detail::no_cuda(); }
GpuPrecision GpuFlatData::precision() const { return GpuPrecision::FP32; }
int GpuFlatData::device() const { return -1; }
std::size_t GpuFlatData::size() const { return 0; }
std::size_t GpuFlatData::dim() const { return 0; }
std::size_t GpuFlatData::memory_usage() const { return 0; }

GpuGraphData::GpuGraphData(int) { detail::no_cuda(); }
GpuGraphData::~GpuGraphData() = default;
void GpuGraphData::upload(const GraphView&) { detail::no_cuda(); }
void GpuGraphData::search(const float*, std::size_t, int, int, const std::uint64_t*, float*, idx_t*,
                          MemSpace, GpuSearchStats*) const {
  detail::no_cuda();
}
int GpuGraphData::device() const { return -1; }
std::size_t GpuGraphData::size() const { return 0; }
std::size_t GpuGraphData::memory_usage() const { return 0; }

GpuIvfPqData::GpuIvfPqData(int) { detail::no_cuda(); }
GpuIvfPqData::~GpuIvfPqData() = default;
void GpuIvfPqData::upload(const IvfPqView&) { detail::no_cuda(); }
void GpuIvfPqData::search(const float*, std::size_t, const GpuIvfPlan&, LutType, float*, idx_t*, MemSpace,
                          GpuSearchStats*) const {
  detail::no_cuda();
}
int GpuIvfPqData::device() const { return -1; }
std::size_t GpuIvfPqData::size() const { return 0; }
std::size_t GpuIvfPqData::memory_usage() const { return 0; }

GpuAssigner::GpuAssigner(int, const float*, std::size_t, std::size_t) { detail::no_cuda(); }
GpuAssigner::~GpuAssigner() = default;
void GpuAssigner::assign(const float*, std::size_t, std::int32_t*, float*) const { detail::no_cuda(); }

void gpu_flat_search(int, const float*, std::size_t, std::size_t, Metric, const float*, std::size_t, int,
                     const std::uint64_t*, float*, idx_t*) {
  detail::no_cuda();
}
void gpu_select_k(int, const float*, std::size_t, std::size_t, int, bool, float*, idx_t*) { detail::no_cuda(); }

}  // namespace warpsearch
