// SPDX-FileCopyrightText: 2026 warpsearch contributors
// SPDX-License-Identifier: Apache-2.0
// Fast-scan (4-bit PQ codes scored from uint8 tables) at every SIMD level this CPU runs,
// against a scalar reference over the unpacked codes.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <random>
#include <utility>
#include <vector>

#include "simd/fastscan.hpp"
#include "test_util.hpp"
#include "warpsearch/quantization.hpp"

namespace warpsearch::detail {
namespace {

using test::LevelGuard;
using test::supported_levels;

struct Case {
  std::size_t n, m, m_pad;
  std::vector<std::uint8_t> codes;   // n x m, each 0..15
  std::vector<std::uint8_t> packed;  // pack_fastscan layout
};

Case make_case(std::mt19937& g, std::size_t n, std::size_t m) {
  Case c{n, m, fastscan_m_pad(m), {}, {}};
  std::uniform_int_distribution<int> u(0, 15);
  c.codes.resize(n * m);
  for (auto& x : c.codes) x = std::uint8_t(u(g));
  c.packed.assign(fastscan_bytes(n, m), 0xAB);
  pack_fastscan(c.codes.data(), n, m, c.packed.data());
  return c;
}

// m_pad x 16 table, entries in [0, cap]; padded rows are zero.
std::vector<std::uint8_t> make_lut(std::mt19937& g, const Case& c, unsigned cap) {
  std::uniform_int_distribution<unsigned> u(0, cap);
  std::vector<std::uint8_t> lut(c.m_pad * 16, 0);
  for (std::size_t j = 0; j < c.m * 16; ++j) lut[j] = std::uint8_t(u(g));
  return lut;
}

// sum_j lut[j][code j] << (T - t_j): rows weighted by their shifts (none: all zero).
std::vector<std::uint32_t> reference(const Case& c, const std::vector<std::uint8_t>& lut,
                                     const std::vector<std::uint8_t>& rshift) {
  const unsigned top = rshift.empty() ? 0 : rshift[c.m - 1];
  std::vector<std::uint32_t> out(c.n, 0);
  for (std::size_t i = 0; i < c.n; ++i)
    for (std::size_t j = 0; j < c.m; ++j)
      out[i] += std::uint32_t(lut[j * 16 + c.codes[i * c.m + j]]) << (rshift.empty() ? 0 : top - rshift[j]);
  return out;
}

class FastScan : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override { set_simd_level(GetParam()); }
  LevelGuard guard_;
  std::mt19937 g_{99};
};

const std::size_t kNs[] = {1, 31, 32, 33, 100, 257};
const std::size_t kMs[] = {1, 3, 4, 8, 13, 32, 64};

TEST_P(FastScan, SumsAndScanMatchTheReference) {
  const auto& F = fastscan_kernels();
  for (std::size_t n : kNs)
    for (std::size_t m : kMs) {
      const Case c = make_case(g_, n, m);
      const auto lut = make_lut(g_, c, unsigned(fastscan_cap(m)));
      const auto ref = reference(c, lut, {});
      std::vector<std::uint16_t> sums((n + kFsBlock - 1) / kFsBlock * kFsBlock);
      F.sums(c.packed.data(), n, c.m_pad, lut.data(), nullptr, sums.data());
      for (std::size_t i = 0; i < n; ++i)
        ASSERT_EQ(sums[i], ref[i]) << "n=" << n << " m=" << m << " vector " << i;
      // scan emits exactly the vectors at or under the threshold, with their sums
      std::vector<std::uint32_t> sorted(ref);
      std::sort(sorted.begin(), sorted.end());
      for (std::uint32_t thr : {sorted[0], sorted[n / 2], sorted[n - 1], sorted[0] ? sorted[0] - 1 : 0u}) {
        std::vector<std::uint32_t> pos(n);
        std::vector<std::uint16_t> sum(n);
        const std::size_t cnt = F.scan(c.packed.data(), n, c.m_pad, lut.data(), nullptr,
                                       std::uint16_t(thr), pos.data(), sum.data());
        std::vector<std::pair<std::uint32_t, std::uint32_t>> got, want;
        for (std::size_t e = 0; e < cnt; ++e) got.emplace_back(pos[e], sum[e]);
        for (std::size_t i = 0; i < n; ++i)
          if (ref[i] <= thr) want.emplace_back(std::uint32_t(i), ref[i]);
        std::sort(got.begin(), got.end());
        ASSERT_EQ(got, want) << "scan n=" << n << " m=" << m << " thr=" << thr;
      }
    }
}

TEST_P(FastScan, MultiQueryScanMatchesSingleScans) {
  const auto& F = fastscan_kernels();
  ASSERT_GE(F.max_queries, 1u);
  for (std::size_t n : {33, 200})
    for (std::size_t m : {4, 13, 32}) {
      const Case c = make_case(g_, n, m);
      const std::size_t nq = F.max_queries;
      std::vector<std::vector<std::uint8_t>> luts;
      std::vector<const std::uint8_t*> lp;
      std::vector<std::uint16_t> thr;
      for (std::size_t u = 0; u < nq; ++u) {
        luts.push_back(make_lut(g_, c, unsigned(fastscan_cap(m))));
        auto r = reference(c, luts.back(), {});
        std::sort(r.begin(), r.end());
        thr.push_back(std::uint16_t(r[(u * 7) % n]));
      }
      for (auto& l : luts) lp.push_back(l.data());
      std::vector<std::uint32_t> pos(nq * n);
      std::vector<std::uint16_t> sum(nq * n);
      std::vector<std::size_t> cnt(nq);
      F.scan_multi(c.packed.data(), n, c.m_pad, lp.data(), nullptr, nq, thr.data(), pos.data(),
                   sum.data(), n, cnt.data());
      for (std::size_t u = 0; u < nq; ++u) {
        const auto ref = reference(c, luts[u], {});
        std::vector<std::pair<std::uint32_t, std::uint32_t>> got, want;
        for (std::size_t e = 0; e < cnt[u]; ++e) got.emplace_back(pos[u * n + e], sum[u * n + e]);
        for (std::size_t i = 0; i < n; ++i)
          if (ref[i] <= thr[u]) want.emplace_back(std::uint32_t(i), ref[i]);
        std::sort(got.begin(), got.end());
        ASSERT_EQ(got, want) << "query " << u << " of " << nq << ", n=" << n << " m=" << m;
      }
    }
}

TEST_P(FastScan, RowShiftsWeightTheRows) {
  const auto& F = fastscan_kernels();
  for (std::size_t m : {13, 32, 40}) {
    const Case c = make_case(g_, 77, m);
    // rows in groups of kFsShiftRows share a shift that grows by one per group
    std::vector<std::uint8_t> rshift(m);
    for (std::size_t j = 0; j < m; ++j) rshift[j] = std::uint8_t(j / kFsShiftRows);
    const std::size_t groups = (c.m_pad + kFsShiftRows - 1) / kFsShiftRows;
    std::vector<std::uint8_t> gdelta(groups, 0);
    for (std::size_t gi = 1; gi < groups; ++gi)
      gdelta[gi] = std::uint8_t(std::min<std::size_t>(gi, (m - 1) / kFsShiftRows) -
                                std::min<std::size_t>(gi - 1, (m - 1) / kFsShiftRows));
    const auto lut = make_lut(g_, c, unsigned(fastscan_cap(rshift.data(), m)));
    const auto ref = reference(c, lut, rshift);
    std::vector<std::uint16_t> sums((c.n + kFsBlock - 1) / kFsBlock * kFsBlock);
    F.sums(c.packed.data(), c.n, c.m_pad, lut.data(), gdelta.data(), sums.data());
    for (std::size_t i = 0; i < c.n; ++i) {
      ASSERT_LE(ref[i], 65535u);
      ASSERT_EQ(sums[i], ref[i]) << "m=" << m << " vector " << i;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(EverySupportedLevel, FastScan, ::testing::ValuesIn(supported_levels()),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace warpsearch::detail
