// SPDX-FileCopyrightText: 2026 warpsearch contributors
// SPDX-License-Identifier: Apache-2.0
// IVF-PQ code scan on the GPU: per (query, cell) lookup table in shared memory (fp32,
// or fp16 to halve it), then every code of the cell scored from it by the block.
#include <cuda_fp16.h>

#include "cuda/ivf_pq.cuh"
#include "warpsearch/errors.hpp"

namespace warpsearch::detail::gpu {
namespace {

constexpr int kThreads = 256;

__device__ __forceinline__ void lut_store(float* t, int e, float v) { t[e] = v; }
__device__ __forceinline__ void lut_store(__half* t, int e, float v) { t[e] = __float2half_rn(v); }
__device__ __forceinline__ float lut_load(const float* t, int e) { return t[e]; }
__device__ __forceinline__ float lut_load(const __half* t, int e) { return __half2float(t[e]); }

__host__ __device__ __forceinline__ std::size_t align16(std::size_t b) { return (b + 15) / 16 * 16; }

template <typename T>
__global__ __launch_bounds__(kThreads) void ivf_scan_kernel(IvfScanArgs a) {
  WS_DYN_SMEM(smem);
  const int ksub = 1 << a.nbits, dsub = a.d / a.m;
  T* lut = reinterpret_cast<T*>(smem);
  float* vec = reinterpret_cast<float*>(smem + align16(std::size_t(a.m) * ksub * sizeof(T)));
  float* red = vec + a.d;  // one partial sum per warp
  const int tid = int(threadIdx.x), bs = int(blockDim.x);
  const std::size_t qi = blockIdx.y;
  const int p = int(blockIdx.x);
  const float* q = a.q + qi * std::size_t(a.d);
  float* row = a.out + qi * a.ld;
  const std::uint64_t* ro = a.row_off + qi * std::size_t(a.nprobe + 1);
  if (p == a.nprobe - 1)  // the columns past the last cell are padding
    for (std::size_t c = ro[a.nprobe] + std::size_t(tid); c < a.ld; c += std::size_t(bs)) row[c] = INFINITY;
  const idx_t l = a.probes[qi * std::size_t(a.nprobe) + std::size_t(p)];
  const std::uint64_t c0 = ro[p], c1 = ro[p + 1];
  if (l < 0 || c1 == c0) return;  // block-uniform: before any barrier
  const float* cen = a.centroids + std::size_t(l) * std::size_t(a.d);
  float part = 0.f;
  for (int j = tid; j < a.d; j += bs) {
    vec[j] = a.ip ? q[j] : q[j] - cen[j];  // L2: the residual of the query in this cell
    if (a.ip) part = fmaf(q[j], cen[j], part);
  }
  float base = 0.f;
  if (a.ip) {  // -q.centroid, the cell's share of the distance
    for (int o = 16; o > 0; o >>= 1) part += __shfl_xor_sync(kFull, part, o);
    if ((tid & 31) == 0) red[tid >> 5] = part;
  }
  __syncthreads();
  if (a.ip) {
    for (int w = 0; w < bs / 32; ++w) base -= red[w];
  }
  for (int e = tid; e < a.m * ksub; e += bs) {
    const int j = e / ksub;
    const float* cb = a.codebook + std::size_t(e) * std::size_t(dsub);
    const float* v = vec + j * dsub;
    float acc = 0.f;
    if (a.ip) {
      for (int t = 0; t < dsub; ++t) acc = fmaf(v[t], cb[t], acc);
      acc = -acc;
    } else {
      for (int t = 0; t < dsub; ++t) {
        const float df = v[t] - cb[t];
        acc = fmaf(df, df, acc);
      }
    }
    lut_store(lut, e, acc);
  }
  __syncthreads();
  const std::uint64_t s0 = a.list_off[l];
  const std::size_t len = std::size_t(c1 - c0);
  for (std::size_t pos = std::size_t(tid); pos < len; pos += std::size_t(bs)) {
    const std::size_t slot = std::size_t(s0) + pos;
    float dist = INFINITY;
    if (bit_allowed(a.allow, slot)) {
      const std::uint8_t* code = a.codes + slot * std::size_t(a.code_bytes);
      float acc = base;
      if (a.nbits == 8) {
        for (int j = 0; j < a.m; ++j) acc += lut_load(lut, j * 256 + int(code[j]));
      } else {
        for (int j = 0; j < a.m; ++j) {
          const int b = int(code[j >> 1]);
          acc += lut_load(lut, j * 16 + ((j & 1) ? (b >> 4) : (b & 15)));
        }
      }
      dist = acc;
    }
    row[std::size_t(c0) + pos] = dist;
  }
}

__global__ void ivf_slots_kernel(const float* keys, const std::uint32_t* cols, std::size_t nq, int kc,
                                 int nprobe, const std::uint64_t* row_off, const idx_t* probes,
                                 const std::uint64_t* list_off, float* out_keys, idx_t* out_slots) {
  const std::size_t i = std::size_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= nq * std::size_t(kc)) return;
  const std::size_t qi = i / std::size_t(kc);
  const float key = keys[i];
  const std::uint32_t col = cols[i];
  if (!(key < INFINITY) || col == kNoId) {
    out_keys[i] = INFINITY;
    out_slots[i] = -1;
    return;
  }
  // The probe whose columns hold col: the last p with ro[p] <= col (empty cells share
  // their start with the next one, so the search skips them).
  const std::uint64_t* ro = row_off + qi * std::size_t(nprobe + 1);
  int lo = 0, hi = nprobe;  // ro[lo] <= col < ro[hi]
  while (hi - lo > 1) {
    const int mid = (lo + hi) / 2;
    if (ro[mid] <= col) lo = mid;
    else hi = mid;
  }
  const idx_t l = probes[qi * std::size_t(nprobe) + std::size_t(lo)];
  out_keys[i] = key;
  out_slots[i] = idx_t(list_off[l] + (col - ro[lo]));
}

}  // namespace

