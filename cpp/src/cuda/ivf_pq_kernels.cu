// SPDX-FileCopyrightText: 2026 warpsearch contributors
// SPDX-License-Identifier: Apache-2.0
// IVF-PQ code scan on the GPU: per (query, cell) lookup table in shared memory (fp32,
// or fp16 to halve it), then every code of the cell scored from it by the block.
#include <cuda_fp16.h>

#include <algorithm>

#include "cuda/ivf_pq.cuh"
#include "cuda/warp_sort.cuh"
#include "warpsearch/errors.hpp"

namespace warpsearch::detail::gpu {
namespace {

constexpr int kThreads = 256;

__device__ __forceinline__ void lut_store(float* t, int e, float v) { t[e] = v; }
__device__ __forceinline__ void lut_store(__half* t, int e, float v) { t[e] = __float2half_rn(v); }
__device__ __forceinline__ float lut_load(const float* t, int e) { return t[e]; }
__device__ __forceinline__ float lut_load(const __half* t, int e) { return __half2float(t[e]); }

__host__ __device__ __forceinline__ std::size_t align16(std::size_t b) { return (b + 15) / 16 * 16; }
/// Start of the warp queues in the fused kernel's shared memory (after table, vector, sums).
__host__ __device__ __forceinline__ std::size_t queue_offset(int d, int m, int nbits, std::size_t elem) {
  return align16(std::size_t(m) * (std::size_t(1) << nbits) * elem) +
         align16((std::size_t(d) + kThreads / 32) * sizeof(float));
}

/// Builds the table of cell l for query q in shared memory (every thread calls it; it
/// ends with a barrier) and returns the cell's share of the distance (IP: -q.centroid).
template <typename T>
__device__ float build_lut(const IvfScanArgs& a, const float* q, idx_t l, T* lut, float* vec, float* red) {
  const int ksub = 1 << a.nbits, dsub = a.d / a.m;
  const int tid = int(threadIdx.x), bs = int(blockDim.x);
  const float* cen = a.centroids + std::size_t(l) * std::size_t(a.d);
  float part = 0.f;
  for (int j = tid; j < a.d; j += bs) {
    vec[j] = a.ip ? q[j] : q[j] - cen[j];  // L2: the residual of the query in this cell
    if (a.ip) part = fmaf(q[j], cen[j], part);
  }
  if (a.ip) {
    for (int o = 16; o > 0; o >>= 1) part += __shfl_xor_sync(kFull, part, o);
    if ((tid & 31) == 0) red[tid >> 5] = part;
  }
  __syncthreads();
  float base = 0.f;
  if (a.ip)
    for (int w = 0; w < bs / 32; ++w) base -= red[w];
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
  return base;
}

/// Distance of the code of slot from the table (+inf when the filter drops it).
template <typename T>
__device__ __forceinline__ float code_distance(const IvfScanArgs& a, const T* lut, float base, std::size_t slot) {
  if (!bit_allowed(a.allow, slot)) return INFINITY;
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
  return acc;
}

template <typename T>
__global__ __launch_bounds__(kThreads) void ivf_scan_kernel(IvfScanArgs a) {
  WS_DYN_SMEM(smem);
  T* lut = reinterpret_cast<T*>(smem);
  float* vec = reinterpret_cast<float*>(smem + align16(std::size_t(a.m) * (std::size_t(1) << a.nbits) * sizeof(T)));
  float* red = vec + a.d;  // one partial sum per warp
  const int tid = int(threadIdx.x), bs = int(blockDim.x);
  const std::size_t qi = blockIdx.y;
  const int p = int(blockIdx.x);
  float* row = a.out + qi * a.ld;
  const std::uint64_t* ro = a.row_off + qi * std::size_t(a.nprobe + 1);
  if (p == a.nprobe - 1)  // the columns past the last cell are padding
    for (std::size_t c = ro[a.nprobe] + std::size_t(tid); c < a.ld; c += std::size_t(bs)) row[c] = INFINITY;
  const idx_t l = a.probes[qi * std::size_t(a.nprobe) + std::size_t(p)];
  const std::uint64_t c0 = ro[p], c1 = ro[p + 1];
  if (l < 0 || c1 == c0) return;  // block-uniform: before any barrier
  const float base = build_lut(a, a.q + qi * std::size_t(a.d), l, lut, vec, red);
  const std::uint64_t s0 = a.list_off[l];
  const std::size_t len = std::size_t(c1 - c0);
  for (std::size_t pos = std::size_t(tid); pos < len; pos += std::size_t(bs))
    row[std::size_t(c0) + pos] = code_distance(a, lut, base, std::size_t(s0) + pos);
}

/// Fused scan and block-level top-k: every warp keeps the best kc of its share of the
/// cell in a warp queue, the queues are merged in a tree, and the block writes the
/// cell's best kc (key, slot) to out (row qi * nprobe + p, stride kc).
template <typename T, int N>
__global__ __launch_bounds__(kThreads) void ivf_scan_topk_kernel(IvfScanArgs a, int kc, float* out_k,
                                                                  std::uint32_t* out_v) {
  WS_DYN_SMEM(smem);
  T* lut = reinterpret_cast<T*>(smem);
  float* vec = reinterpret_cast<float*>(smem + align16(std::size_t(a.m) * (std::size_t(1) << a.nbits) * sizeof(T)));
  float* red = vec + a.d;
  auto* queues = reinterpret_cast<WarpQueue<N>*>(smem + queue_offset(a.d, a.m, a.nbits, sizeof(T)));
  const int tid = int(threadIdx.x), bs = int(blockDim.x), warp = tid >> 5, lane = tid & 31;
  const std::size_t qi = blockIdx.y;
  const int p = int(blockIdx.x);
  const std::size_t orow = (qi * std::size_t(a.nprobe) + std::size_t(p)) * std::size_t(kc);
  const idx_t l = a.probes[qi * std::size_t(a.nprobe) + std::size_t(p)];
  const std::size_t len = l < 0 ? 0 : std::size_t(a.list_off[l + 1] - a.list_off[l]);
  if (len == 0) {  // block-uniform: before any barrier
    for (int e = tid; e < kc; e += bs) {
      out_k[orow + std::size_t(e)] = INFINITY;
      out_v[orow + std::size_t(e)] = kNoId;
    }
    return;
  }
  const float base = build_lut(a, a.q + qi * std::size_t(a.d), l, lut, vec, red);
  const std::size_t s0 = std::size_t(a.list_off[l]);
  WarpQueue<N>& q = queues[warp];
  queue_init<N>(q);
  QueueState st{0, INFINITY};
  for (std::size_t b0 = std::size_t(warp) * 32; b0 < len; b0 += std::size_t(bs)) {  // warp-uniform
    const std::size_t pos = b0 + std::size_t(lane);
    float key = INFINITY;
    std::uint32_t id = kNoId;
    if (pos < len) {
      key = code_distance(a, lut, base, s0 + pos);
      id = std::uint32_t(s0 + pos);
    }
    queue_offer<N>(q, st, kc, key, id);
  }
  if (st.count > 0) queue_flush<N>(q, st, kc);
  for (int half = bs / 64; half >= 1; half >>= 1) {
    __syncthreads();
    if (warp < half) queue_merge_list<N>(q, queues[warp + half]);
  }
  __syncthreads();
  if (warp == 0)
    for (int e = lane; e < kc; e += 32) {
      out_k[orow + std::size_t(e)] = q.lk[e];
      out_v[orow + std::size_t(e)] = q.lv[e];
    }
}

/// Columns chosen by select-k become slots, in place; padding becomes (+inf, kNoId).
__global__ void ivf_slots_kernel(float* keys, std::uint32_t* cols, std::size_t nq, int kc, int nprobe,
                                 const std::uint64_t* row_off, const idx_t* probes,
                                 const std::uint64_t* list_off) {
  const std::size_t i = std::size_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= nq * std::size_t(kc)) return;
  const std::size_t qi = i / std::size_t(kc);
  const float key = keys[i];
  const std::uint32_t col = cols[i];
  if (!(key < INFINITY) || col == kNoId) {
    keys[i] = INFINITY;
    cols[i] = kNoId;
    return;
  }
  if (row_off == nullptr) return;  // fused path: the payload is the slot
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
  cols[i] = std::uint32_t(list_off[l] + (col - ro[lo]));
}

/// One warp per query: |q| into norms (cosine: 1, or 0 for a zero row) and, when out is
/// given, the row divided by |q| (cosine; a zero row stays zero).
__global__ void ivf_prepare_kernel(const float* q, std::size_t nq, int d, float* out, float* norms) {
  const std::size_t row = std::size_t(blockIdx.x) * (blockDim.x / 32) + (threadIdx.x >> 5);
  if (row >= nq) return;  // whole warps leave together
  const int lane = lane_id();
  const float* x = q + row * std::size_t(d);
  float s = 0.f;
  for (int c = lane; c < d; c += 32) s = fmaf(x[c], x[c], s);
  for (int o = 16; o > 0; o >>= 1) s += __shfl_xor_sync(kFull, s, o);
  const float nrm = sqrtf(s);
  if (out) {
    const float inv = s > 0.f ? 1.f / nrm : 0.f;
    for (int c = lane; c < d; c += 32) out[row * std::size_t(d) + std::size_t(c)] = x[c] * inv;
  }
  if (lane == 0) norms[row] = out ? (s > 0.f ? 1.f : 0.f) : nrm;
}

constexpr int kRotTile = 16;

/// out = x R^T (rows of x rotated by R, d x d row-major): 16 x 16 output tiles, the
/// operands staged through shared memory 16 dimensions at a time.
__global__ void ivf_rotate_kernel(const float* x, std::size_t nq, int d, const float* R, float* out) {
  __shared__ float xs[kRotTile][kRotTile + 1];
  __shared__ float rs[kRotTile][kRotTile + 1];
  const int tx = int(threadIdx.x), ty = int(threadIdx.y);
  const std::size_t row = std::size_t(blockIdx.y) * kRotTile + std::size_t(ty);  // query
  const int col = int(blockIdx.x) * kRotTile + tx;    // output dimension
  const int rrow = int(blockIdx.x) * kRotTile + ty;   // row of R this thread stages
  float acc = 0.f;
  for (int t0 = 0; t0 < d; t0 += kRotTile) {
    const int t = t0 + tx;
    xs[ty][tx] = row < nq && t < d ? x[row * std::size_t(d) + std::size_t(t)] : 0.f;
    rs[ty][tx] = rrow < d && t < d ? R[std::size_t(rrow) * std::size_t(d) + std::size_t(t)] : 0.f;
    __syncthreads();
    for (int j = 0; j < kRotTile; ++j) acc = fmaf(xs[ty][j], rs[tx][j], acc);
    __syncthreads();
  }
  if (row < nq && col < d) out[row * std::size_t(d) + std::size_t(col)] = acc;
}

/// Every cell, in order, for every query (the exhaustive plan).
__global__ void ivf_all_cells_kernel(idx_t* probes, std::size_t nq, int np) {
  const std::size_t i = std::size_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i < nq * std::size_t(np)) probes[i] = idx_t(i % std::size_t(np));
}

