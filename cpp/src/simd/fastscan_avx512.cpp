// SPDX-FileCopyrightText: 2026 warpsearch contributors
// SPDX-License-Identifier: Apache-2.0
// Fast-scan kernels compiled for avx512 (flags set per file in cpp/CMakeLists.txt).
#define WS_FS_BYTES 64
#define WS_FS_NAME "avx512"
#define WS_FS_NS fs_avx512
#define WS_FS_FN fastscan_kernels_avx512
#include "simd/fastscan_impl.inc"
