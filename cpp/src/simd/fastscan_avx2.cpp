// SPDX-FileCopyrightText: 2026 warpsearch contributors
// SPDX-License-Identifier: Apache-2.0
// Fast-scan kernels compiled for avx2 (flags set per file in cpp/CMakeLists.txt).
#define WS_FS_BYTES 32
#define WS_FS_NAME "avx2"
#define WS_FS_NS fs_avx2
#define WS_FS_FN fastscan_kernels_avx2
#include "simd/fastscan_impl.inc"
