// SPDX-FileCopyrightText: 2026 warpsearch contributors
// SPDX-License-Identifier: Apache-2.0
#pragma once
/**
 * @brief GPU search, behind a CUDA-free seam.
 *
 * Nothing here needs a CUDA header. A build without CUDA links stubs whose
 * every entry point throws std::invalid_argument ("warpsearch was built
 * without CUDA"); a CUDA build reports failures of the runtime as CudaError.
 *
 * Results follow the convention of Index::search: squared L2 ascending, or
 * similarity (IP, cosine) descending; missing results are id -1 with distance
 * +inf (L2) or -inf (IP, cosine).
 *
 * Pointers are host pointers unless a call takes a MemSpace: with
 * MemSpace::Device the queries and the outputs are device pointers on the
 * data's device (no host round trip).
 *
 * @code
 * warpsearch::GpuFlatData dev(0);
 * dev.upload(x, n, d, warpsearch::Metric::L2, labels);   // copies once
 * dev.search(q, nq, 10, nullptr, D, I);                  // exact k-NN on device 0
 * @endcode
 */
#include <cstddef>
#include <cstdint>
#include <memory>

#include "warpsearch/types.hpp"

namespace warpsearch {

/** @brief Where the query and output pointers of a GPU search live. */
enum class MemSpace : int { Host = 0, Device = 1 };

/** @brief Largest k of the GPU select-k and of GPU exact search. */
inline constexpr int kGpuMaxK = 2048;
/** @brief Largest k (and candidate list) of GPU graph search. */
inline constexpr int kGpuMaxGraphK = 1024;

/**
 * @brief Arithmetic of GPU exact search: FP32 throughout, or a first pass on the matrix
 * units (tensor cores) over an fp16 or bf16 copy of the vectors whose best candidates
 * are re-ranked with fp32 distances.
 */
enum class GpuPrecision : int { FP32 = 0, FP16 = 1, BF16 = 2 };

/** @brief Counters of one GPU search. */
struct GpuSearchStats {
  std::uint64_t distance_evals = 0;
  std::uint64_t nodes_visited = 0;
  std::uint64_t allowed = 0;
  int plan = 0;  ///< 0 graph, 1 brute force over the allowed set
};

namespace detail {
struct GpuFlatState;
struct GpuGraphState;
struct GpuIvfPqState;
struct GpuAssignState;
}  // namespace detail

/**
 * @brief Device-resident copy of an exact (flat) index: vectors, norms, labels.
 * Freed (deterministically) by the destructor.
 */
class GpuFlatData {
 public:
  explicit GpuFlatData(int device);
  ~GpuFlatData();
  GpuFlatData(const GpuFlatData&) = delete;
  GpuFlatData& operator=(const GpuFlatData&) = delete;

  /**
   * @brief Copies n row-major vectors of dimension d (host) and their labels.
   * For Metric::Cosine the rows must already be normalized.
   */
  void upload(const float* x, std::size_t n, std::size_t d, Metric metric, const idx_t* labels);
  /**
   * @brief Exact k-NN (k <= kGpuMaxK). allow is a host bitset over rows (bit r:
   * row r may be returned) or null. D and I are nq*k row-major.
   */
  void search(const float* q, std::size_t nq, int k, const std::uint64_t* allow, float* D,
              idx_t* I, MemSpace space = MemSpace::Host, GpuSearchStats* stats = nullptr) const;
  /**
   * @brief Precision of later searches. FP16 / BF16 keep a 2-byte copy of the vectors
   * on the device (made now, and by every upload) and re-rank min(k * rerank_factor,
   * kGpuMaxK) candidates per query in fp32; FP32 frees the copy.
   */
  void set_precision(GpuPrecision p, int rerank_factor = 4);
  GpuPrecision precision() const;

  int device() const;
  std::size_t size() const;
  std::size_t dim() const;
  /** @brief Bytes of device memory held. */
  std::size_t memory_usage() const;

