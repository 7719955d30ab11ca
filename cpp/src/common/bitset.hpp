// SPDX-FileCopyrightText: 2026 warpsearch contributors
// SPDX-License-Identifier: Apache-2.0
#pragma once
#include <cstddef>
#include <cstdint>

namespace warpsearch::detail {
inline bool bit_test(const std::uint64_t* b, std::size_t i) { return (b[i >> 6] >> (i & 63)) & 1u; }
inline void bit_set(std::uint64_t* b, std::size_t i) { b[i >> 6] |= std::uint64_t(1) << (i & 63); }
inline std::size_t bit_words(std::size_t n) { return (n + 63) / 64; }
// Set bits in [lo, hi).
inline std::size_t count_bits(const std::uint64_t* b, std::size_t lo, std::size_t hi) {
  if (lo >= hi) return 0;
  const std::size_t w0 = lo >> 6, w1 = (hi - 1) >> 6;
  const std::uint64_t first = ~std::uint64_t(0) << (lo & 63);
  const std::uint64_t last = ~std::uint64_t(0) >> (63 - ((hi - 1) & 63));
  if (w0 == w1) return std::size_t(__builtin_popcountll(b[w0] & first & last));
  std::size_t n = std::size_t(__builtin_popcountll(b[w0] & first));
  for (std::size_t w = w0 + 1; w < w1; ++w) n += std::size_t(__builtin_popcountll(b[w]));
  return n + std::size_t(__builtin_popcountll(b[w1] & last));
}
// Calls f(i - lo) for each set bit i in [lo, hi), in order: a word at a time, so a sparse
// set costs its words and its bits, not a test per position.
template <typename F>
void for_each_bit(const std::uint64_t* b, std::size_t lo, std::size_t hi, F&& f) {
  if (lo >= hi) return;
  for (std::size_t w = lo >> 6; w <= (hi - 1) >> 6; ++w) {
    std::uint64_t bits = b[w];
    const std::size_t w0 = w << 6;
    if (w0 < lo) bits &= ~std::uint64_t(0) << (lo - w0);
    if (w0 + 64 > hi) bits &= ~std::uint64_t(0) >> (w0 + 64 - hi);
    for (; bits; bits &= bits - 1) f(w0 + std::size_t(__builtin_ctzll(bits)) - lo);
  }
}
}  // namespace warpsearch::detail
