// SPDX-FileCopyrightText: 2026 warpsearch contributors
// SPDX-License-Identifier: Apache-2.0
#pragma once
// Emulator stand-ins for CUDA's half and bfloat16 types: storage plus the conversions
// the kernels use (round to nearest even, as the device does). Tests only.
#include <cstdint>
#include <cstring>

struct __half {
  std::uint16_t bits = 0;
};
struct __nv_bfloat16 {
  std::uint16_t bits = 0;
};

inline __half __float2half_rn(float f) {
  std::uint32_t x;
  std::memcpy(&x, &f, 4);
  const std::uint32_t sign = (x >> 16) & 0x8000u;
  const std::uint32_t absx = x & 0x7fffffffu;
  __half h;
  if (absx >= 0x7f800000u) {  // inf or nan
    h.bits = std::uint16_t(sign | 0x7c00u | (absx > 0x7f800000u ? 0x200u : 0u));
    return h;
  }
  if (absx >= 0x477ff000u) {  // rounds past the largest half: inf
    h.bits = std::uint16_t(sign | 0x7c00u);
    return h;
  }
  if (absx < 0x38800000u) {  // subnormal half (or zero): scale by 2^24, round to integer
    float a;
    std::memcpy(&a, &absx, 4);
    const float s = a * 16777216.0f;
    std::uint32_t m = std::uint32_t(s);
    const float rem = s - float(m);
    if (rem > 0.5f || (rem == 0.5f && (m & 1u))) ++m;
    h.bits = std::uint16_t(sign | m);
    return h;
  }
  std::uint32_t m = absx - 0x38000000u;  // rebias exponent 127 -> 15
  const std::uint32_t lsb = (m >> 13) & 1u;
  m += 0xfffu + lsb;
  h.bits = std::uint16_t(sign | (m >> 13));
  return h;
}

inline float __half2float(__half h) {
  const std::uint32_t sign = std::uint32_t(h.bits & 0x8000u) << 16;
  const std::uint32_t e = (h.bits >> 10) & 0x1fu, m = h.bits & 0x3ffu;
  std::uint32_t x;
  if (e == 0) {
    float f = float(m) / 16777216.0f;
    std::memcpy(&x, &f, 4);
    x |= sign;
  } else if (e == 31) {
    x = sign | 0x7f800000u | (m << 13);
  } else {
    x = sign | ((e + 112u) << 23) | (m << 13);
  }
  float f;
  std::memcpy(&f, &x, 4);
  return f;
}

inline __nv_bfloat16 __float2bfloat16_rn(float f) {
  std::uint32_t x;
  std::memcpy(&x, &f, 4);
  __nv_bfloat16 b;
  if ((x & 0x7fffffffu) > 0x7f800000u) {
    b.bits = std::uint16_t((x >> 16) | 0x40u);
    return b;
  }
  x += 0x7fffu + ((x >> 16) & 1u);
  b.bits = std::uint16_t(x >> 16);
  return b;
}

inline float __bfloat162float(__nv_bfloat16 b) {
  const std::uint32_t x = std::uint32_t(b.bits) << 16;
  float f;
  std::memcpy(&f, &x, 4);
  return f;
}
