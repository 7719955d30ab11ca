// SPDX-FileCopyrightText: 2026 warpsearch contributors
// SPDX-License-Identifier: Apache-2.0
// Exact search on the GPU. For k <= 256 one fused kernel computes a tile of
// QB queries x NB base rows (register-blocked fp32 dot products from shared
// memory), turns it into distances in shared memory and feeds each query's warp
// queue; no distance ever reaches device memory. The base may be split into
// slices (grid.y) to fill the GPU when there are few queries; the slices' top-k
// lists are merged by select-k. For larger k the distances of a bounded block
// (query chunk x base tile) go to a workspace and radix select keeps a running
// top-k per query.
#include <algorithm>

#include "cuda/internal.cuh"
#include "cuda/warp_sort.cuh"
#include "warpsearch/errors.hpp"
#include "warpsearch/gpu.hpp"

namespace warpsearch::detail::gpu {
namespace {

constexpr int kThreads = 256;
constexpr int kDK = 16;         // dimensions per shared-memory step
constexpr int kLDS = kDK + 4;   // padded row: float4 reads are bank-conflict free
constexpr std::size_t kWorkspaceBytes = std::size_t(256) << 20;

struct FlatArgs {
  const float* x;
  const float* xnorm;
  std::size_t n;
  int d;
  const float* q;
  const float* qaux;  // |q|^2 (L2) or 1/|q| (cosine)
  std::size_t nq;
  const std::uint64_t* allow;
  int metric;
  int k;
  std::size_t tiles_per_slice;
  float* out_k;
  std::uint32_t* out_v;
  std::size_t ld_out;
  std::size_t row_begin, row_end;  // distance kernel: the base range of this pass
};

template <int QB>
struct Shape {
  static constexpr int NB = 8192 / QB;  // base rows per tile (a thread: 8 queries x 4 rows)
  static constexpr int QG = QB / 8;     // query groups of 8; warps per group: 8 / QG
  static constexpr std::size_t tile_floats = std::size_t(NB + QB) * kLDS;
  static constexpr std::size_t dist_floats = std::size_t(QB) * NB;
  static constexpr std::size_t union_bytes =
      (tile_floats > dist_floats ? tile_floats : dist_floats) * sizeof(float);
};

__device__ __forceinline__ float make_key(const FlatArgs& a, float dot, std::size_t gq, std::size_t gr) {
  if (a.metric == int(Metric::L2)) return fmaxf(0.f, a.qaux[gq] + a.xnorm[gr] - 2.f * dot);
  if (a.metric == int(Metric::Cosine)) return -dot * a.qaux[gq];
  return -dot;
}

/// acc[i][j] = <query q0 + qg*8 + i, row row0 + rg*128 + lane + 32*j> (zero padded).
template <int QB>
__device__ __forceinline__ void tile_dots(const FlatArgs& a, float* xs, float* qs, std::size_t q0,
                                          std::size_t row0, float (&acc)[8][4]) {
  constexpr int NB = Shape<QB>::NB, QG = Shape<QB>::QG;
  const int tid = int(threadIdx.x), warp = tid >> 5, lane = tid & 31;
  const int qg = warp % QG, rg = warp / QG;
#pragma unroll
  for (int i = 0; i < 8; ++i)
#pragma unroll
    for (int j = 0; j < 4; ++j) acc[i][j] = 0.f;
  const std::size_t d = std::size_t(a.d);
  for (int k0 = 0; k0 < a.d; k0 += kDK) {
    __syncthreads();  // previous users of the tile buffers are done
    for (int e = tid; e < NB * kDK; e += kThreads) {
      const int r = e / kDK, c = e % kDK;
      const std::size_t gr = row0 + std::size_t(r);
      const int gc = k0 + c;
      xs[r * kLDS + c] = (gr < a.n && gc < a.d) ? a.x[gr * d + std::size_t(gc)] : 0.f;
    }
    for (int e = tid; e < QB * kDK; e += kThreads) {
      const int r = e / kDK, c = e % kDK;
      const std::size_t gq = q0 + std::size_t(r);
      const int gc = k0 + c;
      qs[r * kLDS + c] = (gq < a.nq && gc < a.d) ? a.q[gq * d + std::size_t(gc)] : 0.f;
    }
    __syncthreads();
#pragma unroll
    for (int c = 0; c < kDK; c += 4) {
      float4 xv[4];
#pragma unroll
      for (int j = 0; j < 4; ++j)
        xv[j] = *reinterpret_cast<const float4*>(&xs[(rg * 128 + lane + 32 * j) * kLDS + c]);
#pragma unroll
      for (int i = 0; i < 8; ++i) {
        const float4 qv = *reinterpret_cast<const float4*>(&qs[(qg * 8 + i) * kLDS + c]);
#pragma unroll
        for (int j = 0; j < 4; ++j) {
          float t = acc[i][j];
          t = fmaf(qv.x, xv[j].x, t);
          t = fmaf(qv.y, xv[j].y, t);
          t = fmaf(qv.z, xv[j].z, t);
          t = fmaf(qv.w, xv[j].w, t);
          acc[i][j] = t;
        }
      }
    }
  }
}

template <int QB, int N>
__global__ __launch_bounds__(kThreads) void flat_topk_kernel(FlatArgs a) {
  constexpr int NB = Shape<QB>::NB, QG = Shape<QB>::QG;
  WS_DYN_SMEM(smem);
  float* xs = reinterpret_cast<float*>(smem);
  float* qs = xs + NB * kLDS;
  float* ds = xs;  // distances reuse the tile buffers
  auto* queues = reinterpret_cast<WarpQueue<N>*>(smem + Shape<QB>::union_bytes);
  auto* states = reinterpret_cast<QueueState*>(queues + QB);
  const int tid = int(threadIdx.x), warp = tid >> 5, lane = tid & 31;
  const int qg = warp % QG, rg = warp / QG;
  const std::size_t q0 = std::size_t(blockIdx.x) * QB;
  const std::size_t tiles = div_up(a.n, NB);
  const std::size_t t_begin = std::size_t(blockIdx.y) * a.tiles_per_slice;
  const std::size_t t_end = t_begin + a.tiles_per_slice < tiles ? t_begin + a.tiles_per_slice : tiles;
  for (int t = warp; t < QB; t += kThreads / 32) {
    queue_init<N>(queues[t]);
    if (lane == 0) states[t] = QueueState{0, INFINITY};
  }
  for (std::size_t tile = t_begin; tile < t_end; ++tile) {
    const std::size_t row0 = tile * NB;
    float acc[8][4];
    tile_dots<QB>(a, xs, qs, q0, row0, acc);
    __syncthreads();  // every read of xs/qs is done before ds overwrites them
#pragma unroll
    for (int j = 0; j < 4; ++j) {
      const int r = rg * 128 + lane + 32 * j;
      const std::size_t gr = row0 + std::size_t(r);
      const bool ok = gr < a.n && bit_allowed(a.allow, gr);
#pragma unroll
      for (int i = 0; i < 8; ++i) {
        const int qi = qg * 8 + i;
        const std::size_t gq = q0 + std::size_t(qi);
        ds[qi * NB + r] = (ok && gq < a.nq) ? make_key(a, acc[i][j], gq, gr) : INFINITY;
      }
    }
    __syncthreads();
    for (int t = warp; t < QB; t += kThreads / 32) {
      if (q0 + std::size_t(t) >= a.nq) continue;  // warp-uniform
      QueueState st = states[t];
      for (int c0 = 0; c0 < NB; c0 += 32)
        queue_offer<N>(queues[t], st, a.k, ds[t * NB + c0 + lane], std::uint32_t(row0) + std::uint32_t(c0 + lane));
      __syncwarp();
      if (lane == 0) states[t] = st;
      __syncwarp();
    }
    // the next tile_dots starts with a barrier, so ds stays intact until all warps are done
  }
  for (int t = warp; t < QB; t += kThreads / 32) {
    const std::size_t gq = q0 + std::size_t(t);
    if (gq >= a.nq) continue;
    QueueState st = states[t];
    if (st.count > 0) queue_flush<N>(queues[t], st, a.k);
    const std::size_t out_row = gq * gridDim.y + blockIdx.y;
    for (int e = lane; e < a.k; e += 32) {
      a.out_k[out_row * a.ld_out + std::size_t(e)] = queues[t].lk[e];
      a.out_v[out_row * a.ld_out + std::size_t(e)] = queues[t].lv[e];
    }
  }
}

/// Distances of a query chunk to base rows [row_begin, row_end) into out_k (stride ld_out).
__global__ __launch_bounds__(kThreads) void flat_dist_kernel(FlatArgs a) {
  constexpr int QB = 32, NB = Shape<QB>::NB, QG = Shape<QB>::QG;
  WS_DYN_SMEM(smem);
  float* xs = reinterpret_cast<float*>(smem);
  float* qs = xs + NB * kLDS;
  const int tid = int(threadIdx.x), warp = tid >> 5, lane = tid & 31;
  const int qg = warp % QG, rg = warp / QG;
  const std::size_t q0 = std::size_t(blockIdx.x) * QB;
  const std::size_t row0 = a.row_begin + std::size_t(blockIdx.y) * NB;
  float acc[8][4];
  tile_dots<QB>(a, xs, qs, q0, row0, acc);
#pragma unroll
  for (int j = 0; j < 4; ++j) {
    const std::size_t gr = row0 + std::size_t(rg * 128 + lane + 32 * j);
    if (gr >= a.row_end) continue;
    const bool ok = bit_allowed(a.allow, gr);
#pragma unroll
    for (int i = 0; i < 8; ++i) {
      const std::size_t gq = q0 + std::size_t(qg * 8 + i);
      if (gq < a.nq)
        a.out_k[gq * a.ld_out + (gr - a.row_begin)] = ok ? make_key(a, acc[i][j], gq, gr) : INFINITY;
    }
  }
}

/// One warp per row: mode 0 -> |x|^2, mode 1 -> 1/|x| (0 for a zero row).
__global__ void norms_kernel(const float* x, std::size_t n, std::size_t d, float* out, int mode) {
  const std::size_t row = std::size_t(blockIdx.x) * (blockDim.x / 32) + (threadIdx.x >> 5);
  if (row >= n) return;  // whole warps leave together
  const int lane = lane_id();
  float s = 0.f;
  for (std::size_t c = std::size_t(lane); c < d; c += 32) {
    const float v = x[row * d + c];
    s = fmaf(v, v, s);
  }
  for (int o = 16; o > 0; o >>= 1) s += __shfl_xor_sync(kFull, s, o);
  if (lane == 0) out[row] = mode == 0 ? s : (s > 0.f ? rsqrtf(s) : 0.f);
}

__global__ void finalize_kernel(const float* keys, const std::uint32_t* rows, std::size_t nq, int k,
                                std::size_t ld_in, const idx_t* labels, int metric, float* D, idx_t* I) {
  const std::size_t i = std::size_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= nq * std::size_t(k)) return;
  const std::size_t qi = i / std::size_t(k), j = i % std::size_t(k);
  const float key = keys[qi * ld_in + j];
  const std::uint32_t r = rows[qi * ld_in + j];
  const bool l2 = metric == int(Metric::L2);
  const bool pad = !(key < INFINITY) || r == kNoId;
  D[i] = pad ? (l2 ? INFINITY : -INFINITY) : (l2 ? key : -key);
  I[i] = pad ? idx_t(-1) : labels[r];
}

__global__ void pad_kernel(float* D, idx_t* I, std::size_t count, float pad) {
  const std::size_t i = std::size_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= count) return;
  D[i] = pad;
  I[i] = -1;
}

