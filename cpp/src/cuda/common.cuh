// SPDX-FileCopyrightText: 2026 warpsearch contributors
// SPDX-License-Identifier: Apache-2.0
#pragma once
// Shared pieces of the CUDA sources: kernel launch, RAII device memory, the
// device guard, and small device helpers. Written so that the same sources also
// compile against the CPU emulator used by tests (cpp/tests/cuda_emu).
#include <cuda_runtime.h>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <utility>
#include <vector>

#include "cuda/check.cuh"

#ifdef WS_CUDA_EMULATOR
#define WS_LAUNCH(kernel, grid, block, smem, stream, ...) \
  ::ws_emu::launch(kernel, grid, block, smem, __VA_ARGS__)
#define WS_DYN_SMEM(name) unsigned char* name = ::ws_emu::dyn_smem()
#else
#define WS_LAUNCH(kernel, grid, block, smem, stream, ...) \
  kernel<<<grid, block, smem, stream>>>(__VA_ARGS__)
// One declaration, identical in every kernel of every file.
#define WS_DYN_SMEM(name) extern __shared__ __align__(16) unsigned char name[]
#endif
/// Checks the launch that was just made (configuration errors surface here).
#define WS_CUDA_CHECK_LAUNCH() WS_CUDA_CHECK(cudaGetLastError())

namespace warpsearch::detail::gpu {

constexpr unsigned kFull = 0xffffffffu;
constexpr std::uint32_t kNoId = 0xffffffffu;
constexpr std::uint32_t kExpanded = 0x80000000u;  // graph pool: node already expanded

__host__ __device__ __forceinline__ int imin(int a, int b) { return a < b ? a : b; }
__host__ __device__ __forceinline__ int imax(int a, int b) { return a > b ? a : b; }
__host__ __device__ __forceinline__ std::size_t div_up(std::size_t a, std::size_t b) {
  return (a + b - 1) / b;
}
/// (key, id) order: by key, ties by id. Every sort and merge uses it, so results are
/// deterministic for a given candidate set.
__device__ __forceinline__ bool pair_less(float ka, std::uint32_t ia, float kb, std::uint32_t ib) {
  return ka < kb || (ka == kb && ia < ib);
}
__device__ __forceinline__ bool bit_allowed(const std::uint64_t* bits, std::size_t i) {
  return bits == nullptr || ((bits[i >> 6] >> (i & 63)) & 1u);
}
__device__ __forceinline__ int lane_id() { return int(threadIdx.x & 31u); }

/// Makes a device current for a scope and restores the previous one.
class DeviceGuard {
 public:
  explicit DeviceGuard(int device) {
    WS_CUDA_CHECK(cudaGetDevice(&prev_));
    if (prev_ != device) WS_CUDA_CHECK(cudaSetDevice(device));
  }
  ~DeviceGuard() { (void)cudaSetDevice(prev_); }
  DeviceGuard(const DeviceGuard&) = delete;
  DeviceGuard& operator=(const DeviceGuard&) = delete;

 private:
  int prev_ = 0;
};

/// Device memory of n elements of T, freed by the destructor.
template <typename T>
class DeviceBuffer {
 public:
  DeviceBuffer() = default;
  explicit DeviceBuffer(std::size_t n) { resize(n); }
  ~DeviceBuffer() { release(); }
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  DeviceBuffer(DeviceBuffer&& o) noexcept : p_(std::exchange(o.p_, nullptr)), n_(std::exchange(o.n_, 0)) {}
  DeviceBuffer& operator=(DeviceBuffer&& o) noexcept {
    if (this != &o) {
      release();
      p_ = std::exchange(o.p_, nullptr);
      n_ = std::exchange(o.n_, 0);
    }
    return *this;
  }
  void resize(std::size_t n) {
    release();
    if (n == 0) return;
    WS_CUDA_CHECK(cudaMalloc(&p_, n * sizeof(T)));
    n_ = n;
  }
  void upload(const T* host, std::size_t n, cudaStream_t s) {
    if (n_ < n) resize(n);
    if (n) WS_CUDA_CHECK(cudaMemcpyAsync(p_, host, n * sizeof(T), cudaMemcpyHostToDevice, s));
  }
  void download(T* host, std::size_t n, cudaStream_t s) const {
    if (n) WS_CUDA_CHECK(cudaMemcpyAsync(host, p_, n * sizeof(T), cudaMemcpyDeviceToHost, s));
  }
  T* data() { return p_; }
  const T* data() const { return p_; }
  std::size_t size() const { return n_; }
  std::size_t bytes() const { return n_ * sizeof(T); }

 private:
  void release() {
    if (p_) (void)cudaFree(p_);  // never throws from a destructor
    p_ = nullptr;
    n_ = 0;
  }
  T* p_ = nullptr;
  std::size_t n_ = 0;
};

/// A stream that synchronizes with the legacy default stream (so device arrays
/// written by CuPy or PyTorch on their default stream are ready), destroyed last.
class Stream {
 public:
  Stream() { WS_CUDA_CHECK(cudaStreamCreate(&s_)); }
  ~Stream() {
    if (s_) (void)cudaStreamDestroy(s_);
  }
  Stream(const Stream&) = delete;
  Stream& operator=(const Stream&) = delete;
  cudaStream_t get() const { return s_; }
  void sync() const { WS_CUDA_CHECK(cudaStreamSynchronize(s_)); }

 private:
  cudaStream_t s_ = nullptr;
};

struct DeviceInfo {
  int sms = 1;
  int smem_optin = 48 * 1024;
};
DeviceInfo device_info(int device);

/// Checks that a device index names an existing device.
void expect_device(int device);
/// Checks that p (if not null) is device (or managed) memory usable on device.
void expect_device_pointer(const void* p, int device, const char* what);

}  // namespace warpsearch::detail::gpu
