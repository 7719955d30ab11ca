// SPDX-FileCopyrightText: 2026 warpsearch contributors
// SPDX-License-Identifier: Apache-2.0
#pragma once
/**
 * @brief IVF-PQ index (CPU): a k-means coarse quantizer splits the space into nlist
 * cells; each vector is stored in its cell as the product-quantized code of its
 * residual (vector minus cell centroid).
 *
 * Search probes the nprobe nearest cells. 8-bit codes are scored from a float lookup
 * table; 4-bit codes by fast scan (uint8 tables in SIMD registers, byte shuffles,
 * uint16 sums). With a refine store (sq8, fp16 or fp32 copies of the vectors) the best
 * k * refine_factor candidates are re-ranked with exact distances.
 *
 * train() must run before add(). Concurrent searches are safe; writes are exclusive.
 *
 * @code
 * warpsearch::IvfPqParams p; p.nlist = 1024; p.m = 64; p.nbits = 4;
 * p.refine = warpsearch::Refine::FP32;
 * warpsearch::IvfPqIndex idx(128, warpsearch::Metric::L2, p);
 * idx.train(x, n);
 * idx.add(x, n, nullptr);
 * warpsearch::IvfSearchParams sp; sp.nprobe = 32;
 * idx.search_ivf(q, nq, {}, sp, D, I, nullptr);
 * @endcode
 */
#include <memory>
#include <string>

#include "warpsearch/gpu.hpp"
#include "warpsearch/index.hpp"

namespace warpsearch {

struct IvfPqParams {
  int nlist = 1024;                   ///< coarse cells
  int m = 0;                          ///< sub-quantizers; 0: dim/2 (dim when dim is odd)
  int nbits = 8;                      ///< 4 (fast scan) or 8
  Refine refine = Refine::None;
  std::uint64_t seed = 0;
  int kmeans_iters = 10;              ///< coarse k-means iterations (faiss's IVF default)
  int max_points_per_centroid = 256;  ///< coarse training sample cap
  /// Rotation before PQ (non-parametric OPQ: principal axes grouped so that the
  /// sub-spaces share the variance): 1 on, 0 off, -1 (auto) on when it ranks a
  /// validation set of training rows better by PQ distances (at least 1 more true
  /// neighbour in 100 at the re-rank depth; auto: dim <= 1024, where the
  /// eigen-decomposition stays cheap).
  int opq = -1;
};

struct IvfSearchParams {
  /// Cells visited per query: exactly nprobe (adaptive = false), or on average (adaptive:
  /// among its 2 * nprobe nearest cells a query visits those within a centroid-distance
  /// gap of its nearest one, the gap calibrated at training so that training rows visit
  /// nprobe on average; indexes without a calibration, and nprobe > 512, probe exactly).
  int nprobe = 16;
  int refine_factor = 4;  ///< re-rank k * refine_factor candidates
  bool adaptive = true;
};

/** @brief Memory of an IVF-PQ index of n vectors, by part (see IvfPqIndex::memory_usage). */
struct IvfPqMemory {
  std::size_t codes = 0, ids = 0, refine = 0, id_map = 0, centroids = 0, total = 0;
};

namespace detail {
struct IvfPqState;
}

class IvfPqIndex final : public Index {
 public:
  IvfPqIndex(int dim, Metric metric, const IvfPqParams& params);
  ~IvfPqIndex() override;

  /** @brief Trains the coarse quantizer and the PQ codebooks on n vectors (n >= nlist).
   *  Retraining an index that holds vectors is an error. device >= 0: the assignment
   *  steps of the coarse k-means run on that CUDA device (the PQ codebooks are trained
   *  on the CPU). */
  void train(const float* x, std::size_t n, int device = -1);
  bool is_trained() const;
  const IvfPqParams& params() const;

