// SPDX-FileCopyrightText: 2026 warpsearch contributors
// SPDX-License-Identifier: Apache-2.0
#pragma once
// Device-side entry points shared by the CUDA sources (all pointers are device
// pointers; every call is asynchronous on the given stream).
#include "cuda/common.cuh"
#include "warpsearch/types.hpp"

namespace warpsearch::detail::gpu {

/// Row-wise k smallest of keys (rows x cols, row stride ld_keys), sorted ascending.
/// Payload: ids[row * ld_ids + col] when ids is given, else col + id_offset.
/// Output rows have stride ld_out; positions past cols are (+inf, kNoId).
/// k <= 256: warp queues; k <= kGpuMaxK: radix select. Input and output may be
/// the same rows only on the radix path (k > 256).
void select_k(const float* keys, std::size_t ld_keys, const std::uint32_t* ids, std::size_t ld_ids,
              std::uint32_t id_offset, std::size_t rows, std::size_t cols, int k, float* out_keys,
              std::uint32_t* out_ids, std::size_t ld_out, cudaStream_t stream);
/// Radix path regardless of k (tests and merges in place).
void select_k_radix(const float* keys, std::size_t ld_keys, const std::uint32_t* ids,
                    std::size_t ld_ids, std::uint32_t id_offset, std::size_t rows, std::size_t cols,
                    int k, float* out_keys, std::uint32_t* out_ids, std::size_t ld_out,
                    cudaStream_t stream);

/// Vectors of an exact search: rows x d row-major, norms (L2 only), labels.
struct FlatView {
  const float* x = nullptr;
  const float* norms = nullptr;  // |x|^2 per row (L2), else unused
  const idx_t* labels = nullptr;
  std::size_t n = 0, d = 0;
  Metric metric = Metric::L2;
};

/// Exact k-NN (k <= kGpuMaxK) into D/I (public convention). allow: bitset over rows or null.
void flat_search(const FlatView& v, const float* q, std::size_t nq, int k,
                 const std::uint64_t* allow, float* D, idx_t* I, cudaStream_t stream);

/// |x_i|^2 for each row (L2 norms for the flat kernels).
void row_sq_norms(const float* x, std::size_t n, std::size_t d, float* out, cudaStream_t stream);
/// Per query: |q|^2 (L2), 1/|q| (cosine); nothing for IP.
void query_aux(const float* q, std::size_t nq, std::size_t d, Metric metric, float* out,
               cudaStream_t stream);

/// Reduced-precision copies for the matrix-unit pass (flat_mma.cu): rows padded to the
/// block tile, dimensions to 16, 2 bytes per value (fp16, or bf16).
std::size_t reduced_rows(std::size_t n);
std::size_t reduced_dim(std::size_t d);
void to_reduced(const float* x, std::size_t n, std::size_t d, bool bf16, void* out, std::size_t rows,
                cudaStream_t stream);
/// Exact k-NN whose first pass runs on the matrix units over xh (made by to_reduced from
/// v.x); the best kc (k <= kc <= kGpuMaxK) per query are re-ranked from v.x in fp32.
void flat_search_reduced(const FlatView& v, const void* xh, bool bf16, const float* q, std::size_t nq,
                         int k, int kc, const std::uint64_t* allow, float* D, idx_t* I,
                         cudaStream_t stream);

/// Results with nothing found: D = +inf (L2) or -inf (IP, cosine), I = -1, over count.
void pad_results(float* D, idx_t* I, std::size_t count, Metric metric, cudaStream_t stream);
/// D/I from internal (key, row) pairs: key +inf -> padding; labels map rows to ids.
void finalize_results(const float* keys, const std::uint32_t* rows, std::size_t nq, int k,
                      std::size_t ld_in, const idx_t* labels, Metric metric, float* D, idx_t* I,
                      cudaStream_t stream);

}  // namespace warpsearch::detail::gpu
