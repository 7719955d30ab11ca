// SPDX-FileCopyrightText: 2026 warpsearch contributors
// SPDX-License-Identifier: Apache-2.0
#pragma once
#include <cstddef>
#include <cstdint>

namespace warpsearch::detail {
// CRC-32C (Castagnoli), software slicing-by-8; crc is the running value (start at 0).
std::uint32_t crc32c(const void* data, std::size_t n, std::uint32_t crc = 0);
}  // namespace warpsearch::detail