 private:
  std::unique_ptr<detail::GpuFlatState> s_;
};

/** @brief A fixed-degree graph with its vectors, as uploaded by HnswIndex::to_device. */
struct GraphView {
  std::size_t n = 0;                      ///< slots (rows of graph and vectors)
  std::size_t degree = 0;                 ///< R: columns of graph
  const std::uint32_t* graph = nullptr;   ///< n x R neighbours, UINT32_MAX = empty
  std::size_t d = 0;
  const float* vectors = nullptr;         ///< n x d (normalized for cosine)
  const idx_t* labels = nullptr;          ///< n labels
  const std::uint64_t* live = nullptr;    ///< bitset: slots that may be returned (null: all)
  Metric metric = Metric::L2;
  std::int64_t entry = -1;                ///< entry slot at the top level (-1: empty)
  int max_level = 0;
  /** Upper levels (optional): per slot an offset into upper_links (UINT32_MAX: none);
   *  a node's level l >= 1 list is upper_links[off + (l-1)*upper_degree .. +upper_degree). */
  const std::uint32_t* upper_offsets = nullptr;
  const std::uint32_t* upper_links = nullptr;
  std::size_t upper_links_size = 0;
  std::size_t upper_degree = 0;
};

/**
 * @brief Device-resident graph for batched best-first search: one thread block
 * per query, hashed visited set in shared memory, exact distances.
 */
class GpuGraphData {
 public:
  explicit GpuGraphData(int device);
  ~GpuGraphData();
  GpuGraphData(const GpuGraphData&) = delete;
  GpuGraphData& operator=(const GpuGraphData&) = delete;

  void upload(const GraphView& g);
  /**
   * @brief Approximate k-NN with a candidate list of max(ef, k) (<= kGpuMaxGraphK).
   * allow is a host bitset over slots or null; filtered nodes are traversed but
   * never returned. A small allowed set is searched exactly instead.
   */
  void search(const float* q, std::size_t nq, int k, int ef, const std::uint64_t* allow,
              float* D, idx_t* I, MemSpace space = MemSpace::Host,
              GpuSearchStats* stats = nullptr) const;

  int device() const;
  std::size_t size() const;  ///< live slots
  std::size_t memory_usage() const;

 private:
  std::unique_ptr<detail::GpuGraphState> s_;
};

/** @brief The parts of a trained IVF-PQ index that its GPU search needs (host pointers). */
struct IvfPqView {
  std::size_t n = 0;      ///< vectors, lists concatenated in order
  std::size_t d = 0;
  std::size_t nlist = 0;
  std::size_t m = 0;      ///< sub-quantizers
  int nbits = 8;          ///< 4 or 8
  Metric metric = Metric::L2;
  const float* probe_centroids = nullptr;  ///< nlist x d: the cells (unit rows for IP, cosine)
  const float* centroids = nullptr;        ///< nlist x d: residual bases
  const float* codebook = nullptr;         ///< m x 2^nbits x (d / m)
  const std::size_t* list_offsets = nullptr;  ///< nlist + 1: list l holds slots [off[l], off[l+1])
  const std::uint8_t* codes = nullptr;     ///< n x m unpacked codes, one byte per sub-code
  const idx_t* ids = nullptr;              ///< n: the id of each slot
  /// OPQ: row-major d x d rotation R (the codebooks and centroids see R x), or null.
  const float* rotation = nullptr;
  Refine refine = Refine::None;            ///< exact re-rank store of every slot
  std::size_t refine_bytes = 0;            ///< bytes of one record
  const std::uint8_t* refine_codes = nullptr;  ///< n x refine_bytes
  const float* sq_min = nullptr;           ///< refine SQ8: x ~ sq_min + sq_scale * code (d each)
  const float* sq_scale = nullptr;
};

/** @brief How one GPU IVF-PQ search runs (the host index plans it). */
struct GpuIvfPlan {
  int k = 10;           ///< results per query
  int kc = 10;          ///< PQ candidates kept per query (k <= kc <= kGpuMaxK; kc = k without refine store)
  int nprobe = 1;       ///< cells considered per query (every cell: the exhaustive plan)
  float gap = -1.f;     ///< >= 0: adaptive probing (ProbeGaps); < 0: nprobe fixed
  const std::uint64_t* allow = nullptr;  ///< host bitset over slots, or null
};

/** @brief Table precision of the GPU IVF-PQ scan (fp16 halves its shared memory). */
enum class LutType : int { FP32 = 0, FP16 = 1 };

/**
 * @brief Device-resident IVF-PQ index: codes, centroids, codebook, ids, the OPQ
 * rotation and the refine store. A search runs on the device from end to end:
 * queries normalized (cosine) and rotated (OPQ), the nprobe nearest cells of each
 * probed (adaptively cut), one lookup table per (query, cell) built in shared memory,
 * every code of the cell scored from it, the kc best per query kept, re-ranked with
 * exact distances from the refine store when there is one, and mapped to ids.
 */
class GpuIvfPqData {
 public:
  explicit GpuIvfPqData(int device);
  ~GpuIvfPqData();
  GpuIvfPqData(const GpuIvfPqData&) = delete;
  GpuIvfPqData& operator=(const GpuIvfPqData&) = delete;

