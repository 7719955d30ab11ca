// SPDX-FileCopyrightText: 2026 warpsearch contributors
// SPDX-License-Identifier: Apache-2.0
// Filtered exact search over the listed allowed rows (see flat_allowed.hpp).
#include "brute_force/flat_allowed.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include "simd/distance.hpp"
#include "simd/fastscan.hpp"

namespace warpsearch::detail {
namespace {

alignas(64) constexpr float kZeros[kPanel] = {};
constexpr std::size_t kBlockBytes = 256 * 1024;  // gathered rows per block: ~L2-resident

// fp32 and decoded codes: gathers rows into panels (padding lanes zero), then runs the
// panel micro-kernel and the SIMD threshold test of the block scan on them.
void scan_panels(const FlatStorage& s, const FlatQueries& fq, const std::uint32_t* rows,
                 std::size_t count, std::size_t q0, std::size_t q1, TopK<idx_t>* heaps) {
  const std::size_t d = s.d, mq = std::size_t(kernels().max_q);
  const auto& K = kernels();
  const auto& F = fastscan_kernels();
  const std::size_t block = std::max<std::size_t>(1, kBlockBytes / (kPanel * d * sizeof(float))) * kPanel;
  std::vector<float> buf(block * d), nrm(block), row(s.fp32() ? 0 : d);
  alignas(64) float out[16 * kPanel], dist[16 * kPanel], thr[16];
  std::uint32_t below[16];
  for (std::size_t b0 = 0; b0 < count; b0 += block) {
    fq.deadline->check();  // as the block scan: per block of rows, per max_q queries
    const std::size_t cnt = std::min(block, count - b0), npan = (cnt + kPanel - 1) / kPanel;
    const std::uint32_t* r = rows + b0;
    const auto dst = [&](std::size_t j) { return &buf[(j / kPanel) * kPanel * d + j % kPanel]; };
    if (s.fp32()) {
      for (std::size_t j = 0; j < cnt; ++j) {  // a lane of a source panel to a lane here
        const float* src = s.slot(r[j], 0);
        float* o = dst(j);
        for (std::size_t p = 0; p < d; ++p) o[p * kPanel] = src[p * kPanel];
      }
    } else {
      for (std::size_t j = 0; j < cnt; ++j) {
        s.codec.decode(s.code(r[j]), row.data());
        float* o = dst(j);
        for (std::size_t p = 0; p < d; ++p) o[p * kPanel] = row[p];
      }
    }
    for (std::size_t j = 0; j < cnt; ++j) nrm[j] = s.norms[r[j]];
    for (std::size_t j = cnt; j < npan * kPanel; ++j) {
      float* o = dst(j);
      for (std::size_t p = 0; p < d; ++p) o[p * kPanel] = 0.f;
      nrm[j] = 0.f;
    }
    for (std::size_t qb = q0; qb < q1; qb += mq) {
      if (qb > q0) fq.deadline->check();
      const std::size_t nb = std::min(mq, q1 - qb);
      for (std::size_t gp = 0; gp < npan; ++gp) {
        const std::size_t j0 = gp * kPanel;
        const std::uint32_t lanes = cnt - j0 >= kPanel ? 0xFFFFu : (1u << (cnt - j0)) - 1;
        K.dot_panel(&fq.q[qb * d], nb, d, &buf[j0 * d], d, out);
        for (std::size_t i = 0; i < nb; ++i) thr[i] = heaps[qb - q0 + i].threshold();
        F.below16(out, nb, &nrm[j0], kZeros, &fq.qnorm[qb], !fq.l2, thr, dist, below);
        for (std::size_t i = 0; i < nb; ++i) {
          auto& h = heaps[qb - q0 + i];
          for (std::uint32_t m = below[i] & lanes; m; m &= m - 1) {
            const int lane = __builtin_ctz(m);
            h.push(dist[i * kPanel + std::size_t(lane)], idx_t(r[j0 + std::size_t(lane)]));
          }
        }
      }
    }
  }
}

// Codes with fewer queries than the micro-kernel takes: row by row with the per-row
// kernels of the block scan (sq8 from q * step and q.lo, fp16 directly, sq4 decoded).
void scan_codes(const FlatStorage& s, const FlatQueries& fq, const std::uint32_t* rows,
                std::size_t count, std::size_t q0, std::size_t q1, TopK<idx_t>* heaps) {
  const std::size_t d = s.d;
  const auto& K = kernels();
  const auto& F = fastscan_kernels();
  const bool sq8 = s.storage == Storage::SQ8;
  std::vector<float> w(sq8 ? (q1 - q0) * d : 0), wlo(sq8 ? q1 - q0 : 0), row(d);
  if (sq8)
    for (std::size_t qi = q0; qi < q1; ++qi) {
      double t = 0;
      for (std::size_t j = 0; j < d; ++j) {
        w[(qi - q0) * d + j] = fq.q[qi * d + j] * s.codec.step()[j];
        t += double(fq.q[qi * d + j]) * s.codec.lo()[j];
      }
      wlo[qi - q0] = float(t);
    }
  for (std::size_t j = 0; j < count; ++j) {
    if (j % 256 == 0) fq.deadline->check();
    const std::size_t rw = rows[j];
    const std::uint8_t* c = s.code(rw);
    if (s.storage == Storage::SQ4) s.codec.decode(c, row.data());
    for (std::size_t qi = q0; qi < q1; ++qi) {
      const float* qv = &fq.q[qi * d];
      float o;
      if (sq8)
        o = wlo[qi - q0] + K.ip_u8(&w[(qi - q0) * d], c, d);
      else if (s.storage == Storage::FP16)
        o = F.ip_f16(qv, reinterpret_cast<const std::uint16_t*>(c), d);
      else
        o = K.ip(qv, row.data(), d);
      const float dist = fq.l2 ? std::max(0.f, fq.qnorm[qi] + s.norms[rw] - 2.f * o) : -o;
      auto& h = heaps[qi - q0];
      if (dist < h.threshold()) h.push(dist, idx_t(rw));
    }
  }
}

// Binary codes: gathers the rows' 4-bit codes into packed 32-row blocks and runs the
// fast-scan kernel of the block scan on them.
void scan_binary(const FlatStorage& s, const FlatQueries& fq, const std::uint32_t* rows,
                 std::size_t count, std::size_t q0, std::size_t q1, TopK<idx_t>* heaps) {
  const auto& F = fastscan_kernels();
  const std::size_t bb = s.block_bytes();
  const std::size_t block = std::max<std::size_t>(1, kBlockBytes / bb) * kFsBlock;
  std::vector<std::uint8_t> buf(block / kFsBlock * bb);
  std::vector<std::uint32_t> pos(block);
  std::vector<std::uint16_t> sum(block);
  for (std::size_t b0 = 0; b0 < count; b0 += block) {
    fq.deadline->check();
    const std::size_t cnt = std::min(block, count - b0);
    const std::uint32_t* r = rows + b0;
    std::fill(buf.begin(), buf.begin() + std::ptrdiff_t((cnt + kFsBlock - 1) / kFsBlock * bb), 0);
    for (std::size_t j = 0; j < cnt; ++j) {
      const std::size_t v = r[j] % kFsBlock, u = j % kFsBlock;
      const std::uint8_t* src = &s.packed[r[j] / kFsBlock * bb + (v & 15)];
      std::uint8_t* dst = &buf[j / kFsBlock * bb + (u & 15)];
      const unsigned in = v < 16 ? 0 : 4, out = u < 16 ? 0 : 4;
      for (std::size_t g = 0; g < s.bm; ++g)
        dst[g * 16] = std::uint8_t(dst[g * 16] | (((src[g * 16] >> in) & 15u) << out));
    }
    for (std::size_t qi = q0; qi < q1; ++qi) {
      if (qi > q0) fq.deadline->check();  // a block of codes per query
      auto& h = heaps[qi - q0];
      const BinaryQuery& b = fq.bq[qi];
      float thr = h.threshold();
      std::uint16_t t16 = 0xffff;
      if (!binary_sum_limit(s, fq, qi, thr, &t16)) continue;
      const std::size_t cnt_e = F.scan(buf.data(), cnt, s.bm_pad, &fq.luts[qi * fq.lut_bytes], nullptr, t16,
                                       pos.data(), sum.data());
      const float inv = 1.f / b.scale;
      for (std::size_t e = 0; e < cnt_e; ++e) {
        const std::size_t rw = r[pos[e]];
        const float ip = b.qc - s.bscale[rw] * (b.bias + float(sum[e]) * inv);
        const float dist = fq.l2 ? std::max(0.f, fq.qnorm[qi] + s.norms[rw] - 2.f * ip) : -ip;
        if (dist < thr) {
          h.push(dist, idx_t(rw));
          thr = h.threshold();
        }
      }
    }
  }
}

}  // namespace

bool binary_sum_limit(const FlatStorage& s, const FlatQueries& fq, std::size_t qi, float thr,
                      std::uint16_t* limit) {
  // dist < thr needs a * u < T for some scale a in [bs_min, bs_max]: a bound on u,
  // hence on the kernel's sum, that skips most codes once the heap is full.
  *limit = 0xffff;
  if (!(thr < std::numeric_limits<float>::infinity())) return true;
  const BinaryQuery& b = fq.bq[qi];
  const float T = fq.l2 ? 0.5f * (thr - fq.qnorm[qi] - s.norm_min + 2.f * b.qc) : thr + b.qc;
  float ustar = std::numeric_limits<float>::infinity();
  if (T <= 0.f)
    ustar = s.bs_max > 0.f ? T / s.bs_max : -std::numeric_limits<float>::infinity();
  else if (s.bs_min > 0.f)
    ustar = T / s.bs_min;
  const double lim = (double(ustar) - double(b.bias)) * double(b.scale) + 1.0;
  if (lim < 0.0) return false;
  if (lim < 65535.0) *limit = std::uint16_t(lim);
  return true;
}

std::vector<std::uint32_t> allowed_rows(const std::uint64_t* allow, std::size_t n, std::size_t allowed) {
  std::vector<std::uint32_t> rows;
  rows.reserve(allowed);
  const std::size_t words = (n + 63) / 64;
  for (std::size_t w = 0; w < words; ++w)
    for (std::uint64_t m = allow[w]; m; m &= m - 1) {
      const std::size_t rw = w * 64 + std::size_t(__builtin_ctzll(m));
      if (rw < n) rows.push_back(std::uint32_t(rw));
    }
  return rows;
}

bool allowed_scan_pays(const FlatStorage& s, std::size_t allowed, std::size_t active, std::size_t nq,
                       std::size_t groups) {
  if (s.n >= (std::size_t(1) << 32) || nq == 0) return false;  // rows are listed as uint32
  if (s.binary() || s.fp32()) {
    // Both scans read the same memory (an fp32 row's gather reads every cache line of
    // its panel; binary codes are small), so they differ by what each one computes:
    //   fp32:   the gather costs G_f per row element (once per query group), the block
    //           scan scores 16 * active rows per query where this one scores `allowed`
    //           (padded to panels); one query-row element costs 1 unit;
    //   binary: the repacking costs G_b per row (once per query group), the block scan
    //           scans all n codes per query where this one scans `allowed` (padded
    //           to 32-row blocks); one code scanned costs 1 unit.
    // The dimension drops out of both. G_f = 39 and G_b = 30 were measured with the
    // AVX-512 kernels (100k x 384, 1% to 90% allowed, 1 to 100 queries, 1 thread);
    // the gather is scalar, so the ratios scale with the SIMD width of the kernels,
    // which max_q follows (12 queries for 16 lanes, 6 for 8, 2 for 4).
    const int mq = kernels().max_q;
    const double width = mq >= 12 ? 16.0 : mq >= 6 ? 8.0 : 4.0;
    if (s.fp32()) {
      const std::size_t gathered = (allowed + kPanel - 1) / kPanel;
      if (active <= gathered) return false;
      return double(groups) * double(allowed) * 39.0 * width / 16.0 <
             double(nq) * double(kPanel) * double(active - gathered);
    }
    const std::size_t padded = (allowed + kFsBlock - 1) / kFsBlock * kFsBlock;
    if (s.n <= padded) return false;
    return double(groups) * double(allowed) * 30.0 * width / 16.0 < double(nq) * double(s.n - padded);
  }
  // Decoded codes: both scans decode each allowed row once per query group; this one
  // scores fewer panels (and writes no padding lanes), so it wins whenever the allowed
  // rows fill fewer panels than they touch.
  return active > (allowed + kPanel - 1) / kPanel;
}

void scan_allowed(const FlatStorage& s, const FlatQueries& fq, const std::uint32_t* rows,
                  std::size_t count, std::size_t q0, std::size_t q1, TopK<idx_t>* heaps) {
  if (count == 0 || q0 >= q1) return;
  if (s.binary()) {
    if (s.codec.trained()) scan_binary(s, fq, rows, count, q0, q1, heaps);
  } else if (!s.fp32() && q1 - q0 < std::size_t(kernels().max_q)) {
    scan_codes(s, fq, rows, count, q0, q1, heaps);
  } else {
    scan_panels(s, fq, rows, count, q0, q1, heaps);
  }
}

}  // namespace warpsearch::detail