template <int QB, int N>
void run_fused(FlatArgs a, const FlatView& v, std::size_t nq, int k, float* D, idx_t* I,
               cudaStream_t stream, const DeviceInfo& info) {
  constexpr int NB = Shape<QB>::NB;
  const std::size_t smem = Shape<QB>::union_bytes + QB * (sizeof(WarpQueue<N>) + sizeof(QueueState));
  WS_EXPECTS(smem <= std::size_t(info.smem_optin), "GPU exact search needs ", smem,
             " bytes of shared memory per block; the device has ", info.smem_optin);
  auto* kern = &flat_topk_kernel<QB, N>;
  WS_CUDA_CHECK(cudaFuncSetAttribute(kern, cudaFuncAttributeMaxDynamicSharedMemorySize, int(smem)));
  const std::size_t qblocks = div_up(nq, QB), tiles = div_up(v.n, NB);
  // Enough blocks to fill the device: split the base when there are few query blocks.
  const std::size_t target = std::size_t(4) * std::size_t(info.sms);
  std::size_t slices = 1;
  if (qblocks < target) slices = std::min(div_up(target, qblocks), std::max<std::size_t>(1, tiles / 2));
  slices = std::min<std::size_t>(slices, 65535);
  a.tiles_per_slice = div_up(tiles, slices);
  slices = div_up(tiles, a.tiles_per_slice);
  DeviceBuffer<float> part_k(nq * slices * std::size_t(k)), fin_k;
  DeviceBuffer<std::uint32_t> part_v(nq * slices * std::size_t(k)), fin_v;
  a.out_k = part_k.data();
  a.out_v = part_v.data();
  a.ld_out = std::size_t(k);
  WS_LAUNCH(kern, dim3(unsigned(qblocks), unsigned(slices)), dim3(kThreads), smem, stream, a);
  WS_CUDA_CHECK_LAUNCH();
  const float* rk = part_k.data();
  const std::uint32_t* rv = part_v.data();
  if (slices > 1) {
    fin_k.resize(nq * std::size_t(k));
    fin_v.resize(nq * std::size_t(k));
    const std::size_t cols = slices * std::size_t(k);
    select_k(part_k.data(), cols, part_v.data(), cols, 0, nq, cols, k, fin_k.data(), fin_v.data(),
             std::size_t(k), stream);
    rk = fin_k.data();
    rv = fin_v.data();
  }
  finalize_results(rk, rv, nq, k, std::size_t(k), v.labels, v.metric, D, I, stream);
  // the buffers are freed here; cudaFree waits for the work that uses them
}

