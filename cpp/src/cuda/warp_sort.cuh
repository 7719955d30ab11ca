// SPDX-FileCopyrightText: 2026 warpsearch contributors
// SPDX-License-Identifier: Apache-2.0
#pragma once
// Sorting networks for top-k on the GPU.
//
// Warp level: a list of K = N*32 (key, id) pairs lives in registers, element e at
// lane e % 32, register e / 32. Bitonic sort and merge exchange across lanes with
// shuffles (strides < 32) and inside a lane between registers (strides >= 32), so
// every register index is a compile-time constant once the loops are unrolled.
//
// WarpQueue: a sorted top-K list plus an insertion buffer, both in shared memory
// and owned by one warp. Candidates under the threshold (the current k-th best)
// are appended to the buffer; a full buffer is sorted and merged into the list.
// After the first few merges almost nothing passes the threshold, so the common
// cost per candidate is one compare and one ballot.
//
// Block level: bitonic sort of a power-of-two array in shared memory.
#include "cuda/common.cuh"

namespace warpsearch::detail::gpu {

__device__ __forceinline__ void cx_lane(float& k, std::uint32_t& v, int j, bool keep_min) {
  const float ok = __shfl_xor_sync(kFull, k, j);
  const std::uint32_t ov = __shfl_xor_sync(kFull, v, j);
  const bool other_less = pair_less(ok, ov, k, v);
  if (other_less == keep_min) {
    k = ok;
    v = ov;
  }
}

__device__ __forceinline__ void cx_reg(float& ka, std::uint32_t& va, float& kb, std::uint32_t& vb,
                                       bool ascending) {
  const bool swap = ascending ? pair_less(kb, vb, ka, va) : pair_less(ka, va, kb, vb);
  if (swap) {
    const float tk = ka;
    ka = kb;
    kb = tk;
    const std::uint32_t tv = va;
    va = vb;
    vb = tv;
  }
}

/// One bitonic stage (block size s, stride j) over the register list.
template <int N>
__device__ __forceinline__ void warp_stage(float (&k)[N], std::uint32_t (&v)[N], int s, int j) {
  const int lane = lane_id();
  if (j >= 32) {
    const int jr = j >> 5;
#pragma unroll
    for (int i = 0; i < N; ++i)
      if ((i & jr) == 0 && (i | jr) < N) cx_reg(k[i], v[i], k[i | jr], v[i | jr], ((i * 32) & s) == 0);
  } else {
#pragma unroll
    for (int i = 0; i < N; ++i) {
      const bool ascending = (((i * 32) + lane) & s) == 0;
      const bool lower = (lane & j) == 0;
      cx_lane(k[i], v[i], j, lower == ascending);
    }
  }
}

/// Sorts the K = N*32 pairs of the warp ascending.
template <int N>
__device__ __forceinline__ void warp_sort(float (&k)[N], std::uint32_t (&v)[N]) {
#pragma unroll
  for (int s = 2; s <= N * 32; s <<= 1) {
#pragma unroll
    for (int j = s >> 1; j > 0; j >>= 1) warp_stage<N>(k, v, s, j);
  }
}

/// Sorts a bitonic sequence ascending.
template <int N>
__device__ __forceinline__ void warp_clean(float (&k)[N], std::uint32_t (&v)[N]) {
  // s = 2K: every element is in the ascending half
#pragma unroll
  for (int j = N * 16; j > 0; j >>= 1) warp_stage<N>(k, v, N * 64, j);
}

/// l <- the K smallest of l and b (both sorted ascending), sorted ascending.
template <int N>
__device__ __forceinline__ void warp_merge(float (&lk)[N], std::uint32_t (&lv)[N], const float (&bk)[N],
                                           const std::uint32_t (&bv)[N]) {
#pragma unroll
  for (int i = 0; i < N; ++i) {
    // b reversed: element K-1-e sits at lane 31-lane, register N-1-i
    const float ok = __shfl_xor_sync(kFull, bk[N - 1 - i], 31);
    const std::uint32_t ov = __shfl_xor_sync(kFull, bv[N - 1 - i], 31);
    if (pair_less(ok, ov, lk[i], lv[i])) {
      lk[i] = ok;
      lv[i] = ov;
    }
  }
  warp_clean<N>(lk, lv);
}

/// Loads K entries of a list in shared memory (positions >= count read as empty).
template <int N>
__device__ __forceinline__ void warp_load(const float* sk, const std::uint32_t* sv, int count,
                                          float (&k)[N], std::uint32_t (&v)[N]) {
  const int lane = lane_id();
#pragma unroll
  for (int i = 0; i < N; ++i) {
    const int e = i * 32 + lane;
    k[i] = e < count ? sk[e] : INFINITY;
    v[i] = e < count ? sv[e] : kNoId;
  }
}

template <int N>
__device__ __forceinline__ void warp_store(float* sk, std::uint32_t* sv, const float (&k)[N],
                                           const std::uint32_t (&v)[N]) {
  const int lane = lane_id();
#pragma unroll
  for (int i = 0; i < N; ++i) {
    sk[i * 32 + lane] = k[i];
    sv[i * 32 + lane] = v[i];
  }
}

/// Key at position pos (warp-uniform) of a register list.
template <int N>
__device__ __forceinline__ float warp_key_at(const float (&k)[N], int pos) {
  float t = INFINITY;
#pragma unroll
  for (int i = 0; i < N; ++i)
    if (i == (pos >> 5)) t = k[i];
  return __shfl_sync(kFull, t, pos & 31);
}

/// A warp's top-K queue in shared memory: sorted list + insertion buffer.
template <int N>
struct WarpQueue {
  static constexpr int K = N * 32;
  float lk[K];
  std::uint32_t lv[K];
  float bk[K];
  std::uint32_t bv[K];
};

/// The warp-uniform running state of a queue, kept in registers while a warp works on it.
struct QueueState {
  int count;        // entries in the buffer
  float threshold;  // key a candidate must beat (the k-th best so far)
};

template <int N>
__device__ __forceinline__ void queue_init(WarpQueue<N>& q) {
  const int lane = lane_id();
#pragma unroll
  for (int i = 0; i < N; ++i) {
    q.lk[i * 32 + lane] = INFINITY;
    q.lv[i * 32 + lane] = kNoId;
  }
  __syncwarp();
}

/// Merges the buffer into the list and updates the threshold (k <= K).
template <int N>
__device__ __forceinline__ void queue_flush(WarpQueue<N>& q, QueueState& st, int k) {
  __syncwarp();  // buffer entries were written by other lanes
  float bk[N], lk[N];
  std::uint32_t bv[N], lv[N];
  warp_load<N>(q.bk, q.bv, st.count, bk, bv);
  warp_load<N>(q.lk, q.lv, N * 32, lk, lv);
  warp_sort<N>(bk, bv);
  warp_merge<N>(lk, lv, bk, bv);
  warp_store<N>(q.lk, q.lv, lk, lv);
  st.threshold = warp_key_at<N>(lk, k - 1);
  st.count = 0;
  __syncwarp();
}

/// Offers one candidate per lane (all 32 lanes call; pass +inf for none).
template <int N>
__device__ __forceinline__ void queue_offer(WarpQueue<N>& q, QueueState& st, int k, float key,
                                            std::uint32_t id) {
  const bool hit = key < st.threshold;
  const unsigned m = __ballot_sync(kFull, hit);
  if (m == 0) return;
  const int lane = lane_id();
  if (hit) {
    const int pos = st.count + __popc(m & ((1u << lane) - 1u));
    q.bk[pos] = key;
    q.bv[pos] = id;
  }
  st.count += __popc(m);
  if (st.count > N * 32 - 32) queue_flush<N>(q, st, k);
}

/// Merges another warp's sorted list into q's list (both full-size, sorted).
template <int N>
__device__ __forceinline__ void queue_merge_list(WarpQueue<N>& q, const WarpQueue<N>& other) {
  float bk[N], lk[N];
  std::uint32_t bv[N], lv[N];
  warp_load<N>(other.lk, other.lv, N * 32, bk, bv);
  warp_load<N>(q.lk, q.lv, N * 32, lk, lv);
  warp_merge<N>(lk, lv, bk, bv);
  warp_store<N>(q.lk, q.lv, lk, lv);
  __syncwarp();
}

/// Id as compared by the block sorts: with kStrip the top bit (a flag) is ignored.
template <bool kStrip>
__device__ __forceinline__ std::uint32_t cmp_id(std::uint32_t v) {
  return kStrip ? (v & ~kExpanded) : v;
}
template <bool kStrip>
__device__ __forceinline__ bool block_less(float ka, std::uint32_t va, float kb, std::uint32_t vb) {
  return pair_less(ka, cmp_id<kStrip>(va), kb, cmp_id<kStrip>(vb));
}

/// Block-wide bitonic sort (ascending) of n (a power of two) pairs in shared memory.
/// Every thread of the block calls it; it starts and ends with a barrier.
template <bool kStrip = false>
__device__ __forceinline__ void block_sort(float* k, std::uint32_t* v, int n) {
  __syncthreads();
  for (int s = 2; s <= n; s <<= 1) {
    for (int j = s >> 1; j > 0; j >>= 1) {
      for (int i = int(threadIdx.x); i < n; i += int(blockDim.x)) {
        const int p = i ^ j;
        if (p > i) {
          const bool ascending = (i & s) == 0;
          if (ascending == block_less<kStrip>(k[p], v[p], k[i], v[i])) {
            const float tk = k[i];
            k[i] = k[p];
            k[p] = tk;
            const std::uint32_t tv = v[i];
            v[i] = v[p];
            v[p] = tv;
          }
        }
      }
      __syncthreads();
    }
  }
}

/// Block-wide: sorts a bitonic sequence of n pairs ascending.
template <bool kStrip = false>
__device__ __forceinline__ void block_clean(float* k, std::uint32_t* v, int n) {
  __syncthreads();
  for (int j = n >> 1; j > 0; j >>= 1) {
    for (int i = int(threadIdx.x); i < n; i += int(blockDim.x)) {
      const int p = i ^ j;
      if (p > i && block_less<kStrip>(k[p], v[p], k[i], v[i])) {
        const float tk = k[i];
        k[i] = k[p];
        k[p] = tk;
        const std::uint32_t tv = v[i];
        v[i] = v[p];
        v[p] = tv;
      }
    }
    __syncthreads();
  }
}

}  // namespace warpsearch::detail::gpu
