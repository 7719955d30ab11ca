// SPDX-FileCopyrightText: 2026 warpsearch contributors
// SPDX-License-Identifier: Apache-2.0
// Distance kernels compiled for generic (flags set per file in cpp/CMakeLists.txt).
#define WS_VEC_BYTES 16
#define WS_ISA_NAME "generic"
#define WS_ISA_NS isa_generic
#define WS_KERNELS_FN kernels_generic
#include "simd/distance_impl.inc"
