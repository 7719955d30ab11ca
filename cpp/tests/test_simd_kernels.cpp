// SPDX-FileCopyrightText: 2026 warpsearch contributors
// SPDX-License-Identifier: Apache-2.0
// Every distance and codec kernel, at every SIMD level this CPU runs, against a scalar
// reference: float kernels within rounding of the exact (double) value, integer kernels
// exactly.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include "simd/distance.hpp"
#include "simd/fastscan.hpp"
#include "test_util.hpp"

namespace warpsearch::detail {
namespace {

using test::LevelGuard;
using test::supported_levels;

const std::size_t kDims[] = {1, 3, 7, 16, 31, 33, 64, 100, 128, 257};

std::vector<float> randf(std::mt19937& g, std::size_t n, float lo, float hi) {
  std::uniform_real_distribution<float> u(lo, hi);
  std::vector<float> v(n);
  for (auto& x : v) x = u(g);
  return v;
}
std::vector<std::uint8_t> randu8(std::mt19937& g, std::size_t n, int hi = 255) {
  std::uniform_int_distribution<int> u(0, hi);
  std::vector<std::uint8_t> v(n);
  for (auto& x : v) x = std::uint8_t(u(g));
  return v;
}
std::vector<std::int16_t> rand16(std::mt19937& g, std::size_t n, int lo, int hi) {
  std::uniform_int_distribution<int> u(lo, hi);
  std::vector<std::int16_t> v(n);
  for (auto& x : v) x = std::int16_t(u(g));
  return v;
}

// |got - ref| within fp32 rounding of a sum whose terms have absolute sum `mag`.
void expect_close(double got, double ref, double mag, const std::string& what) {
  EXPECT_LE(std::abs(got - ref), 1e-5 * mag + 1e-6) << what << ": got " << got << ", want " << ref;
}

class Kernels : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    set_simd_level(GetParam());
    ASSERT_EQ(simd_level(), GetParam());
  }
  LevelGuard guard_;
  std::mt19937 g_{1234};
};

TEST_P(Kernels, FloatL2AndInnerProduct) {
  const auto& K = kernels();
  for (std::size_t d : kDims) {
    auto a = randf(g_, d, -3.f, 3.f), b = randf(g_, d, -3.f, 3.f);
    double l2 = 0, ip = 0, ml2 = 0, mip = 0;
    for (std::size_t i = 0; i < d; ++i) {
      const double t = double(a[i]) - double(b[i]);
      l2 += t * t;
      ip += double(a[i]) * b[i];
      mip += std::abs(double(a[i]) * b[i]);
    }
    ml2 = l2;
    expect_close(K.l2(a.data(), b.data(), d), l2, ml2, "l2 d=" + std::to_string(d));
    expect_close(K.ip(a.data(), b.data(), d), ip, mip, "ip d=" + std::to_string(d));
  }
}

TEST_P(Kernels, FloatTimesUint8Codes) {
  const auto& K = kernels();
  for (std::size_t d : kDims) {
    auto w = randf(g_, d, -2.f, 2.f);
    std::vector<std::uint8_t> c[4];
    double ref[4] = {}, mag[4] = {};
    for (int j = 0; j < 4; ++j) {
      c[j] = randu8(g_, d);
      for (std::size_t i = 0; i < d; ++i) {
        ref[j] += double(w[i]) * c[j][i];
        mag[j] += std::abs(double(w[i]) * c[j][i]);
      }
    }
    expect_close(K.ip_u8(w.data(), c[0].data(), d), ref[0], mag[0], "ip_u8 d=" + std::to_string(d));
    float out[4];
    K.ip_u8_x4(w.data(), c[0].data(), c[1].data(), c[2].data(), c[3].data(), d, out);
    for (int j = 0; j < 4; ++j) expect_close(out[j], ref[j], mag[j], "ip_u8_x4 d=" + std::to_string(d));
  }
}

TEST_P(Kernels, IntegerCodeDotProductsAreExact) {
  const auto& K = kernels();
  for (std::size_t n : {64, 128, 256}) {
    auto w = rand16(g_, n, -32767, 32767);  // n * 255 * 32767 < 2^31
    std::vector<std::uint8_t> c[4];
    std::int64_t ref[4] = {};
    for (int j = 0; j < 4; ++j) {
      c[j] = randu8(g_, n);
      for (std::size_t i = 0; i < n; ++i) ref[j] += std::int64_t(c[j][i]) * w[i];
    }
    EXPECT_EQ(K.dot_u8s16(c[0].data(), w.data(), n), ref[0]) << "n=" << n;
    std::int32_t out[4];
    K.dot_u8s16_x4(c[0].data(), c[1].data(), c[2].data(), c[3].data(), w.data(), n, out);
    for (int j = 0; j < 4; ++j) EXPECT_EQ(out[j], ref[j]) << "x4 n=" << n << " j=" << j;
  }
}

