// SPDX-FileCopyrightText: 2026 warpsearch contributors
// SPDX-License-Identifier: Apache-2.0
#pragma once
// Kernels of the GPU IVF-PQ search (ivf_pq_kernels.cu), driven by gpu_ivf_pq.cu.
//
// A query's probed cells are laid end to end in one workspace row: the cell of probe p
// owns columns [row_off[p], row_off[p + 1]). One thread block per (query, probe) builds
// the cell's lookup table in shared memory and writes the distance of every code of the
// cell to its columns (+inf for filtered vectors); select-k then keeps the best of the
// row and ivf_slots turns columns back into slots. For up to 256 candidates a fused
// kernel keeps the best of each cell in warp queues instead (block-level top-k), and
// select-k merges the nprobe lists of a query.
#include "cuda/common.cuh"
#include "warpsearch/types.hpp"

namespace warpsearch::detail::gpu {

struct IvfScanArgs {
  const float* q = nullptr;            // chunk queries, nq x d (normalized for cosine)
  std::size_t nq = 0;
  int d = 0, m = 0, nbits = 8, nprobe = 0;
  bool ip = false;                     // IP / cosine: LUT of -q.C plus -q.centroid
  const float* centroids = nullptr;    // nlist x d residual bases
  const float* codebook = nullptr;     // m x ksub x dsub
  const std::uint8_t* codes = nullptr; // slot-major; 4-bit codes two per byte (low nibble first)
  int code_bytes = 0;
  const std::uint64_t* list_off = nullptr;  // nlist + 1
  const idx_t* probes = nullptr;       // nq x nprobe cells (-1: none)
  const std::uint64_t* row_off = nullptr;   // nq x (nprobe + 1) columns of each probe
  const std::uint64_t* allow = nullptr;     // bitset over slots or null
  float* out = nullptr;                // nq rows of ld floats
  std::size_t ld = 0;
};

/// Shared memory of one scan block.
std::size_t ivf_scan_smem(int d, int m, int nbits, bool fp16);
/// Fills the workspace rows of a chunk (grid: nprobe x nq blocks).
void ivf_scan(const IvfScanArgs& a, bool fp16, cudaStream_t stream);
/// Shared memory of one fused scan + top-k block (kc <= 256).
std::size_t ivf_scan_topk_smem(int d, int m, int nbits, bool fp16, int kc);
/// Fused scan with block-level top-k (kc <= 256): the best kc (key, slot) of each
/// (query, probe) go to out row q * nprobe + p (stride kc; +inf / kNoId padding).
void ivf_scan_topk(const IvfScanArgs& a, bool fp16, int kc, float* out_k, std::uint32_t* out_v,
                   cudaStream_t stream);
/// Columns chosen by select-k (keys, cols: nq x kc) become slots in place (kNoId and
/// +inf for none); with row_off null the columns are slots already (fused path).
void ivf_slots(float* keys, std::uint32_t* cols, std::size_t nq, int kc, int nprobe,
               const std::uint64_t* row_off, const idx_t* probes, const std::uint64_t* list_off,
               cudaStream_t stream);

/// |q| of each query into norms; with out given (cosine) the rows normalized into out
/// and norms 1 (0 for a zero row).
void ivf_prepare_queries(const float* q, std::size_t nq, int d, float* out, float* norms, cudaStream_t stream);
/// out = R x for each row x of the nq queries (R: d x d row-major; out may not alias x).
void ivf_rotate(const float* x, std::size_t nq, int d, const float* R, float* out, cudaStream_t stream);
/// probes[i][p] = p for p < np: every cell for every query.
void ivf_all_cells(idx_t* probes, std::size_t nq, int np, cudaStream_t stream);
/// Adaptive probing (ProbeGaps): the cells of each row of the coarse search (dist: its D,
/// similarities for inner product) past gap (inner product: gap * norms[i]) beyond the
/// row's first become -1.
void ivf_cut_probes(const float* dist, idx_t* probes, std::size_t nq, int np, float gap, const float* norms,
                    bool ip, cudaStream_t stream);
/// row_off (nq x (np + 1)): the columns of each probe in its query's row; adds to
/// counters[0] the codes to score, to counters[1] the non-empty cells, and raises
/// counters[2] to the longest row.
void ivf_row_offsets(const idx_t* probes, std::size_t nq, int np, const std::uint64_t* list_off,
                     std::uint64_t* row_off, unsigned long long* counters, cudaStream_t stream);

/// Exact re-rank of the candidates from the refine store.
struct IvfRefineArgs {
  const float* q = nullptr;              // nq x d queries (normalized for cosine, unrotated)
  std::size_t nq = 0;
  int d = 0, kc = 0;
  const std::uint32_t* rows = nullptr;   // nq x kc candidate slots (kNoId: none)
  const float* keys = nullptr;           // nq x kc PQ keys (+inf: none)
  const std::uint8_t* recs = nullptr;    // refine records, slot-major
  std::size_t rec_bytes = 0;
  int kind = 0;                          // Refine
  const float* sq_min = nullptr;         // SQ8: x ~ sq_min + sq_scale * code
  const float* sq_scale = nullptr;
  bool ip = false;
  float* out = nullptr;                  // nq x kc exact keys (L2: squared distance; IP: -dot)
  unsigned long long* evals = nullptr;   // += candidates re-ranked
};
void ivf_refine(const IvfRefineArgs& a, cudaStream_t stream);

}  // namespace warpsearch::detail::gpu
