// SPDX-FileCopyrightText: 2026 warpsearch contributors
// SPDX-License-Identifier: Apache-2.0
// Test hooks of the CPU emulator, compiled into the module itself (symbols of the static
// engine stay hidden) and exported so that Python tests reach them through ctypes:
// emulated device memory, which is plain host memory here (the tests fill and read it
// with ctypes.memmove), for the entry points that take device pointers.
#include <cstddef>

#include "cuda_runtime.h"

extern "C" __attribute__((visibility("default"))) void* ws_emu_test_malloc(std::size_t bytes) {
  void* p = nullptr;
  return cudaMalloc(&p, bytes) == cudaSuccess ? p : nullptr;
}

extern "C" __attribute__((visibility("default"))) int ws_emu_test_free(void* p) {
  return int(cudaFree(p));
}
