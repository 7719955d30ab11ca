// SPDX-FileCopyrightText: 2026 warpsearch contributors
// SPDX-License-Identifier: Apache-2.0
// Linked when the build has no CUDA: there are no devices.
#include "warpsearch/device.hpp"

namespace warpsearch {
int cuda_device_count() { return 0; }
bool cuda_compiled() { return false; }
std::string cuda_device_name(int) { return ""; }
std::pair<std::size_t, std::size_t> cuda_mem_info(int) { return {0, 0}; }
}  // namespace warpsearch
