// SPDX-FileCopyrightText: 2026 warpsearch contributors
// SPDX-License-Identifier: Apache-2.0
// Graph search on the GPU: one thread block per query.
//
// 1. Greedy descent through the upper levels (when exported) to a start node.
// 2. Batched best-first search of the fixed-degree base graph: a sorted pool of
//    P candidates in shared memory; each step expands the `width` best unexpanded
//    pool entries at once, gathers their neighbours, drops visited ones (an open
//    addressing hash set in shared memory, rebuilt from the pool when half full),
//    computes exact distances (teams of 8 lanes per vector), sorts the new
//    candidates and merges them into the pool (bitonic). It stops when every
//    pool entry has been expanded, like HNSW's ef-bounded search.
// 3. With a filter (or removed points) filtered nodes are traversed but kept out
//    of a second sorted list of results, which receives only eligible candidates.
//    The pool is then the frontier alone: expanded entries leave it, so the walk
//    can cross regions where nothing is eligible (a filter correlated with the
//    data) instead of stopping once the P nearest nodes of any kind are expanded.
//    It stops, like the CPU's filtered walk, when the best unexpanded node is
//    farther than the ef-th eligible result (or the frontier is empty). Expanded
//    nodes live on only in the visited set, so a filtered walk that would have to
//    rebuild it (or runs out of steps) gives up instead of walking in circles: it
//    returns no results and the host redoes that query as an exact scan of the
//    allowed set.
#include "cuda/graph.cuh"
#include "cuda/warp_sort.cuh"
#include "warpsearch/errors.hpp"

