// SPDX-FileCopyrightText: 2026 warpsearch contributors
// SPDX-License-Identifier: Apache-2.0
// Distance kernels compiled for avx2 (flags set per file in cpp/CMakeLists.txt).
#define WS_VEC_BYTES 32
#define WS_ISA_NAME "avx2"
#define WS_ISA_NS isa_avx2
#define WS_KERNELS_FN kernels_avx2
#include "simd/distance_impl.inc"
