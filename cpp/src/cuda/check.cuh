// SPDX-FileCopyrightText: 2026 warpsearch contributors
// SPDX-License-Identifier: Apache-2.0
#pragma once
// Every CUDA runtime call goes through WS_CUDA_CHECK: a failure becomes
// warpsearch::CudaError naming the call and the runtime's message.
#include <cuda_runtime.h>

#include "warpsearch/errors.hpp"

#define WS_CUDA_CHECK(call)                                                              \
  do {                                                                                   \
    cudaError_t ws_err_ = (call);                                                        \
    if (ws_err_ != cudaSuccess)                                                          \
      throw ::warpsearch::CudaError(::warpsearch::detail::concat(                        \
          #call, " failed: ", cudaGetErrorName(ws_err_), ": ", cudaGetErrorString(ws_err_))); \
  } while (0)
