// SPDX-FileCopyrightText: 2026 warpsearch contributors
// SPDX-License-Identifier: Apache-2.0
// Fast-scan kernels compiled for generic (flags set per file in cpp/CMakeLists.txt).
#define WS_FS_BYTES 16
#define WS_FS_NAME "generic"
#define WS_FS_NS fs_generic
#define WS_FS_FN fastscan_kernels_generic
#include "simd/fastscan_impl.inc"