void run_large_k(FlatArgs a, const FlatView& v, const float* q, const float* qaux, std::size_t nq,
                 int k, float* D, idx_t* I, cudaStream_t stream) {
  constexpr int NB = Shape<32>::NB;
  const std::size_t qc = std::min<std::size_t>(nq, 128);
  std::size_t nt = kWorkspaceBytes / (qc * sizeof(float)) / NB * NB;
  nt = std::max<std::size_t>(NB, std::min(nt, div_up(v.n, NB) * NB));
  nt = std::min<std::size_t>(nt, std::size_t(65535) * NB);
  const std::size_t k2 = 2 * std::size_t(k);
  DeviceBuffer<float> dist(qc * nt), cand_k(qc * k2);
  DeviceBuffer<std::uint32_t> cand_v(qc * k2);
  const std::size_t smem = Shape<32>::tile_floats * sizeof(float);
  auto* kern = &flat_dist_kernel;
  WS_CUDA_CHECK(cudaFuncSetAttribute(kern, cudaFuncAttributeMaxDynamicSharedMemorySize, int(smem)));
  for (std::size_t c0 = 0; c0 < nq; c0 += qc) {
    const std::size_t cq = std::min(qc, nq - c0);
    a.q = q + c0 * v.d;
    a.qaux = qaux + c0;
    a.nq = cq;
    a.out_k = dist.data();
    a.ld_out = nt;
    for (std::size_t t0 = 0; t0 < v.n; t0 += nt) {
      a.row_begin = t0;
      a.row_end = std::min(v.n, t0 + nt);
      const std::size_t cols = a.row_end - t0;
      WS_LAUNCH(kern, dim3(unsigned(div_up(cq, 32)), unsigned(div_up(cols, NB))), dim3(kThreads), smem,
                stream, a);
      WS_CUDA_CHECK_LAUNCH();
      const std::size_t off = t0 == 0 ? 0 : std::size_t(k);  // later tiles go to the second half
      select_k_radix(dist.data(), nt, nullptr, 0, std::uint32_t(t0), cq, cols, k, cand_k.data() + off,
                     cand_v.data() + off, k2, stream);
      if (t0 > 0)  // running top-k <- best k of (running, this tile), in place
        select_k_radix(cand_k.data(), k2, cand_v.data(), k2, 0, cq, k2, k, cand_k.data(),
                       cand_v.data(), k2, stream);
    }
    finalize_results(cand_k.data(), cand_v.data(), cq, k, k2, v.labels, v.metric, D + c0 * std::size_t(k),
                     I + c0 * std::size_t(k), stream);
  }
}

}  // namespace

