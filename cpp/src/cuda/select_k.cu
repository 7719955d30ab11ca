// SPDX-FileCopyrightText: 2026 warpsearch contributors
// SPDX-License-Identifier: Apache-2.0
// Row-wise select-k: warp queues (bitonic sort/merge in registers) for k <= 256,
// radix select (4 passes of 8-bit histograms, then a block bitonic sort of the
// selected entries) for k up to kGpuMaxK.
#include <vector>

#include "cuda/internal.cuh"
#include "cuda/warp_sort.cuh"
#include "warpsearch/errors.hpp"
#include "warpsearch/gpu.hpp"

namespace warpsearch::detail::gpu {
namespace {

constexpr int kThreads = 256;

template <int N>
__global__ __launch_bounds__(kThreads) void select_k_warp_kernel(
    const float* keys, std::size_t ld_keys, const std::uint32_t* ids, std::size_t ld_ids,
    std::uint32_t id_offset, std::size_t rows, std::size_t cols, int k, float* out_keys,
    std::uint32_t* out_ids, std::size_t ld_out, int warps_per_row) {
  __shared__ WarpQueue<N> queues[kThreads / 32];
  const int w = int(threadIdx.x >> 5), lane = lane_id();
  const std::size_t row = std::size_t(blockIdx.x) * std::size_t((kThreads / 32) / warps_per_row) +
                          std::size_t(w / warps_per_row);
  const int part = w % warps_per_row;
  WarpQueue<N>& q = queues[w];
  queue_init<N>(q);
  QueueState st{0, INFINITY};
  if (row < rows) {  // warp-uniform
    const float* rk = keys + row * ld_keys;
    const std::uint32_t* rv = ids ? ids + row * ld_ids : nullptr;
    const std::size_t step = std::size_t(warps_per_row) * 32;
    for (std::size_t c0 = std::size_t(part) * 32; c0 < cols; c0 += step) {
      const std::size_t c = c0 + std::size_t(lane);
      float key = INFINITY;
      std::uint32_t id = kNoId;
      if (c < cols) {
        key = rk[c];
        id = rv ? rv[c] : std::uint32_t(c) + id_offset;
      }
      queue_offer<N>(q, st, k, key, id);
    }
    if (st.count > 0) queue_flush<N>(q, st, k);
  }
  __syncthreads();
  if (row < rows && part == 0) {
    for (int o = 1; o < warps_per_row; ++o) queue_merge_list<N>(q, queues[w + o]);
    float* ok = out_keys + row * ld_out;
    std::uint32_t* ov = out_ids + row * ld_out;
    for (int e = lane; e < k; e += 32) {
      ok[e] = q.lk[e];
      ov[e] = q.lv[e];
    }
  }
}

/// Order-preserving map of a float to an unsigned int (ascending floats -> ascending ints).
__device__ __forceinline__ std::uint32_t order_bits(float f) {
  const std::uint32_t u = __float_as_uint(f);
  return (u & 0x80000000u) ? ~u : (u | 0x80000000u);
}

__global__ __launch_bounds__(kThreads) void select_k_radix_kernel(
    const float* keys, std::size_t ld_keys, const std::uint32_t* ids, std::size_t ld_ids,
    std::uint32_t id_offset, std::size_t cols, int k, float* out_keys, std::uint32_t* out_ids,
    std::size_t ld_out) {
  __shared__ int hist[256];
  __shared__ float sk[kGpuMaxK];
  __shared__ std::uint32_t sv[kGpuMaxK];
  __shared__ std::uint32_t s_prefix;
  __shared__ int s_remaining, s_lt, s_eq;
  const std::size_t row = blockIdx.x;
  const int tid = int(threadIdx.x);
  const float* rk = keys + row * ld_keys;
  const std::uint32_t* rv = ids ? ids + row * ld_ids : nullptr;
  const int take = int(cols < std::size_t(k) ? cols : std::size_t(k));

  // Find the take-th smallest key T, 8 bits at a time from the top.
  std::uint32_t prefix = 0, mask = 0;
  int remaining = take;
  for (int shift = 24; shift >= 0 && take > 0; shift -= 8) {
    for (int i = tid; i < 256; i += kThreads) hist[i] = 0;
    __syncthreads();
    for (std::size_t c = std::size_t(tid); c < cols; c += kThreads) {
      const std::uint32_t u = order_bits(rk[c]);
      if ((u & mask) == prefix) atomicAdd(&hist[(u >> shift) & 255u], 1);
    }
    __syncthreads();
    if (tid == 0) {
      int acc = 0, b = 0;
      for (; b < 255; ++b) {
        if (acc + hist[b] >= remaining) break;
        acc += hist[b];
      }
      s_prefix = prefix | (std::uint32_t(b) << shift);
      s_remaining = remaining - acc;
    }
    __syncthreads();
    prefix = s_prefix;
    remaining = s_remaining;
    mask |= 255u << shift;
  }
  // Everything below T is taken, and `remaining` of the entries equal to T.
  if (tid == 0) {
    s_lt = 0;
    s_eq = 0;
  }
  __syncthreads();
  for (std::size_t c = std::size_t(tid); c < cols && take > 0; c += kThreads) {
    const float key = rk[c];
    const std::uint32_t u = order_bits(key);
    int pos = -1;
    if (u < prefix) {
      pos = atomicAdd(&s_lt, 1);
    } else if (u == prefix) {
      const int e = atomicAdd(&s_eq, 1);
      if (e < remaining) pos = take - remaining + e;
    }
    if (pos >= 0) {
      sk[pos] = key;
      sv[pos] = rv ? rv[c] : std::uint32_t(c) + id_offset;
    }
  }
  int n2 = 1;
  while (n2 < take) n2 <<= 1;
  for (int i = take + tid; i < n2; i += kThreads) {
    sk[i] = INFINITY;
    sv[i] = kNoId;
  }
  block_sort(sk, sv, n2);  // starts with a barrier: all reads of the row are done
  float* ok = out_keys + row * ld_out;
  std::uint32_t* ov = out_ids + row * ld_out;
  for (int e = tid; e < k; e += kThreads) {
    ok[e] = e < take ? sk[e] : INFINITY;
    ov[e] = e < take ? sv[e] : kNoId;
  }
}

}  // namespace

void select_k_radix(const float* keys, std::size_t ld_keys, const std::uint32_t* ids,
                    std::size_t ld_ids, std::uint32_t id_offset, std::size_t rows, std::size_t cols,
                    int k, float* out_keys, std::uint32_t* out_ids, std::size_t ld_out,
                    cudaStream_t stream) {
  if (rows == 0) return;
  WS_EXPECTS(k >= 1 && k <= kGpuMaxK, "GPU select-k needs 1 <= k <= ", kGpuMaxK, ", got ", k);
  auto* kern = &select_k_radix_kernel;
  WS_LAUNCH(kern, dim3(unsigned(rows)), dim3(kThreads), 0, stream, keys, ld_keys, ids, ld_ids,
            id_offset, cols, k, out_keys, out_ids, ld_out);
  WS_CUDA_CHECK_LAUNCH();
}

void select_k(const float* keys, std::size_t ld_keys, const std::uint32_t* ids, std::size_t ld_ids,
              std::uint32_t id_offset, std::size_t rows, std::size_t cols, int k, float* out_keys,
              std::uint32_t* out_ids, std::size_t ld_out, cudaStream_t stream) {
  if (rows == 0) return;
  WS_EXPECTS(k >= 1 && k <= kGpuMaxK, "GPU select-k needs 1 <= k <= ", kGpuMaxK, ", got ", k);
  WS_EXPECTS(cols < std::size_t(kNoId), "GPU select-k: rows longer than 2^32-2 columns");
  WS_EXPECTS(rows <= std::size_t(0x7fffffff), "GPU select-k: too many rows");
  if (k > 256) {
    select_k_radix(keys, ld_keys, ids, ld_ids, id_offset, rows, cols, k, out_keys, out_ids, ld_out,
                   stream);
    return;
  }
  // Long rows: 8 warps share a row and merge; short rows: one warp per row.
  const int wpr = cols > 2048 ? 8 : 1;
  const dim3 grid(unsigned(div_up(rows, std::size_t(8 / wpr))));
  auto run = [&](auto* kern) {
    WS_LAUNCH(kern, grid, dim3(kThreads), 0, stream, keys, ld_keys, ids, ld_ids, id_offset, rows,
              cols, k, out_keys, out_ids, ld_out, wpr);
    WS_CUDA_CHECK_LAUNCH();
  };
  if (k <= 32) run(&select_k_warp_kernel<1>);
  else if (k <= 64) run(&select_k_warp_kernel<2>);
  else if (k <= 128) run(&select_k_warp_kernel<4>);
  else run(&select_k_warp_kernel<8>);
}

}  // namespace warpsearch::detail::gpu

