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
