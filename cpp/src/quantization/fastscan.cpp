// SPDX-FileCopyrightText: 2026 warpsearch contributors
// SPDX-License-Identifier: Apache-2.0
// Packed 4-bit code layout (see simd/fastscan.hpp), LUT quantization and the choice of
// the fast-scan kernels, which follows the active distance kernels.
#include <cstring>
#include <string>
#include <vector>

#include "simd/distance.hpp"
#include "simd/fastscan.hpp"
#include "warpsearch/errors.hpp"
#include "warpsearch/quantization.hpp"

namespace warpsearch {
namespace detail {

const FastScanKernels& fastscan_kernels() {
#if defined(WS_HAVE_X86)
  // Same level as set_simd_level / CPU detection chose for the distance kernels.
  const char* name = kernels().name;
  if (std::strncmp(name, "avx512", 6) == 0) return fastscan_kernels_avx512();
  if (std::strcmp(name, "avx2") == 0) return fastscan_kernels_avx2();
#endif
  return fastscan_kernels_generic();
}

}  // namespace detail

std::size_t fastscan_m_pad(std::size_t m) {
  return (m + detail::kFsGroup - 1) / detail::kFsGroup * detail::kFsGroup;
}

std::size_t fastscan_bytes(std::size_t n, std::size_t m) {
  return (n + detail::kFsBlock - 1) / detail::kFsBlock * fastscan_m_pad(m) * 16;
}

void pack_fastscan(const std::uint8_t* codes, std::size_t n, std::size_t m, std::uint8_t* out) {
  const std::size_t mp = fastscan_m_pad(m);
  std::memset(out, 0, fastscan_bytes(n, m));
  for (std::size_t i = 0; i < n; ++i) {
    std::uint8_t* blk = out + (i / detail::kFsBlock) * mp * 16;
    const std::size_t v = i % detail::kFsBlock, byte = v & 15, shift = v < 16 ? 0 : 4;
    for (std::size_t j = 0; j < m; ++j)
      blk[j * 16 + byte] |= std::uint8_t((codes[i * m + j] & 15) << shift);
  }
}

std::uint8_t fastscan_code(const std::uint8_t* packed, std::size_t m, std::size_t i,
                           std::size_t j) {
  const std::size_t mp = fastscan_m_pad(m), v = i % detail::kFsBlock;
  const std::uint8_t b = packed[(i / detail::kFsBlock) * mp * 16 + j * 16 + (v & 15)];
  return v < 16 ? (b & 15) : (b >> 4);
}

void quantize_lut(const float* lut, std::size_t m, std::uint8_t* out, float* scale, float* bias,
                  const std::uint8_t* rshift) {
  WS_EXPECTS(m > 0, "m must be > 0");
  if (rshift) fastscan_gdelta(rshift, fastscan_m_pad(m));  // validates
  detail::fastscan_kernels().quantize16(lut, m, rshift, out, scale, bias);
}

std::vector<std::uint8_t> fastscan_gdelta(const std::uint8_t* rshift, std::size_t m_pad) {
  const std::size_t g = detail::kFsShiftRows, groups = (m_pad + g - 1) / g;
  std::vector<std::uint8_t> out(groups, 0);
  for (std::size_t j = 0; j < m_pad; ++j) {
    WS_EXPECTS(rshift[j] <= 8, "row shifts must be <= 8");
    WS_EXPECTS(rshift[j] == rshift[j / g * g], "row shifts must be equal within groups of ", g, " rows");
    WS_EXPECTS(j < g || rshift[j] >= rshift[j - g], "row shifts must not decrease");
  }
  for (std::size_t k = 1; k < groups; ++k) out[k] = std::uint8_t(rshift[k * g] - rshift[(k - 1) * g]);
  return out;
}

void fastscan_distances(const std::uint8_t* packed, std::size_t n, std::size_t m,
                        const std::uint8_t* lut8, std::uint16_t* out, const std::uint8_t* rshift) {
  // Both kernels that compute every sum: the scan with the largest threshold (which emits
  // all of them) and the plain sums; they must agree.
  std::vector<std::uint32_t> pos(n);
  std::vector<std::uint16_t> sum(n), all((n + detail::kFsBlock - 1) / detail::kFsBlock * detail::kFsBlock);
  const std::vector<std::uint8_t> gd = rshift ? fastscan_gdelta(rshift, fastscan_m_pad(m)) : std::vector<std::uint8_t>{};
  const auto& F = detail::fastscan_kernels();
  const std::size_t c = F.scan(packed, n, fastscan_m_pad(m), lut8, rshift ? gd.data() : nullptr,
                               0xffff, pos.data(), sum.data());
  F.sums(packed, n, fastscan_m_pad(m), lut8, rshift ? gd.data() : nullptr, all.data());
  WS_ASSERT(c == n);
  for (std::size_t i = 0; i < c; ++i) {
    WS_ASSERT(pos[i] == i && sum[i] == all[i]);
    out[i] = all[i];
  }
}

float combine_lut16(const std::int16_t* P, const std::int16_t* Q, std::size_t m, float cap, float unit,
                    std::uint8_t* out, float* bias, const std::uint8_t* rshift) {
  WS_EXPECTS(m > 0, "m must be > 0");
  for (std::size_t i = 0; i < m * 16; ++i)
    WS_EXPECTS(P[i] >= 0 && P[i] <= 16383 && Q[i] >= 0 && Q[i] <= 16383, "table entries must be in [0, 16383]");
  if (rshift) fastscan_gdelta(rshift, fastscan_m_pad(m));  // validates
  return detail::fastscan_kernels().lut_combine16(P, Q, m, cap, unit, rshift, out, bias);
}

}  // namespace warpsearch