std::size_t ivf_scan_smem(int d, int m, int nbits, bool fp16) {
  const std::size_t lut = std::size_t(m) * (std::size_t(1) << nbits) * (fp16 ? 2 : 4);
  return align16(lut) + (std::size_t(d) + kThreads / 32) * sizeof(float);
}

void ivf_scan(const IvfScanArgs& a, bool fp16, cudaStream_t stream) {
  if (a.nq == 0 || a.nprobe == 0) return;
  WS_EXPECTS(a.nq <= 65535, "internal: IVF scan chunk too large");
  const std::size_t smem = ivf_scan_smem(a.d, a.m, a.nbits, fp16);
  const dim3 grid(unsigned(a.nprobe), unsigned(a.nq));
  if (fp16) {
    auto* kern = &ivf_scan_kernel<__half>;
    WS_CUDA_CHECK(cudaFuncSetAttribute(kern, cudaFuncAttributeMaxDynamicSharedMemorySize, int(smem)));
    WS_LAUNCH(kern, grid, dim3(kThreads), smem, stream, a);
  } else {
    auto* kern = &ivf_scan_kernel<float>;
    WS_CUDA_CHECK(cudaFuncSetAttribute(kern, cudaFuncAttributeMaxDynamicSharedMemorySize, int(smem)));
    WS_LAUNCH(kern, grid, dim3(kThreads), smem, stream, a);
  }
  WS_CUDA_CHECK_LAUNCH();
}

void ivf_slots(const float* keys, const std::uint32_t* cols, std::size_t nq, int kc, int nprobe,
               const std::uint64_t* row_off, const idx_t* probes, const std::uint64_t* list_off,
               float* out_keys, idx_t* out_slots, cudaStream_t stream) {
  const std::size_t count = nq * std::size_t(kc);
  if (count == 0) return;
  auto* kern = &ivf_slots_kernel;
  WS_LAUNCH(kern, dim3(unsigned(div_up(count, 256))), dim3(256), 0, stream, keys, cols, nq, kc, nprobe,
            row_off, probes, list_off, out_keys, out_slots);
  WS_CUDA_CHECK_LAUNCH();
}

}  // namespace warpsearch::detail::gpu
