// SPDX-FileCopyrightText: 2026 warpsearch contributors
// SPDX-License-Identifier: Apache-2.0
#pragma once
#include <cstddef>
#include <cstdint>

namespace warpsearch::detail {
inline bool bit_test(const std::uint64_t* b, std::size_t i) { return (b[i >> 6] >> (i & 63)) & 1u; }
inline void bit_set(std::uint64_t* b, std::size_t i) { b[i >> 6] |= std::uint64_t(1) << (i & 63); }
inline std::size_t bit_words(std::size_t n) { return (n + 63) / 64; }
}  // namespace warpsearch::detail