  std::size_t size() const override;
  std::string type_name() const override { return "ivf_pq"; }
  void add(const float* x, std::size_t n, const idx_t* ids) override;
  std::size_t remove(const idx_t* ids, std::size_t n) override;
  /** @brief Searches with the defaults of set_search_defaults; params.rerank > 0 sets the
   *  number of re-ranked candidates. */
  void search(const float* q, std::size_t nq, const SearchParams& params, float* D, idx_t* I,
              SearchStats* stats) const override;
  void search_ivf(const float* q, std::size_t nq, const SearchParams& params,
                  const IvfSearchParams& ivf, float* D, idx_t* I, SearchStats* stats) const;
  void set_search_defaults(const IvfSearchParams& p);
  void verify() const override;
  std::size_t mapped_bytes() const override;
  void save(const std::string& path) const override;
  std::size_t memory_usage() const override;
  bool contains(idx_t id) const override;
  std::vector<idx_t> ids() const override;
  /** @brief The refine copy when there is one, else the PQ reconstruction. */
  std::vector<bool> reconstruct(const idx_t* ids, std::size_t n, float* out) const override;

  /** @brief Coarse centroids (nlist x dim), empty before training. */
  std::vector<float> centroids() const;
  /** @brief PQ codebook (m x ksub x dsub), empty before training. */
  std::vector<float> pq_codebook() const;
  /** @brief OPQ rotation R (row-major dim x dim; the codebooks see R times a residual),
   *  empty when the index has none. */
  std::vector<float> rotation() const;
  /** @brief Adaptive probing calibration: pairs (nprobe, gap) (see IvfSearchParams),
   *  empty when the index probes a fixed number of cells. */
  std::vector<float> probe_gaps() const;
  /** @brief Number of vectors in each cell. */
  std::vector<std::size_t> list_sizes() const;

  /** @brief Memory of an index of n vectors with these parameters (memory_usage model).
   *  with_id_map: count the id map, which exists once ids are looked up (explicit ids in
   *  add, remove, contains, reconstruct, id-list filters). */
  static IvfPqMemory estimate_memory(std::size_t n, int dim, const IvfPqParams& params,
                                     Metric metric = Metric::L2, bool with_id_map = false);
  static std::unique_ptr<IvfPqIndex> load_from(const void* reader);

  /** @brief Copies the index (codes, centroids, codebook, ids, OPQ rotation and refine
   *  store) to a CUDA device: a snapshot, later writes are not reflected. Throws
   *  std::invalid_argument in a build without CUDA. */
  std::unique_ptr<GpuIvfPqData> to_device(int device) const;
  /**
   * @brief search_ivf on the GPU copy made by to_device of this (since unchanged) index:
   * the same plan (filters, the exhaustive plan of small allowed sets, adaptive probing),
   * run on the device from end to end. Codes are scored from float (or fp16) tables, so
   * 4-bit codes need no re-rank; with a refine store the best kc (at most kGpuMaxK) PQ
   * candidates are re-ranked on the device. With MemSpace::Device, q, D and I are device
   * pointers.
   */
  void search_gpu(const GpuIvfPqData& dev, const float* q, std::size_t nq, const SearchParams& params,
                  const IvfSearchParams& ivf, LutType lut, float* D, idx_t* I, SearchStats* stats,
                  MemSpace space = MemSpace::Host) const;

 private:
  // What a search does, shared by the CPU and GPU paths (call with the index lock held):
  // candidates kept for re-ranking, slot offsets of the lists, the allow bitset over
  // slots of an active filter, and whether the allowed set is small enough to search
  // exhaustively (every cell).
  // nprobe cells considered per query, of which those past gap (when >= 0) are dropped.
  struct SearchPlan {
    std::size_t kc = 0, nprobe = 0, allowed = 0;
    float gap = -1.f;
    std::vector<std::size_t> base;
    Bitset allow_bits;
    bool brute = false;
    const std::uint64_t* allow() const { return allow_bits.empty() ? nullptr : allow_bits.data(); }
  };
  SearchPlan plan_search(const SearchParams& params, const IvfSearchParams& ivf) const;
  // Allow bitset over slots (lists concatenated, list l from base[l]) of an active
  // filter, and the number of allowed slots. Call with the index lock held.
  Bitset allow_slots(const Filter& f, const std::vector<std::size_t>& base, std::size_t& allowed) const;

  std::unique_ptr<detail::IvfPqState> s_;
};

}  // namespace warpsearch
