// SPDX-FileCopyrightText: 2026 warpsearch contributors
// SPDX-License-Identifier: Apache-2.0
// Device discovery. No driver or no device is not an error: it means 0 devices.
#include <cuda_runtime.h>

#include "cuda/common.cuh"
#include "warpsearch/device.hpp"

namespace warpsearch {

int cuda_device_count() {
  int n = 0;
  cudaError_t err = cudaGetDeviceCount(&n);
  if (err != cudaSuccess) {
    (void)cudaGetLastError();  // clear the sticky error of a missing driver
    return 0;
  }
  return n;
}

bool cuda_compiled() { return true; }

std::string cuda_device_name(int device) {
  if (device < 0 || device >= cuda_device_count()) return "";
  cudaDeviceProp prop{};
  WS_CUDA_CHECK(cudaGetDeviceProperties(&prop, device));
  return prop.name;
}

std::pair<std::size_t, std::size_t> cuda_mem_info(int device) {
  if (device < 0 || device >= cuda_device_count()) return {0, 0};
  detail::gpu::DeviceGuard guard(device);  // cudaMemGetInfo reports the current device
  std::size_t free_b = 0, total_b = 0;
  WS_CUDA_CHECK(cudaMemGetInfo(&free_b, &total_b));
  return {free_b, total_b};
}

}  // namespace warpsearch

namespace warpsearch::detail::gpu {

void expect_device(int device) {
  const int n = cuda_device_count();
  WS_EXPECTS(n > 0, "no CUDA device is available (the driver reports none)");
  WS_EXPECTS(device >= 0 && device < n, "CUDA device ", device, " does not exist (", n,
             " device", n == 1 ? "" : "s", " available)");
}

DeviceInfo device_info(int device) {
  DeviceInfo info;
  WS_CUDA_CHECK(cudaDeviceGetAttribute(&info.sms, cudaDevAttrMultiProcessorCount, device));
  WS_CUDA_CHECK(cudaDeviceGetAttribute(&info.smem_optin, cudaDevAttrMaxSharedMemoryPerBlockOptin, device));
  return info;
}

void expect_device_pointer(const void* p, int device, const char* what) {
  if (p == nullptr) return;
  cudaPointerAttributes attr{};
  WS_CUDA_CHECK(cudaPointerGetAttributes(&attr, p));
  WS_EXPECTS(attr.type == cudaMemoryTypeDevice || attr.type == cudaMemoryTypeManaged,
             what, " is not device memory");
  WS_EXPECTS(attr.type == cudaMemoryTypeManaged || attr.device == device, what, " lives on CUDA device ",
             attr.device, ", the index on device ", device);
}

}  // namespace warpsearch::detail::gpu