TEST_P(Kernels, FusedL2OfCodesIsExact) {
  const auto& K = kernels();
  for (int shift : {0, 3, 7}) {
    for (std::size_t n : {64, 192}) {
      // every (c << shift) - w stays inside int16 for c in [0, 255]
      auto w = rand16(g_, n, (255 << shift) - 32767, 32767);
      std::vector<std::uint8_t> c[4];
      std::int64_t ref[4] = {};
      for (int j = 0; j < 4; ++j) {
        c[j] = randu8(g_, n);
        for (std::size_t i = 0; i < n; ++i)
          ref[j] += std::int64_t(c[j][i]) * ((std::int64_t(c[j][i]) << shift) - w[i]);
      }
      EXPECT_EQ(K.l2_u8s16(c[0].data(), w.data(), n, shift), ref[0]) << "shift " << shift;
      std::int32_t out[4];
      K.l2_u8s16_x4(c[0].data(), c[1].data(), c[2].data(), c[3].data(), w.data(), n, shift, out);
      for (int j = 0; j < 4; ++j) EXPECT_EQ(out[j], ref[j]) << "x4 shift " << shift << " j=" << j;
    }
  }
}

TEST_P(Kernels, FourBitCodeDotProductsAreExact) {
  const auto& K = kernels();
  for (std::size_t n : {64, 128, 320}) {
    auto w = rand16(g_, n, -32767, 32767);
    std::vector<std::uint8_t> packed[4];
    std::int64_t ref[4] = {};
    for (int j = 0; j < 4; ++j) {
      auto e = randu8(g_, n, 15);  // entries
      packed[j].assign(n / 2, 0);
      for (std::size_t i = 0; i < n; ++i) {  // 64 entries per 32 bytes
        const std::size_t blk = i / 64, r = i % 64;
        packed[j][blk * 32 + r % 32] |= std::uint8_t(r < 32 ? e[i] : e[i] << 4);
        ref[j] += std::int64_t(e[i]) * w[i];
      }
    }
    EXPECT_EQ(K.dot_u4s16(packed[0].data(), w.data(), n), ref[0]) << "n=" << n;
    std::int32_t out[4];
    K.dot_u4s16_x4(packed[0].data(), packed[1].data(), packed[2].data(), packed[3].data(), w.data(),
                   n, out);
    for (int j = 0; j < 4; ++j) EXPECT_EQ(out[j], ref[j]) << "x4 n=" << n << " j=" << j;
  }
}

TEST_P(Kernels, DotPanelEveryQueryCount) {
  const auto& K = kernels();
  ASSERT_GE(K.max_q, 1);
  for (std::size_t d : {1, 5, 64, 99}) {
    const std::size_t ldq = d + 3;
    auto panel = randf(g_, d * kPanel, -1.f, 1.f);
    auto q = randf(g_, std::size_t(K.max_q) * ldq, -1.f, 1.f);
    for (int nq = 1; nq <= K.max_q; ++nq) {
      std::vector<float> out(std::size_t(nq) * kPanel, -1.f);
      K.dot_panel(q.data(), std::size_t(nq), ldq, panel.data(), d, out.data());
      for (int i = 0; i < nq; ++i)
        for (std::size_t lane = 0; lane < kPanel; ++lane) {
          double ref = 0, mag = 0;
          for (std::size_t p = 0; p < d; ++p) {
            const double t = double(q[i * ldq + p]) * panel[p * kPanel + lane];
            ref += t;
            mag += std::abs(t);
          }
          expect_close(out[i * kPanel + lane], ref, mag,
                       "dot_panel d=" + std::to_string(d) + " nq=" + std::to_string(nq));
        }
    }
  }
}

TEST_P(Kernels, HalfToFloatMatchesTheScalarConversion) {
  const auto& K = kernels();
  std::vector<std::uint16_t> h;
  for (std::uint32_t v = 0; v < 0x10000; ++v) {
    const bool nan = ((v >> 10) & 0x1f) == 0x1f && (v & 0x3ff);
    if (!nan) h.push_back(std::uint16_t(v));  // every finite half, zeros, subnormals, infinities
  }
  std::vector<float> out(h.size());
  K.f16_to_f32(h.data(), h.size(), out.data());
  for (std::size_t i = 0; i < h.size(); ++i) {
    ASSERT_EQ(out[i], half_to_float(h[i])) << "half 0x" << std::hex << h[i];
    ASSERT_EQ(std::signbit(out[i]), bool(h[i] & 0x8000)) << "half 0x" << std::hex << h[i];
  }
  // odd lengths take the scalar tail
  std::vector<float> tail(5);
  K.f16_to_f32(h.data() + 1000, 5, tail.data());
  for (int i = 0; i < 5; ++i) EXPECT_EQ(tail[i], half_to_float(h[1000 + i]));
}

