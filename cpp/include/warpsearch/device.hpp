// SPDX-FileCopyrightText: 2026 warpsearch contributors
// SPDX-License-Identifier: Apache-2.0
#pragma once
/** @brief CUDA-free view of the devices and of how the engine was built. */
#include <cstddef>
#include <string>
#include <utility>
#include <vector>

namespace warpsearch {

/** @brief Number of usable CUDA devices; 0 without CUDA, driver or device. */
int cuda_device_count();
/** @brief True when the CUDA sources were compiled into this build. */
bool cuda_compiled();
/** @brief Name of a CUDA device, or "" when absent. */
std::string cuda_device_name(int device);
/**
 * @brief Free and total bytes of a CUDA device's memory, as the driver reports them now;
 * {0, 0} without CUDA or without that device (memory planners then use host memory).
 */
std::pair<std::size_t, std::size_t> cuda_mem_info(int device);

/**
 * @brief The SIMD level the distance kernels run with ("generic", "avx2", "avx512",
 * "avx512_vnni"): the best one, or the one named by the environment variable
 * WARPSEARCH_SIMD, read once at first use. An unknown or unsupported value throws
 * std::invalid_argument from that first use (in Python: ImportError on import).
 */
std::string simd_level();
/** @brief The best SIMD level this CPU and build support (what runs unless forced). */
std::string simd_best();
/** @brief Every ISA compiled into this build. */
std::vector<std::string> simd_compiled();
/** @brief Forces a SIMD level at or below what the CPU supports (for tests and benchmarks). */
void set_simd_level(const std::string& level);

}  // namespace warpsearch
