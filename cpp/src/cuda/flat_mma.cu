// SPDX-FileCopyrightText: 2026 warpsearch contributors
// SPDX-License-Identifier: Apache-2.0
// Exact search with a first pass on the matrix units: dot products of fp16 or bf16
// copies (queries and base zero-padded to 16 dimensions) by WMMA 16x16x16 tiles with
// fp32 accumulation, the best kc candidates of each query kept by select-k, then those
// candidates re-scored from the fp32 vectors and the best k of them returned.
#include <cuda_runtime.h>  // first: it defines WS_CUDA_EMULATOR in the emulator
#ifdef WS_CUDA_EMULATOR
#include <cuda_fp16.h>  // the emulator computes the tiles with scalar loops (no WMMA)
#else
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <mma.h>
#endif
#include <algorithm>

#include "cuda/internal.cuh"
#include "warpsearch/errors.hpp"
#include "warpsearch/gpu.hpp"

namespace warpsearch::detail::gpu {
namespace {

constexpr int kWarps = 8;             // a block: 2 x 4 warp tiles of 16 x 16
constexpr int kQT = 32, kRT = 64;     // queries x base rows of a block
constexpr std::size_t kWorkspaceBytes = std::size_t(256) << 20;

__device__ __forceinline__ void to_low(__half* p, float v) { *p = __float2half_rn(v); }
__device__ __forceinline__ void to_low(__nv_bfloat16* p, float v) { *p = __float2bfloat16_rn(v); }
#ifdef WS_CUDA_EMULATOR
inline float from_low(__half v) { return __half2float(v); }
inline float from_low(__nv_bfloat16 v) { return __bfloat162float(v); }
#endif

template <typename T>
__global__ void convert_kernel(const float* x, std::size_t n, std::size_t d, T* out, std::size_t rows,
                               std::size_t dpad) {
  const std::size_t i = std::size_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= rows * dpad) return;
  const std::size_t r = i / dpad, c = i % dpad;
  to_low(out + i, (r < n && c < d) ? x[r * d + c] : 0.f);
}

struct MmaArgs {
  const void* qh;  // chunk queries, low precision, rows padded to kQT, stride dpad
  const void* xh;  // base, low precision, rows padded to kRT, stride dpad
  const float* qaux;
  const float* xnorm;
  std::size_t nq, dpad, row_begin, row_end;
  const std::uint64_t* allow;
  int metric;
  float* out;
  std::size_t ld;
};

template <typename T>
__global__ __launch_bounds__(kWarps * 32) void mma_dist_kernel(MmaArgs a) {
  __shared__ __align__(32) float tile[kWarps][16 * 16];
  const int warp = int(threadIdx.x >> 5), lane = int(threadIdx.x & 31);
  const std::size_t q0 = std::size_t(blockIdx.x) * kQT + std::size_t(warp / 4) * 16;
  const std::size_t r0 = a.row_begin + std::size_t(blockIdx.y) * kRT + std::size_t(warp % 4) * 16;
  const T* qh = static_cast<const T*>(a.qh) + q0 * a.dpad;
  const T* xh = static_cast<const T*>(a.xh) + r0 * a.dpad;
#ifdef WS_CUDA_EMULATOR
  for (int e = lane; e < 256; e += 32) {
    float s = 0.f;
    for (std::size_t c = 0; c < a.dpad; ++c)
      s = fmaf(from_low(qh[std::size_t(e / 16) * a.dpad + c]), from_low(xh[std::size_t(e % 16) * a.dpad + c]), s);
    tile[warp][e] = s;
  }
#else
  using namespace nvcuda;
  wmma::fragment<wmma::matrix_a, 16, 16, 16, T, wmma::row_major> fa;
  wmma::fragment<wmma::matrix_b, 16, 16, 16, T, wmma::col_major> fb;  // base rows = columns of B
  wmma::fragment<wmma::accumulator, 16, 16, 16, float> acc;
  wmma::fill_fragment(acc, 0.f);
  for (std::size_t k0 = 0; k0 < a.dpad; k0 += 16) {
    wmma::load_matrix_sync(fa, qh + k0, unsigned(a.dpad));
    wmma::load_matrix_sync(fb, xh + k0, unsigned(a.dpad));
    wmma::mma_sync(acc, fa, fb, acc);
  }
  wmma::store_matrix_sync(tile[warp], acc, 16, wmma::mem_row_major);
#endif
  __syncwarp();
  for (int e = lane; e < 256; e += 32) {
    const std::size_t gq = q0 + std::size_t(e / 16), gr = r0 + std::size_t(e % 16);
    if (gq >= a.nq || gr >= a.row_end) continue;
    const float dot = tile[warp][e];
    float key = -dot;
    if (a.metric == int(Metric::L2)) key = fmaxf(0.f, a.qaux[gq] + a.xnorm[gr] - 2.f * dot);
    else if (a.metric == int(Metric::Cosine)) key = -dot * a.qaux[gq];
    a.out[gq * a.ld + (gr - a.row_begin)] = bit_allowed(a.allow, gr) ? key : INFINITY;
  }
}

/// One warp per (query, candidate): the fp32 key of the candidate row (+inf for none).
__global__ void rerank_kernel(const float* q, const float* qaux, const float* x, const float* xnorm,
                              std::size_t d, int metric, const float* cand_k, const std::uint32_t* cand_v,
                              std::size_t nq, int kc, std::size_t ld_cand, float* out) {
  const std::size_t i = std::size_t(blockIdx.x) * (blockDim.x / 32) + (threadIdx.x >> 5);
  if (i >= nq * std::size_t(kc)) return;  // whole warps leave together
  const std::size_t qi = i / std::size_t(kc), j = i % std::size_t(kc);
  const std::uint32_t r = cand_v[qi * ld_cand + j];
  const int lane = lane_id();
  if (!(cand_k[qi * ld_cand + j] < INFINITY) || r == kNoId) {
    if (lane == 0) out[i] = INFINITY;
    return;
  }
  float s = 0.f;
  for (std::size_t c = std::size_t(lane); c < d; c += 32) s = fmaf(q[qi * d + c], x[std::size_t(r) * d + c], s);
  for (int o = 16; o > 0; o >>= 1) s += __shfl_xor_sync(kFull, s, o);
  if (lane != 0) return;
  if (metric == int(Metric::L2)) out[i] = fmaxf(0.f, qaux[qi] + xnorm[r] - 2.f * s);
  else if (metric == int(Metric::Cosine)) out[i] = -s * qaux[qi];
  else out[i] = -s;
}

template <typename T>
void convert(const float* x, std::size_t n, std::size_t d, void* out, std::size_t rows, std::size_t dpad,
             cudaStream_t stream) {
  const std::size_t count = rows * dpad;
  if (count == 0) return;
  auto* kern = &convert_kernel<T>;
  WS_LAUNCH(kern, dim3(unsigned(div_up(count, 256))), dim3(256), 0, stream, x, n, d, static_cast<T*>(out),
            rows, dpad);
  WS_CUDA_CHECK_LAUNCH();
}

}  // namespace