namespace warpsearch {

void gpu_select_k(int device, const float* vals, std::size_t rows, std::size_t cols, int k,
                  bool select_min, float* out_vals, idx_t* out_idx) {
  using namespace detail::gpu;
  expect_device(device);
  WS_EXPECTS(k >= 1 && k <= kGpuMaxK, "k must be in [1, ", kGpuMaxK, "], got ", k);
  if (rows == 0) return;
  DeviceGuard guard(device);
  Stream stream;
  std::vector<float> host(vals, vals + rows * cols);
  if (!select_min)
    for (auto& v : host) v = -v;
  DeviceBuffer<float> in(rows * cols), ok(rows * std::size_t(k));
  DeviceBuffer<std::uint32_t> ov(rows * std::size_t(k));
  in.upload(host.data(), host.size(), stream.get());
  select_k(in.data(), cols, nullptr, 0, 0, rows, cols, k, ok.data(), ov.data(), std::size_t(k),
           stream.get());
  std::vector<std::uint32_t> ids(rows * std::size_t(k));
  ok.download(out_vals, rows * std::size_t(k), stream.get());
  ov.download(ids.data(), ids.size(), stream.get());
  stream.sync();
  for (std::size_t i = 0; i < ids.size(); ++i) {
    const bool pad = ids[i] == kNoId || !(out_vals[i] < INFINITY);  // +inf counts as missing
    out_idx[i] = pad ? idx_t(-1) : idx_t(ids[i]);
    if (pad) out_vals[i] = INFINITY;
    if (!select_min) out_vals[i] = -out_vals[i];
  }
}

}  // namespace warpsearch
