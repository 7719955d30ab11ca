// SPDX-FileCopyrightText: 2026 warpsearch contributors
// SPDX-License-Identifier: Apache-2.0
#pragma once
// Distance kernels: one source (distance_impl.inc) compiled once per ISA; kernels()
// returns the table for the best ISA the CPU supports, chosen once at run time.
#include <cstddef>
#include <cstdint>

namespace warpsearch::detail {

// Panel layout used by the flat index: vectors in groups of kPanel, dimension-major
// inside a group (panel[p * kPanel + lane] = x[lane][p]).
inline constexpr std::size_t kPanel = 16;

struct Kernels {
  const char* name;
  float (*l2)(const float* a, const float* b, std::size_t d);
  float (*ip)(const float* a, const float* b, std::size_t d);
  // sum_i w[i] * c[i] for uint8 codes c.
  float (*ip_u8)(const float* w, const std::uint8_t* c, std::size_t d);
  // Four code vectors at once (independent loads overlap their cache misses).
  void (*ip_u8_x4)(const float* w, const std::uint8_t* c0, const std::uint8_t* c1,
                   const std::uint8_t* c2, const std::uint8_t* c3, std::size_t d, float* out);
  // Integer dot product of uint8 codes with int16 weights over n entries (n a multiple
  // of 64, zero padded): exact in every ISA, so results do not depend on the CPU. The
  // caller bounds the weights so that n * 255 * max|w| fits in int32.
  std::int32_t (*dot_u8s16)(const std::uint8_t* c, const std::int16_t* w, std::size_t n);
  void (*dot_u8s16_x4)(const std::uint8_t* c0, const std::uint8_t* c1, const std::uint8_t* c2,
                       const std::uint8_t* c3, const std::int16_t* w, std::size_t n,
                       std::int32_t* out);
  // sum_i c[i] * ((c[i] << shift) - w[i]) over n entries (n a multiple of 64, zero
  // padded), exact in every ISA: with w = 2^(shift+1) * u it is 2^shift * (|u - c|^2 - |u|^2),
  // a squared L2 distance in code units that needs no stored code norm. The caller keeps
  // every (c << shift) - w inside int16 and the sum inside int32.
  std::int32_t (*l2_u8s16)(const std::uint8_t* c, const std::int16_t* w, std::size_t n, int shift);
  void (*l2_u8s16_x4)(const std::uint8_t* c0, const std::uint8_t* c1, const std::uint8_t* c2,
                      const std::uint8_t* c3, const std::int16_t* w, std::size_t n, int shift,
                      std::int32_t* out);
  // The dot product for 4-bit codes: n entries in n / 2 bytes, in blocks of 32 bytes
  // where byte i holds entry i (low nibble) and entry 32 + i (high nibble).
  std::int32_t (*dot_u4s16)(const std::uint8_t* c, const std::int16_t* w, std::size_t n);
  void (*dot_u4s16_x4)(const std::uint8_t* c0, const std::uint8_t* c1, const std::uint8_t* c2,
                       const std::uint8_t* c3, const std::int16_t* w, std::size_t n,
                       std::int32_t* out);
  int max_q;  // queries one dot_panel call takes (sized to the register file)
  // Dot products of nq (<= max_q) queries (row-major, stride ldq) with one panel of kPanel
  // vectors: out[i * kPanel + lane].
  void (*dot_panel)(const float* q, std::size_t nq, std::size_t ldq, const float* panel,
                    std::size_t d, float* out);
  // Storage codecs (quantization/vector_codec.hpp). fp16 -> fp32 of n values.
  void (*f16_to_f32)(const std::uint16_t* h, std::size_t n, float* out);
  // out[j] = lo[j] + step[j] * code j; bits 8: code j is byte j; bits 4: byte j / 2,
  // low nibble for even j.
  void (*sq_decode)(const std::uint8_t* c, int bits, const float* lo, const float* step,
                    std::size_t d, float* out);
  // sum_j (q[j] - (lo[j] + step[j] * c[j]))^2 over 8-bit codes c: the squared L2 distance
  // to the values sq_decode gives, summed as squared differences (never as
  // |q|^2 - 2 q.x + |x|^2, whose fp32 error grows with the norms, not the distance).
  float (*l2_sq8)(const float* q, const std::uint8_t* c, const float* lo, const float* step,
                  std::size_t d);
};

const Kernels& kernels();

// Per-ISA tables (defined in distance_<isa>.cpp when compiled in).
const Kernels& kernels_generic();
const Kernels& kernels_avx2();
const Kernels& kernels_avx512();
const Kernels& kernels_avx512_vnni();

}  // namespace warpsearch::detail
