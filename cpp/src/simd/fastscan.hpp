// SPDX-FileCopyrightText: 2026 warpsearch contributors
// SPDX-License-Identifier: Apache-2.0
#pragma once
// Fast-scan and lookup-table kernels of IVF-PQ: one source (fastscan_impl.inc)
// compiled once per ISA; fastscan_kernels() returns the table matching the active
// distance kernels (so set_simd_level applies to both).
//
// Packed 4-bit layout: codes come in blocks of 32 vectors; a block holds, for each
// sub-quantizer s (m rounded up to 4), 16 bytes whose byte i has the code of vector i
// in its low nibble and the code of vector i + 16 in its high nibble. A SIMD register
// of W bytes thus covers W / 16 sub-quantizers of the 32 vectors, and the matching
// W bytes of the uint8 lookup table (16 entries per sub-quantizer) are the shuffle
// tables of its 128-bit lanes.
#include <cstddef>
#include <cstdint>
#include <cstring>

namespace warpsearch::detail {

inline constexpr std::size_t kFsBlock = 32;  // vectors per packed block
inline constexpr std::size_t kFsGroup = 4;   // sub-quantizers are padded to a multiple of this
// Largest uint8 table entry: two entries add up in a byte, halving the widening work.
inline constexpr unsigned kFsLutMax = 127;
// Largest table entry for m sub-quantizers (also keeps every sum of m entries <= 65535).
inline float fastscan_cap(std::size_t m) {
  return m * kFsLutMax <= 65535 ? float(kFsLutMax) : float(65535 / m);
}

// Row weights of the uint8 tables (optional everywhere: nullptr means none). Sub-quantizer
// rows may use finer units than the widest ones: row j's entries are in units of
// U / 2^t_j, and the scan adds them with weight 2^(T - t_j) (T = the largest t_j), so its
// sums are in units of U / 2^T. The kernels take the shifts per group of kFsShiftRows rows
// as increments (gdelta[g] = t of group g minus t of group g - 1): the accumulators are
// shifted left by gdelta[g] before group g is added (t never decreases from row to row).
inline constexpr std::size_t kFsShiftRows = 8;
// Largest table entry for m rows with shifts rshift (per row, nullptr: none): every
// weighted sum stays <= 65535.
inline float fastscan_cap(const std::uint8_t* rshift, std::size_t m) {
  if (!rshift || m == 0) return fastscan_cap(m);
  const unsigned top = rshift[m - 1];
  std::size_t w = 0;
  for (std::size_t j = 0; j < m; ++j) w += std::size_t(1) << (top - rshift[j]);
  return w * kFsLutMax <= 65535 ? float(kFsLutMax) : float(65535 / w);
}

struct FastScanKernels {
  const char* name;
  // Sums of the n packed codes against lut8 (m_pad x 16 bytes); emits each vector whose
  // sum is <= thr as (pos, sum). Returns how many were emitted (at most n).
  std::size_t (*scan)(const std::uint8_t* codes, std::size_t n, std::size_t m_pad,
                      const std::uint8_t* lut8, const std::uint8_t* gdelta, std::uint16_t thr,
                      std::uint32_t* pos, std::uint16_t* sum);
  // Every sum: out[i] for the n packed codes (out holds n rounded up to kFsBlock).
  void (*sums)(const std::uint8_t* codes, std::size_t n, std::size_t m_pad,
               const std::uint8_t* lut8, const std::uint8_t* gdelta, std::uint16_t* out);
  // The same scan for nq (<= max_queries) tables at once: the codes are loaded and split
  // into nibbles once for all of them. Query u emits cnt[u] entries at pos/sum + u * stride.
  std::size_t max_queries;
  void (*scan_multi)(const std::uint8_t* codes, std::size_t n, std::size_t m_pad,
                     const std::uint8_t* const* luts, const std::uint8_t* gdelta, std::size_t nq,
                     const std::uint16_t* thr, std::uint32_t* pos, std::uint16_t* sum,
                     std::size_t stride, std::size_t* cnt);
  // Float LUT (m x ksub, ksub a multiple of 16) from a codebook transposed to
  // cbt[(j * dsub + t) * ksub + i]: squared L2 to r, or the negated inner product with r.
  void (*lut_l2)(const float* r, const float* cbt, std::size_t m, std::size_t dsub,
                 std::size_t ksub, float* lut);
  void (*lut_ip)(const float* r, const float* cbt, std::size_t m, std::size_t dsub,
                 std::size_t ksub, float* lut);
  // uint8 quantization of an m x 16 float LUT (see quantize_lut in quantization.hpp),
  // rows weighted by rshift (nullptr: none); sum ~ (distance - bias) * scale.
  void (*quantize16)(const float* lut, std::size_t m, const std::uint8_t* rshift,
                     std::uint8_t* out, float* scale, float* bias);
  // uint8 LUT of 16-entry tables out[j][i] = round((P[j][i] + Q[j][i]) * scale) where
  // P and Q are non-negative with per-row ranges prange[j], qrange[j]; the scale (returned)
  // maps the largest prange[j] + qrange[j] to cap. Rows [m, m_pad) are zero.
  // With rshift, row j is scaled 2^t_j more and the returned scale is that of the
  // weighted sums (see kFsShiftRows).
  float (*lut_combine)(const float* P, const float* Q, const float* prange, const float* qrange,
                       std::size_t m, float cap, const std::uint8_t* rshift, std::uint8_t* out);
  // lut_combine for tables in 16-bit fixed point (P, Q in [0, 16383], unit: the value of
  // one step), scaled by the exact range of each row of P + Q: the row minima go to
  // *bias (distance units), and the return value is the scale from distance units to
  // table units (sum ~ (distance - bias) * scale).
  float (*lut_combine16)(const std::int16_t* P, const std::int16_t* Q, std::size_t m, float cap,
                         float unit, const std::uint8_t* rshift, std::uint8_t* out, float* bias);
  // Distances to an fp16 vector (refine store).
  float (*l2_f16)(const float* q, const std::uint16_t* x, std::size_t d);
  float (*ip_f16)(const float* q, const std::uint16_t* x, std::size_t d);
  // Running nearest centroid over npan consecutive 16-wide panels (see CentroidPanels):
  // dots[(p * nb + i) * 16 + lane] is query i against lane of panel p; dist = ip ?
  // pad - dot : qn[i] + bias - 2 dot (bias, pad: npan x 16); where dist is smaller than
  // best (nb x 16), best and bidx take dist and first + 16 p + lane.
  void (*argmin16)(const float* dots, std::size_t npan, std::size_t nb, const float* bias,
                   const float* pad, const float* qn, bool ip, std::int32_t first, float* best,
                   std::int32_t* bidx);
  // Same distances for nb rows into dist (nb x 16); mask[i] has bit l set when
  // dist[i][l] < thr[i].
  void (*below16)(const float* dots, std::size_t nb, const float* bias, const float* pad,
                  const float* qn, bool ip, const float* thr, float* dist, std::uint32_t* mask);
};

const FastScanKernels& fastscan_kernels();
const FastScanKernels& fastscan_kernels_generic();
const FastScanKernels& fastscan_kernels_avx2();
const FastScanKernels& fastscan_kernels_avx512();

// IEEE half <-> float, round to nearest even (portable; the SIMD kernels convert in bulk).
inline float half_to_float(std::uint16_t h) {
  const std::uint32_t sign = std::uint32_t(h & 0x8000u) << 16;
  std::uint32_t exp = (h >> 10) & 0x1fu, man = h & 0x3ffu, bits;
  if (exp == 0x1f) {
    bits = sign | 0x7f800000u | (man << 13);
  } else if (exp != 0) {
    bits = sign | ((exp + 112) << 23) | (man << 13);
  } else if (man == 0) {
    bits = sign;
  } else {  // subnormal half: normalize
    int e = -1;
    do {
      ++e;
      man <<= 1;
    } while (!(man & 0x400u));
    bits = sign | (std::uint32_t(112 - e) << 23) | ((man & 0x3ffu) << 13);
  }
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

inline std::uint16_t float_to_half(float f) {
  std::uint32_t x;
  std::memcpy(&x, &f, 4);
  const std::uint16_t sign = std::uint16_t((x >> 16) & 0x8000u);
  const std::uint32_t ax = x & 0x7fffffffu;
  if (ax >= 0x7f800000u) return std::uint16_t(sign | 0x7c00u | (ax > 0x7f800000u ? 0x200u : 0));
  if (ax >= 0x477ff000u) return std::uint16_t(sign | 0x7c00u);  // overflows to inf
  if (ax < 0x38800000u) {                                        // subnormal or zero half
    if (ax < 0x33000000u) return sign;
    const std::uint32_t e = ax >> 23, man = (ax & 0x7fffffu) | 0x800000u;
    const std::uint32_t shift = 126 - e;  // 14..24
    std::uint32_t v = man >> shift;
    const std::uint32_t rem = man & ((1u << shift) - 1), half = 1u << (shift - 1);
    if (rem > half || (rem == half && (v & 1u))) ++v;
    return std::uint16_t(sign | v);
  }
  std::uint32_t v = ((ax >> 13) - (112u << 10));
  const std::uint32_t rem = ax & 0x1fffu;
  if (rem > 0x1000u || (rem == 0x1000u && (v & 1u))) ++v;
  return std::uint16_t(sign | v);
}

}  // namespace warpsearch::detail