void row_sq_norms(const float* x, std::size_t n, std::size_t d, float* out, cudaStream_t stream) {
  if (n == 0) return;
  auto* kern = &norms_kernel;
  WS_LAUNCH(kern, dim3(unsigned(div_up(n, 8))), dim3(256), 0, stream, x, n, d, out, 0);
  WS_CUDA_CHECK_LAUNCH();
}

void query_aux(const float* q, std::size_t nq, std::size_t d, Metric metric, float* out,
               cudaStream_t stream) {
  if (nq == 0 || metric == Metric::IP) return;
  auto* kern = &norms_kernel;
  WS_LAUNCH(kern, dim3(unsigned(div_up(nq, 8))), dim3(256), 0, stream, q, nq, d, out,
            metric == Metric::L2 ? 0 : 1);
  WS_CUDA_CHECK_LAUNCH();
}

void pad_results(float* D, idx_t* I, std::size_t count, Metric metric, cudaStream_t stream) {
  if (count == 0) return;
  auto* kern = &pad_kernel;
  WS_LAUNCH(kern, dim3(unsigned(div_up(count, 256))), dim3(256), 0, stream, D, I, count,
            metric == Metric::L2 ? INFINITY : -INFINITY);
  WS_CUDA_CHECK_LAUNCH();
}