  void upload(const IvfPqView& v);
  /**
   * @brief k nearest neighbours of nq queries (as given: raw, not normalized) into D/I
   * (nq x plan.k, the public convention). With MemSpace::Device, q, D and I are device
   * pointers on this device and nothing goes through the host but the plan and the
   * counters. stats: distance_evals (codes scored plus candidates re-ranked) and
   * nodes_visited (non-empty cells probed).
   */
  void search(const float* q, std::size_t nq, const GpuIvfPlan& plan, LutType lut, float* D, idx_t* I,
              MemSpace space = MemSpace::Host, GpuSearchStats* stats = nullptr) const;

  int device() const;
  std::size_t size() const;
  std::size_t memory_usage() const;

 private:
  std::unique_ptr<detail::GpuIvfPqState> s_;
};

/**
 * @brief Nearest-centroid assignment (squared L2) on a device, for k-means: the points
 * are copied once and stay on the device for every assign() of the iterations.
 */
class GpuAssigner {
 public:
  GpuAssigner(int device, const float* x, std::size_t n, std::size_t d);
  ~GpuAssigner();
  GpuAssigner(const GpuAssigner&) = delete;
  GpuAssigner& operator=(const GpuAssigner&) = delete;

  /** @brief labels[i] = nearest of the k centroids (k x d, host) to point i; dists[i] its
   *  squared distance (clamped at 0). */
  void assign(const float* centroids, std::size_t k, std::int32_t* labels, float* dists) const;

 private:
  std::unique_ptr<detail::GpuAssignState> s_;
};

/**
 * @brief Exact k-NN on a device, copying everything for this one call.
 * Prefer GpuFlatData to keep the base on the device between searches.
 */
void gpu_flat_search(int device, const float* base, std::size_t n, std::size_t d, Metric metric,
                     const float* q, std::size_t nq, int k, const std::uint64_t* allow, float* D,
                     idx_t* I);

/**
 * @brief Row-wise select-k on a device (host pointers): the k smallest (or largest)
 * values of each row of a rows x cols matrix, sorted, with their column indices.
 * Rows shorter than k are padded with +inf (-inf when largest) and index -1.
 * k <= 256 runs a warp-level bitonic queue; larger k (<= kGpuMaxK) a radix select.
 */
void gpu_select_k(int device, const float* vals, std::size_t rows, std::size_t cols, int k,
                  bool select_min, float* out_vals, idx_t* out_idx);

}  // namespace warpsearch
