// SPDX-FileCopyrightText: 2026 warpsearch contributors
// SPDX-License-Identifier: Apache-2.0
// Distance kernels compiled for avx512_vnni (flags set per file in cpp/CMakeLists.txt).
#define WS_VEC_BYTES 64
#define WS_ISA_NAME "avx512_vnni"
#define WS_ISA_NS isa_avx512_vnni
#define WS_KERNELS_FN kernels_avx512_vnni
#include "simd/distance_impl.inc"