/// Adaptive probing: the cells of a query's row past gap * scale beyond its first
/// become -1 (the CPU's rule, ProbeGaps). dist: the coarse search's D (similarities
/// for inner product), scale: |q| for inner product, 1 for L2.
__global__ void ivf_cut_kernel(const float* dist, idx_t* probes, std::size_t nq, int np, float gap,
                               const float* norms, bool ip) {
  const std::size_t i = std::size_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= nq) return;
  const float sign = ip ? -1.f : 1.f;
  const float* r = dist + i * std::size_t(np);
  const float lim = sign * r[0] + gap * (ip ? norms[i] : 1.f);
  for (int p = 1; p < np; ++p)
    if (!(sign * r[p] <= lim)) probes[i * std::size_t(np) + std::size_t(p)] = -1;
}

/// One thread per query: the columns of each probe in the query's row, and the counters
/// (codes scored, non-empty cells probed, the longest row).
__global__ void ivf_rows_kernel(const idx_t* probes, std::size_t nq, int np, const std::uint64_t* list_off,
                                std::uint64_t* row_off, unsigned long long* counters) {
  const std::size_t i = std::size_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= nq) return;
  std::uint64_t acc = 0;
  unsigned long long cells = 0;
  std::uint64_t* ro = row_off + i * std::size_t(np + 1);
  for (int p = 0; p < np; ++p) {
    ro[p] = acc;
    const idx_t l = probes[i * std::size_t(np) + std::size_t(p)];
    const std::uint64_t len = l < 0 ? 0 : list_off[l + 1] - list_off[l];
    acc += len;
    cells += len > 0;
  }
  ro[np] = acc;
  atomicAdd(&counters[0], static_cast<unsigned long long>(acc));
  atomicAdd(&counters[1], cells);
  atomicMax(&counters[2], static_cast<unsigned long long>(acc));
}

