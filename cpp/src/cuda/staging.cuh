// SPDX-FileCopyrightText: 2026 warpsearch contributors
// SPDX-License-Identifier: Apache-2.0
#pragma once
// Queries in and results out of a GPU search, shared by every device index: host
// arrays are staged through device buffers, device arrays are used in place.
#include "cuda/common.cuh"
#include "warpsearch/gpu.hpp"

namespace warpsearch::detail::gpu {

/// With MemSpace::Host, q (nq x d) is copied to the device and D/I (count each) get
/// device buffers that finish() copies back; with MemSpace::Device the caller's
/// pointers are checked to live on the current device and used as they are.
class SearchIO {
 public:
  SearchIO(int device, const float* q, std::size_t nq, std::size_t d, float* D, idx_t* I,
           std::size_t count, MemSpace space, cudaStream_t stream)
      : space_(space), q_(q), D_(D), I_(I), hD_(D), hI_(I), count_(count) {
    if (space == MemSpace::Device) {
      expect_device_pointer(q, device, "queries");
      expect_device_pointer(D, device, "distances output");
      expect_device_pointer(I, device, "ids output");
      return;
    }
    qbuf_.upload(q, nq * d, stream);
    dbuf_.resize(count);
    ibuf_.resize(count);
    q_ = qbuf_.data();
    D_ = dbuf_.data();
    I_ = ibuf_.data();
  }
  const float* q() const { return q_; }
  float* D() const { return D_; }
  idx_t* I() const { return I_; }
  /// Queues the copies of the results back to the host (the caller synchronizes).
  void finish(cudaStream_t stream) const {
    if (space_ != MemSpace::Host) return;
    dbuf_.download(hD_, count_, stream);
    ibuf_.download(hI_, count_, stream);
  }

 private:
  MemSpace space_;
  const float* q_;
  float* D_;
  idx_t* I_;
  float* hD_;
  idx_t* hI_;
  std::size_t count_;
  DeviceBuffer<float> qbuf_, dbuf_;
  DeviceBuffer<idx_t> ibuf_;
};

/// Number of set bits among the first n of a host bitset.
std::size_t popcount_bits(const std::uint64_t* bits, std::size_t n);

}  // namespace warpsearch::detail::gpu