namespace warpsearch::detail::gpu {
namespace {

constexpr int kThreads = 128;
constexpr int kTeam = 8;  // lanes per distance
constexpr int kTeams = kThreads / kTeam;

struct Layout {
  std::size_t qs, pool_k, pool_v, res_k, res_v, cand_k, cand_v, cand2_k, cand2_v, hash, total;
};

__host__ __device__ inline Layout make_layout(int d, int P, int CB, int hash_bits) {
  Layout l{};
  std::size_t o = 0;
  auto take = [&o](std::size_t bytes) {
    const std::size_t at = o;
    o += (bytes + 15) / 16 * 16;
    return at;
  };
  l.qs = take(std::size_t((d + 3) / 4 * 4) * 4);
  l.pool_k = take(std::size_t(P) * 4);
  l.pool_v = take(std::size_t(P) * 4);
  l.res_k = take(std::size_t(P) * 4);
  l.res_v = take(std::size_t(P) * 4);
  l.cand_k = take(std::size_t(CB) * 4);
  l.cand_v = take(std::size_t(CB) * 4);
  l.cand2_k = take(std::size_t(CB) * 4);
  l.cand2_v = take(std::size_t(CB) * 4);
  l.hash = take((std::size_t(1) << hash_bits) * 4);
  l.total = o;
  return l;
}

/// Distance from the query in shared memory to one vector; all lanes of the warp call,
/// the result is on every lane of the team.
__device__ __forceinline__ float team_dist(const GraphArgs& a, const float* qs, std::uint32_t slot,
                                           bool valid, int tl) {
  float s = 0.f;
  const bool l2 = a.metric == int(Metric::L2);
  if (valid) {
    const float* xv = a.x + std::size_t(slot) * std::size_t(a.d);
    if ((a.d & 3) == 0) {
      for (int c = tl * 4; c < a.d; c += kTeam * 4) {
        const float4 x4 = *reinterpret_cast<const float4*>(xv + c);
        const float4 q4 = *reinterpret_cast<const float4*>(qs + c);
        if (l2) {
          const float e0 = q4.x - x4.x, e1 = q4.y - x4.y, e2 = q4.z - x4.z, e3 = q4.w - x4.w;
          s = fmaf(e0, e0, fmaf(e1, e1, fmaf(e2, e2, fmaf(e3, e3, s))));
        } else {
          s = fmaf(q4.x, x4.x, fmaf(q4.y, x4.y, fmaf(q4.z, x4.z, fmaf(q4.w, x4.w, s))));
        }
      }
    } else {
      for (int c = tl; c < a.d; c += kTeam) {
        const float e = l2 ? qs[c] - xv[c] : 0.f;
        s = l2 ? fmaf(e, e, s) : fmaf(qs[c], xv[c], s);
      }
    }
  }
#pragma unroll
  for (int o = kTeam / 2; o > 0; o >>= 1) s += __shfl_xor_sync(kFull, s, o, kTeam);
  return l2 ? s : -s;
}

/// keys[i] = distance to ids[i] (kNoId -> +inf) for i < count. All threads call.
__device__ __forceinline__ void eval_list(const GraphArgs& a, const float* qs, const std::uint32_t* ids,
                                          float* keys, int count, int* evals) {
  const int team = int(threadIdx.x) / kTeam, tl = int(threadIdx.x) % kTeam;
  for (int base = 0; base < count; base += kTeams) {
    const int i = base + team;
    const std::uint32_t slot = i < count ? ids[i] : kNoId;
    const bool valid = slot != kNoId;
    const float dist = team_dist(a, qs, slot, valid, tl);
    if (tl == 0 && i < count) keys[i] = valid ? dist : INFINITY;
    if (tl == 0 && valid) atomicAdd(evals, 1);
  }
}

__device__ __forceinline__ bool hash_insert(std::uint32_t* h, int bits, std::uint32_t s, int* count) {
  const std::uint32_t mask = (1u << bits) - 1u;
  std::uint32_t i = (s * 2654435761u) >> (32 - bits);
  for (;;) {
    const std::uint32_t old = atomicCAS(&h[i], kNoId, s);
    if (old == kNoId) {
      atomicAdd(count, 1);
      return true;
    }
    if (old == s) return false;
    i = (i + 1u) & mask;
  }
}

/// pool <- best P of (pool, sorted candidates); both lists in shared memory.
__device__ __forceinline__ void merge_sorted(float* pk, std::uint32_t* pv, int P, const float* ck,
                                             const std::uint32_t* cv, int CB) {
  for (int i = int(threadIdx.x); i < P; i += kThreads) {
    const int j = P - 1 - i;
    if (j < CB && block_less<true>(ck[j], cv[j], pk[i], pv[i])) {
      pk[i] = ck[j];
      pv[i] = cv[j];
    }
  }
  block_clean<true>(pk, pv, P);
}

__global__ __launch_bounds__(kThreads) void graph_search_kernel(GraphArgs a) {
  WS_DYN_SMEM(smem);
  const Layout L = make_layout(a.d, a.P, a.CB, a.hash_bits);
  float* qs = reinterpret_cast<float*>(smem + L.qs);
  float* pool_k = reinterpret_cast<float*>(smem + L.pool_k);
  std::uint32_t* pool_v = reinterpret_cast<std::uint32_t*>(smem + L.pool_v);
  float* res_k = reinterpret_cast<float*>(smem + L.res_k);
  std::uint32_t* res_v = reinterpret_cast<std::uint32_t*>(smem + L.res_v);
  float* cand_k = reinterpret_cast<float*>(smem + L.cand_k);
  std::uint32_t* cand_v = reinterpret_cast<std::uint32_t*>(smem + L.cand_v);
  float* cand2_k = reinterpret_cast<float*>(smem + L.cand2_k);
  std::uint32_t* cand2_v = reinterpret_cast<std::uint32_t*>(smem + L.cand2_v);
  std::uint32_t* hash = reinterpret_cast<std::uint32_t*>(smem + L.hash);
  __shared__ std::uint32_t s_parents[kMaxWidth];
  __shared__ int s_np, s_hash_cnt, s_evals, s_expanded, s_changed, s_reset;
  __shared__ std::uint32_t s_cur;
  __shared__ float s_dcur, s_qscale;

  const int tid = int(threadIdx.x), lane = tid & 31, warp = tid >> 5;
  const std::size_t qi = blockIdx.x;
  const float* q = a.q + qi * std::size_t(a.d);
  const int H = 1 << a.hash_bits;
  const bool filtered = a.elig != nullptr;

  if (warp == 0) {
    float s = 0.f;
    for (int c = lane; c < a.d; c += 32) s = fmaf(q[c], q[c], s);
    for (int o = 16; o > 0; o >>= 1) s += __shfl_xor_sync(kFull, s, o);
    if (lane == 0) {
      s_qscale = (a.metric == int(Metric::Cosine) && s > 0.f) ? rsqrtf(s) : 1.f;
      s_hash_cnt = 0;
      s_evals = 0;
      s_expanded = 0;
    }
  }
  for (int i = tid; i < H; i += kThreads) hash[i] = kNoId;
  for (int i = tid; i < a.P; i += kThreads) {
    pool_k[i] = res_k[i] = INFINITY;
    pool_v[i] = res_v[i] = kNoId;
  }
  __syncthreads();
  for (int c = tid; c < (a.d + 3) / 4 * 4; c += kThreads) qs[c] = c < a.d ? q[c] * s_qscale : 0.f;
  if (tid == 0) cand_v[0] = std::uint32_t(a.entry < 0 ? kNoId : std::uint32_t(a.entry));
  __syncthreads();

  bool gave_up = false;  // filtered walks only; block-uniform
  if (a.entry >= 0) {  // block-uniform
    eval_list(a, qs, cand_v, cand_k, 1, &s_evals);
    __syncthreads();
    std::uint32_t cur = std::uint32_t(a.entry);
    float dcur = cand_k[0];
    for (int level = a.max_level; level >= 1 && a.up_off != nullptr; --level) {
      for (;;) {
        const std::uint32_t off = a.up_off[cur];
        for (int j = tid; j < a.up_R; j += kThreads)
          cand_v[j] = off == kNoId ? kNoId : a.up_links[std::size_t(off) + std::size_t(level - 1) * a.up_R + j];
        __syncthreads();
        eval_list(a, qs, cand_v, cand_k, a.up_R, &s_evals);
        __syncthreads();
        if (warp == 0) {
          float bk = INFINITY;
          std::uint32_t bv = kNoId;
          for (int j = lane; j < a.up_R; j += 32)
            if (pair_less(cand_k[j], cand_v[j], bk, bv)) {
              bk = cand_k[j];
              bv = cand_v[j];
            }
          for (int o = 16; o > 0; o >>= 1) {
            const float ok = __shfl_xor_sync(kFull, bk, o);
            const std::uint32_t ov = __shfl_xor_sync(kFull, bv, o);
            if (pair_less(ok, ov, bk, bv)) {
              bk = ok;
              bv = ov;
            }
          }
          if (lane == 0) {
            s_changed = bk < dcur;
            if (bk < dcur) {
              s_cur = bv;
              s_dcur = bk;
            }
          }
        }
        __syncthreads();
        const bool changed = s_changed != 0;
        if (changed) {
          cur = s_cur;
          dcur = s_dcur;
        }
        __syncthreads();  // s_changed and cand_v are rewritten next round
        if (!changed) break;
      }
    }
    if (tid == 0) {
      pool_k[0] = dcur;
      pool_v[0] = cur;
      if (bit_allowed(a.elig, cur)) {
        res_k[0] = dcur;
        res_v[0] = cur;
      }
      hash_insert(hash, a.hash_bits, cur, &s_hash_cnt);
    }
    __syncthreads();

    int it = 0;
    for (; it < a.max_iters; ++it) {
      if (warp == 0) {  // the best `width` unexpanded pool entries become parents
        int found = 0;
        for (int base = 0; base < a.P && found < a.width; base += 32) {
          const int e = base + lane;
          const std::uint32_t v = pool_v[e];
          const bool open = v != kNoId && (v & kExpanded) == 0;
          unsigned m = __ballot_sync(kFull, open);
          while (m != 0 && found < a.width) {
            const int b = __ffs(int(m)) - 1;
            if (lane == b) {
              s_parents[found] = v;
              pool_v[e] = v | kExpanded;
            }
            ++found;
            m &= m - 1u;
          }
        }
        if (lane == 0) {
          // Filtered: the frontier's best entry (pool[0]) against the ef-th result.
          const bool done = filtered && res_v[a.ef - 1] != kNoId && pool_k[0] > res_k[a.ef - 1];
          s_np = done ? 0 : found;
          // decided here, once: s_hash_cnt changes as soon as some thread starts inserting
          s_reset = s_hash_cnt + found * a.R > H / 2;
        }
      }
      __syncthreads();
      const int np = s_np;
      if (np == 0) break;
      if (filtered) {
        // The parents are the first np entries (every frontier entry is unexpanded):
        // they leave the pool; +inf in front of a sorted tail is bitonic, so one clean
        // pass sorts it again.
        for (int i = tid; i < np; i += kThreads) {
          pool_k[i] = INFINITY;
          pool_v[i] = kNoId;
        }
        block_clean<true>(pool_k, pool_v, a.P);
      }
      if (filtered && s_reset) {  // block-uniform: the visited set is full
        gave_up = true;
        break;
      }
      if (s_reset) {  // forget old visits; keep the pool and results
        for (int i = tid; i < H; i += kThreads) hash[i] = kNoId;
        __syncthreads();
        if (tid == 0) s_hash_cnt = 0;
        __syncthreads();
        for (int i = tid; i < a.P; i += kThreads) {
          if (pool_v[i] != kNoId) hash_insert(hash, a.hash_bits, pool_v[i] & ~kExpanded, &s_hash_cnt);
          if (res_v[i] != kNoId) hash_insert(hash, a.hash_bits, res_v[i], &s_hash_cnt);
        }
        __syncthreads();
      }
      const int m = np * a.R;
      for (int e = tid; e < a.CB; e += kThreads) {
        std::uint32_t s = kNoId;
        if (e < m) {
          const std::uint32_t p = s_parents[e / a.R];
          s = a.graph[std::size_t(p) * std::size_t(a.R) + std::size_t(e % a.R)];
          if (s != kNoId && (std::size_t(s) >= a.n || !hash_insert(hash, a.hash_bits, s, &s_hash_cnt)))
            s = kNoId;
        }
        cand_v[e] = s;
      }
      __syncthreads();
      eval_list(a, qs, cand_v, cand_k, m, &s_evals);
      for (int e = m + tid; e < a.CB; e += kThreads) cand_k[e] = INFINITY;
      __syncthreads();
      if (filtered) {
        for (int e = tid; e < a.CB; e += kThreads) {
          const bool ok = cand_v[e] != kNoId && bit_allowed(a.elig, cand_v[e]);
          cand2_k[e] = ok ? cand_k[e] : INFINITY;
          cand2_v[e] = ok ? cand_v[e] : kNoId;
        }
      }
      block_sort(cand_k, cand_v, a.CB);
      merge_sorted(pool_k, pool_v, a.P, cand_k, cand_v, a.CB);
      if (filtered) {
        block_sort(cand2_k, cand2_v, a.CB);
        merge_sorted(res_k, res_v, a.P, cand2_k, cand2_v, a.CB);
      }
      if (tid == 0) s_expanded += np;
      __syncthreads();
    }
    if (filtered && it >= a.max_iters) gave_up = true;
  }
  __syncthreads();
  const float* fk = filtered ? res_k : pool_k;
  const std::uint32_t* fv = filtered ? res_v : pool_v;
  for (int e = tid; e < a.k; e += kThreads) {
    float key = e < a.P && !gave_up ? fk[e] : INFINITY;
    std::uint32_t v = e < a.P ? fv[e] : kNoId;
    if (v == kNoId || !(key < INFINITY)) {
      key = INFINITY;
      v = kNoId;
    } else {
      v &= ~kExpanded;
    }
    a.out_k[qi * std::size_t(a.k) + std::size_t(e)] = key;
    a.out_v[qi * std::size_t(a.k) + std::size_t(e)] = v;
  }
  if (tid == 0) {
    atomicAdd(&a.counters[0], (unsigned long long)s_evals);
    atomicAdd(&a.counters[1], (unsigned long long)s_expanded);
  }
}

}  // namespace

std::size_t graph_smem_bytes(int d, int P, int CB, int hash_bits) {
  return make_layout(d, P, CB, hash_bits).total;
}

void graph_search(const GraphArgs& a, std::size_t nq, cudaStream_t stream) {
  if (nq == 0) return;
  const std::size_t smem = graph_smem_bytes(a.d, a.P, a.CB, a.hash_bits);
  auto* kern = &graph_search_kernel;
  WS_CUDA_CHECK(cudaFuncSetAttribute(kern, cudaFuncAttributeMaxDynamicSharedMemorySize, int(smem)));
  WS_EXPECTS(nq <= std::size_t(0x7fffffff), "GPU graph search: too many queries in one call");
  WS_LAUNCH(kern, dim3(unsigned(nq)), dim3(kThreads), smem, stream, a);
  WS_CUDA_CHECK_LAUNCH();
}

}  // namespace warpsearch::detail::gpu
