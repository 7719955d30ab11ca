// SPDX-FileCopyrightText: 2026 warpsearch contributors
// SPDX-License-Identifier: Apache-2.0
#pragma once
// Launch parameters of the GPU graph search (device pointers).
#include "cuda/internal.cuh"

namespace warpsearch::detail::gpu {

constexpr int kMaxWidth = 4;  // parents expanded per step

struct GraphArgs {
  const std::uint32_t* graph = nullptr;  // n x R, kNoId = empty
  std::size_t n = 0;
  int R = 0;
  const float* x = nullptr;  // n x d
  int d = 0;
  int metric = 0;
  const std::uint64_t* elig = nullptr;  // slots that may be returned; null: all
  std::int64_t entry = -1;
  int max_level = 0;
  const std::uint32_t* up_off = nullptr;  // per slot offset into up_links (kNoId: none)
  const std::uint32_t* up_links = nullptr;
  int up_R = 0;
  const float* q = nullptr;
  int k = 0;
  int P = 32;          // pool size: power of two >= max(ef, k, 32)
  int ef = 32;         // filtered walks stop once this many eligible results beat the frontier (<= P)
  int width = 1;       // parents per step (<= kMaxWidth)
  int CB = 32;         // candidate buffer: power of two >= max(width * R, up_R)
  int hash_bits = 12;  // visited set of 2^hash_bits slots
  int max_iters = 1;
  float* out_k = nullptr;  // nq x k keys (smaller is closer)
  std::uint32_t* out_v = nullptr;
  unsigned long long* counters = nullptr;  // [0] distance evaluations, [1] expansions
};

std::size_t graph_smem_bytes(int d, int P, int CB, int hash_bits);
void graph_search(const GraphArgs& a, std::size_t nq, cudaStream_t stream);

}  // namespace warpsearch::detail::gpu