/// Exact key of a candidate from its refine record (L2: squared distance; IP: minus the
/// dot product); one warp per (query, candidate), the block counts its evaluations.
__global__ __launch_bounds__(kThreads) void ivf_refine_kernel(IvfRefineArgs a) {
  __shared__ unsigned block_evals;
  if (threadIdx.x == 0) block_evals = 0;
  __syncthreads();
  const std::size_t w = (std::size_t(blockIdx.x) * blockDim.x + threadIdx.x) >> 5;
  const int lane = lane_id();
  const std::size_t total = a.nq * std::size_t(a.kc);
  if (w < total) {  // warp-uniform
    const std::uint32_t slot = a.rows[w];
    if (slot == kNoId || !(a.keys[w] < INFINITY)) {
      if (lane == 0) a.out[w] = INFINITY;
    } else {
      const float* q = a.q + (w / std::size_t(a.kc)) * std::size_t(a.d);
      const std::uint8_t* rec = a.recs + std::size_t(slot) * a.rec_bytes;
      float acc = 0.f;
      for (int t = lane; t < a.d; t += 32) {
        float v;
        if (a.kind == int(Refine::FP32)) v = reinterpret_cast<const float*>(rec)[t];
        else if (a.kind == int(Refine::FP16)) v = __half2float(reinterpret_cast<const __half*>(rec)[t]);
        else v = a.sq_min[t] + a.sq_scale[t] * float(rec[t]);
        if (a.ip) {
          acc = fmaf(q[t], v, acc);
        } else {
          const float df = q[t] - v;
          acc = fmaf(df, df, acc);
        }
      }
      for (int o = 16; o > 0; o >>= 1) acc += __shfl_xor_sync(kFull, acc, o);
      if (lane == 0) {
        a.out[w] = a.ip ? -acc : acc;
        atomicAdd(&block_evals, 1u);
      }
    }
  }
  __syncthreads();
  if (threadIdx.x == 0 && block_evals) atomicAdd(a.evals, static_cast<unsigned long long>(block_evals));
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

std::size_t ivf_scan_topk_smem(int d, int m, int nbits, bool fp16, int kc) {
  const std::size_t qs = kc <= 32    ? sizeof(WarpQueue<1>)
                         : kc <= 64  ? sizeof(WarpQueue<2>)
                         : kc <= 128 ? sizeof(WarpQueue<4>)
                                     : sizeof(WarpQueue<8>);
  return queue_offset(d, m, nbits, fp16 ? 2 : 4) + std::size_t(kThreads / 32) * qs;
}

namespace {
template <typename T, int N>
void launch_topk(const IvfScanArgs& a, int kc, float* out_k, std::uint32_t* out_v, std::size_t smem,
                 cudaStream_t stream) {
  auto* kern = &ivf_scan_topk_kernel<T, N>;
  WS_CUDA_CHECK(cudaFuncSetAttribute(kern, cudaFuncAttributeMaxDynamicSharedMemorySize, int(smem)));
  WS_LAUNCH(kern, dim3(unsigned(a.nprobe), unsigned(a.nq)), dim3(kThreads), smem, stream, a, kc, out_k, out_v);
  WS_CUDA_CHECK_LAUNCH();
}
template <typename T>
void launch_topk(const IvfScanArgs& a, int kc, float* out_k, std::uint32_t* out_v, std::size_t smem,
                 cudaStream_t stream) {
  if (kc <= 32) launch_topk<T, 1>(a, kc, out_k, out_v, smem, stream);
  else if (kc <= 64) launch_topk<T, 2>(a, kc, out_k, out_v, smem, stream);
  else if (kc <= 128) launch_topk<T, 4>(a, kc, out_k, out_v, smem, stream);
  else launch_topk<T, 8>(a, kc, out_k, out_v, smem, stream);
}
}  // namespace

void ivf_scan_topk(const IvfScanArgs& a, bool fp16, int kc, float* out_k, std::uint32_t* out_v,
                   cudaStream_t stream) {
  if (a.nq == 0 || a.nprobe == 0) return;
  WS_EXPECTS(a.nq <= 65535 && kc >= 1 && kc <= 256, "internal: bad fused IVF scan");
  const std::size_t smem = ivf_scan_topk_smem(a.d, a.m, a.nbits, fp16, kc);
  if (fp16) launch_topk<__half>(a, kc, out_k, out_v, smem, stream);
  else launch_topk<float>(a, kc, out_k, out_v, smem, stream);
}

void ivf_slots(float* keys, std::uint32_t* cols, std::size_t nq, int kc, int nprobe,
               const std::uint64_t* row_off, const idx_t* probes, const std::uint64_t* list_off,
               cudaStream_t stream) {
  const std::size_t count = nq * std::size_t(kc);
  if (count == 0) return;
  auto* kern = &ivf_slots_kernel;
  WS_LAUNCH(kern, dim3(unsigned(div_up(count, 256))), dim3(256), 0, stream, keys, cols, nq, kc, nprobe,
            row_off, probes, list_off);
  WS_CUDA_CHECK_LAUNCH();
}

void ivf_prepare_queries(const float* q, std::size_t nq, int d, float* out, float* norms, cudaStream_t stream) {
  if (nq == 0) return;
  auto* kern = &ivf_prepare_kernel;
  WS_LAUNCH(kern, dim3(unsigned(div_up(nq, 8))), dim3(256), 0, stream, q, nq, d, out, norms);
  WS_CUDA_CHECK_LAUNCH();
}

void ivf_rotate(const float* x, std::size_t nq, int d, const float* R, float* out, cudaStream_t stream) {
  const std::size_t chunk = std::size_t(65535) * kRotTile;  // grid.y limit
  auto* kern = &ivf_rotate_kernel;
  for (std::size_t r0 = 0; r0 < nq; r0 += chunk) {
    const std::size_t rows = std::min(chunk, nq - r0);
    const dim3 grid(unsigned(div_up(std::size_t(d), kRotTile)), unsigned(div_up(rows, kRotTile)));
    WS_LAUNCH(kern, grid, dim3(kRotTile, kRotTile), 0, stream, x + r0 * std::size_t(d), rows, d, R,
              out + r0 * std::size_t(d));
    WS_CUDA_CHECK_LAUNCH();
  }
}

void ivf_all_cells(idx_t* probes, std::size_t nq, int np, cudaStream_t stream) {
  const std::size_t count = nq * std::size_t(np);
  if (count == 0) return;
  auto* kern = &ivf_all_cells_kernel;
  WS_LAUNCH(kern, dim3(unsigned(div_up(count, 256))), dim3(256), 0, stream, probes, nq, np);
  WS_CUDA_CHECK_LAUNCH();
}

void ivf_cut_probes(const float* dist, idx_t* probes, std::size_t nq, int np, float gap, const float* norms,
                    bool ip, cudaStream_t stream) {
  if (nq == 0) return;
  auto* kern = &ivf_cut_kernel;
  WS_LAUNCH(kern, dim3(unsigned(div_up(nq, 128))), dim3(128), 0, stream, dist, probes, nq, np, gap, norms, ip);
  WS_CUDA_CHECK_LAUNCH();
}

void ivf_row_offsets(const idx_t* probes, std::size_t nq, int np, const std::uint64_t* list_off,
                     std::uint64_t* row_off, unsigned long long* counters, cudaStream_t stream) {
  if (nq == 0) return;
  auto* kern = &ivf_rows_kernel;
  WS_LAUNCH(kern, dim3(unsigned(div_up(nq, 128))), dim3(128), 0, stream, probes, nq, np, list_off, row_off,
            counters);
  WS_CUDA_CHECK_LAUNCH();
}

void ivf_refine(const IvfRefineArgs& a, cudaStream_t stream) {
  const std::size_t warps = a.nq * std::size_t(a.kc);
  if (warps == 0) return;
  auto* kern = &ivf_refine_kernel;
  WS_LAUNCH(kern, dim3(unsigned(div_up(warps, kThreads / 32))), dim3(kThreads), 0, stream, a);
  WS_CUDA_CHECK_LAUNCH();
}


}  // namespace warpsearch::detail::gpu