void finalize_results(const float* keys, const std::uint32_t* rows, std::size_t nq, int k,
                      std::size_t ld_in, const idx_t* labels, Metric metric, float* D, idx_t* I,
                      cudaStream_t stream) {
  const std::size_t count = nq * std::size_t(k);
  if (count == 0) return;
  auto* kern = &finalize_kernel;
  WS_LAUNCH(kern, dim3(unsigned(div_up(count, 256))), dim3(256), 0, stream, keys, rows, nq, k, ld_in,
            labels, int(metric), D, I);
  WS_CUDA_CHECK_LAUNCH();
}

void flat_search(const FlatView& v, const float* q, std::size_t nq, int k, const std::uint64_t* allow,
                 float* D, idx_t* I, cudaStream_t stream) {
  WS_EXPECTS(k >= 1 && k <= kGpuMaxK, "GPU exact search needs 1 <= k <= ", kGpuMaxK, ", got ", k);
  if (nq == 0) return;
  WS_EXPECTS(nq * std::size_t(k) / 256 < std::size_t(0x7fffffff), "GPU exact search: too many results");
  if (v.n == 0) {
    pad_results(D, I, nq * std::size_t(k), v.metric, stream);
    return;
  }
  WS_EXPECTS(v.n < std::size_t(kNoId) - 1024, "GPU exact search supports up to 2^32 - 1025 vectors");
  int dev = 0;
  WS_CUDA_CHECK(cudaGetDevice(&dev));
  const DeviceInfo info = device_info(dev);
  DeviceBuffer<float> qaux(nq);
  query_aux(q, nq, v.d, v.metric, qaux.data(), stream);
  FlatArgs a{};
  a.x = v.x;
  a.xnorm = v.norms;
  a.n = v.n;
  a.d = int(v.d);
  a.q = q;
  a.qaux = qaux.data();
  a.nq = nq;
  a.allow = allow;
  a.metric = int(v.metric);
  a.k = k;
  if (k <= 32) run_fused<32, 1>(a, v, nq, k, D, I, stream, info);
  else if (k <= 64) run_fused<32, 2>(a, v, nq, k, D, I, stream, info);
  else if (k <= 128) run_fused<32, 4>(a, v, nq, k, D, I, stream, info);
  else if (k <= 256) run_fused<16, 8>(a, v, nq, k, D, I, stream, info);
  else run_large_k(a, v, q, qaux.data(), nq, k, D, I, stream);
}

}  // namespace warpsearch::detail::gpu