TEST_P(Kernels, ScalarQuantizerDecodeAndL2) {
  const auto& K = kernels();
  for (std::size_t d : kDims) {
    auto lo = randf(g_, d, -5.f, 5.f), step = randf(g_, d, 0.01f, 0.5f);
    auto c8 = randu8(g_, d);
    std::vector<float> out(d);
    K.sq_decode(c8.data(), 8, lo.data(), step.data(), d, out.data());
    for (std::size_t j = 0; j < d; ++j)
      EXPECT_NEAR(out[j], double(lo[j]) + double(step[j]) * c8[j], 1e-5 * (std::abs(lo[j]) + 128))
          << "sq8 d=" << d << " j=" << j;
    // 4 bits: byte j / 2, low nibble for even j
    auto e = randu8(g_, d, 15);
    std::vector<std::uint8_t> c4((d + 1) / 2, 0);
    for (std::size_t j = 0; j < d; ++j) c4[j / 2] |= std::uint8_t(j % 2 ? e[j] << 4 : e[j]);
    K.sq_decode(c4.data(), 4, lo.data(), step.data(), d, out.data());
    for (std::size_t j = 0; j < d; ++j)
      EXPECT_NEAR(out[j], double(lo[j]) + double(step[j]) * e[j], 1e-5 * (std::abs(lo[j]) + 8))
          << "sq4 d=" << d << " j=" << j;
    // l2_sq8: the distance to the decoded values, accurate relative to the distance
    auto q = randf(g_, d, -5.f, 40.f);
    std::vector<float> dec(d);
    K.sq_decode(c8.data(), 8, lo.data(), step.data(), d, dec.data());
    double ref = 0;
    for (std::size_t j = 0; j < d; ++j) ref += (double(q[j]) - dec[j]) * (double(q[j]) - dec[j]);
    expect_close(K.l2_sq8(q.data(), c8.data(), lo.data(), step.data(), d), ref, ref,
                 "l2_sq8 d=" + std::to_string(d));
  }
}

TEST_P(Kernels, CodeL2IsAccurateFarFromTheOrigin) {
  // Norms ~3e6, distance ~32: the expanded |q|^2 - 2 q.x + |x|^2 in fp32 would be off by
  // more than the whole tolerance; squared differences are not.
  const auto& K = kernels();
  const std::size_t d = 128;
  std::vector<float> lo(d, 0.f), step(d, 1.f), q(d);
  std::vector<std::uint8_t> c(d);
  double ref = 0;
  for (std::size_t j = 0; j < d; ++j) {
    c[j] = std::uint8_t(200 + j % 50);
    q[j] = float(c[j]) + (j % 2 ? 0.5f : -0.5f);
    ref += 0.25;
  }
  EXPECT_NEAR(K.l2_sq8(q.data(), c.data(), lo.data(), step.data(), d), ref, 1e-4 * ref);
}

TEST_P(Kernels, HalfPrecisionDistances) {
  const auto& F = fastscan_kernels();
  for (std::size_t d : kDims) {
    auto q = randf(g_, d, -2.f, 2.f), x = randf(g_, d, -2.f, 2.f);
    std::vector<std::uint16_t> h(d);
    double l2 = 0, ip = 0, mip = 0;
    for (std::size_t i = 0; i < d; ++i) {
      h[i] = float_to_half(x[i]);
      const double xv = half_to_float(h[i]);
      l2 += (q[i] - xv) * (q[i] - xv);
      ip += q[i] * xv;
      mip += std::abs(q[i] * xv);
    }
    expect_close(F.l2_f16(q.data(), h.data(), d), l2, l2, "l2_f16 d=" + std::to_string(d));
    expect_close(F.ip_f16(q.data(), h.data(), d), ip, mip, "ip_f16 d=" + std::to_string(d));
  }
}

INSTANTIATE_TEST_SUITE_P(EverySupportedLevel, Kernels, ::testing::ValuesIn(supported_levels()),
                         [](const auto& info) { return info.param; });

TEST(Dispatch, LevelsAreCheckedByName) {
  LevelGuard guard;
  EXPECT_THROW(set_simd_level("sse9"), std::invalid_argument);
  EXPECT_EQ(simd_level(), guard.level);
  const auto levels = supported_levels();
  ASSERT_FALSE(levels.empty());
  EXPECT_EQ(levels.front(), "generic");
  EXPECT_EQ(levels.back(), simd_best());
  for (const auto& lv : levels) {
    set_simd_level(lv);
    EXPECT_EQ(simd_level(), lv);
    EXPECT_STREQ(kernels().name, lv.c_str());
  }
}

}  // namespace
}  // namespace warpsearch::detail