std::size_t reduced_rows(std::size_t n) { return div_up(std::max<std::size_t>(n, 1), kRT) * kRT; }
std::size_t reduced_dim(std::size_t d) { return div_up(d, 16) * 16; }

void to_reduced(const float* x, std::size_t n, std::size_t d, bool bf16, void* out, std::size_t rows,
                cudaStream_t stream) {
  if (bf16) convert<__nv_bfloat16>(x, n, d, out, rows, reduced_dim(d), stream);
  else convert<__half>(x, n, d, out, rows, reduced_dim(d), stream);
}

void flat_search_reduced(const FlatView& v, const void* xh, bool bf16, const float* q, std::size_t nq, int k,
                         int kc, const std::uint64_t* allow, float* D, idx_t* I, cudaStream_t stream) {
  WS_EXPECTS(k >= 1 && k <= kc && kc <= kGpuMaxK, "GPU reduced-precision search needs 1 <= k <= ", kc,
             " <= ", kGpuMaxK);
  if (nq == 0) return;
  if (v.n == 0) {
    flat_search(v, q, nq, k, allow, D, I, stream);  // padding
    return;
  }
  const std::size_t dpad = reduced_dim(v.d), d = v.d;
  DeviceBuffer<float> qaux(nq);
  query_aux(q, nq, d, v.metric, qaux.data(), stream);
  const std::size_t qc = std::min<std::size_t>(div_up(nq, kQT) * kQT, 1024);
  DeviceBuffer<std::uint16_t> qh(qc * dpad);
  std::size_t nt = kWorkspaceBytes / (qc * sizeof(float)) / kRT * kRT;
  nt = std::max<std::size_t>(kRT, std::min(nt, reduced_rows(v.n)));
  nt = std::min<std::size_t>(nt, std::size_t(65535) * kRT);
  const std::size_t k2 = 2 * std::size_t(kc);
  DeviceBuffer<float> dist(qc * nt), cand_k(qc * k2), rr(qc * std::size_t(kc)), fin_k(qc * std::size_t(k));
  DeviceBuffer<std::uint32_t> cand_v(qc * k2), fin_v(qc * std::size_t(k));
  auto* kern = bf16 ? &mma_dist_kernel<__nv_bfloat16> : &mma_dist_kernel<__half>;
  MmaArgs a{};
  a.xh = xh;
  a.xnorm = v.norms;
  a.dpad = dpad;
  a.allow = allow;
  a.metric = int(v.metric);
  a.out = dist.data();
  a.ld = nt;
  for (std::size_t c0 = 0; c0 < nq; c0 += qc) {
    const std::size_t cq = std::min(qc, nq - c0);
    if (bf16) convert<__nv_bfloat16>(q + c0 * d, cq, d, qh.data(), qc, dpad, stream);
    else convert<__half>(q + c0 * d, cq, d, qh.data(), qc, dpad, stream);
    a.qh = qh.data();
    a.qaux = qaux.data() + c0;
    a.nq = cq;
    for (std::size_t t0 = 0; t0 < v.n; t0 += nt) {
      a.row_begin = t0;
      a.row_end = std::min(v.n, t0 + nt);
      const std::size_t cols = a.row_end - t0;
      WS_LAUNCH(kern, dim3(unsigned(div_up(cq, kQT)), unsigned(div_up(cols, kRT))), dim3(kWarps * 32), 0,
                stream, a);
      WS_CUDA_CHECK_LAUNCH();
      const std::size_t off = t0 == 0 ? 0 : std::size_t(kc);  // later tiles: second half
      select_k(dist.data(), nt, nullptr, 0, std::uint32_t(t0), cq, cols, kc, cand_k.data() + off,
               cand_v.data() + off, k2, stream);
      if (t0 > 0)  // running candidates <- best kc of (running, this tile), in place
        select_k_radix(cand_k.data(), k2, cand_v.data(), k2, 0, cq, k2, kc, cand_k.data(), cand_v.data(), k2,
                       stream);
    }
    const std::size_t pairs = cq * std::size_t(kc);
    auto* rk = &rerank_kernel;
    WS_LAUNCH(rk, dim3(unsigned(div_up(pairs, 8))), dim3(256), 0, stream, q + c0 * d, qaux.data() + c0, v.x,
              v.norms, d, int(v.metric), cand_k.data(), cand_v.data(), cq, kc, k2, rr.data());
    WS_CUDA_CHECK_LAUNCH();
    // rr's payload: the candidates' rows (cand_v has stride k2)
    select_k_radix(rr.data(), std::size_t(kc), cand_v.data(), k2, 0, cq, std::size_t(kc), k, fin_k.data(),
                   fin_v.data(), std::size_t(k), stream);
    finalize_results(fin_k.data(), fin_v.data(), cq, k, std::size_t(k), v.labels, v.metric,
                     D + c0 * std::size_t(k), I + c0 * std::size_t(k), stream);
  }
}

}  // namespace warpsearch::detail::gpu
