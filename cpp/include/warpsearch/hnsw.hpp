// SPDX-FileCopyrightText: 2026 warpsearch contributors
// SPDX-License-Identifier: Apache-2.0
#pragma once
/**
 * @brief HNSW graph index (CPU).
 *
 * Level 0 is a flat N x 2M table of uint32 neighbours; upper levels are sparse.
 * Traversal runs on 8-bit scalar-quantized codes (switchable), scored with
 * int16-quantized queries, and the best candidates are re-ranked exactly (from the
 * codes when they are lossless, as for integer data with a range of <= 256 values). Deletes are tombstones whose
 * slots are repaired out of the graph and reused.
 *
 * Concurrency: any number of search() calls may run while one add() or remove()
 * runs; each search sees a consistent graph (every neighbour it reads is a fully
 * written node). Concurrent add() calls are serialized.
 *
 * @code
 * warpsearch::HnswParams p; p.M = 16; p.ef_construction = 200;
 * warpsearch::HnswIndex idx(128, warpsearch::Metric::L2, p);
 * idx.add(x, n, nullptr);
 * @endcode
 */
#include <memory>
#include <string>

#include "warpsearch/gpu.hpp"
#include "warpsearch/index.hpp"

namespace warpsearch {

struct HnswParams {
  int M = 16;                 ///< links per node on upper levels; 2M on level 0
  int ef_construction = 200;  ///< candidate list size during insertion
  bool quantized = true;      ///< traverse on scalar codes and re-rank exactly
  int sq_bits = 0;            ///< code width, 8 or 4; 0: chosen from the first data added
  Storage storage = Storage::FP32;  ///< the kept vectors (re-rank, build): FP32, FP16, or SQ8 (the codes only)
  std::uint64_t seed = 42;    ///< level assignment
};

namespace detail {
struct HnswGraph;
}

class HnswIndex final : public Index {
 public:
  HnswIndex(int dim, Metric metric, const HnswParams& params);
  ~HnswIndex() override;

  std::size_t size() const override;
  std::string type_name() const override { return "hnsw"; }
  void add(const float* x, std::size_t n, const idx_t* ids) override;
  std::size_t remove(const idx_t* ids, std::size_t n) override;
  void search(const float* q, std::size_t nq, const SearchParams& params, float* D, idx_t* I,
              SearchStats* stats) const override;
  void verify() const override;
  std::size_t mapped_bytes() const override;
  void save(const std::string& path) const override;
  std::size_t memory_usage() const override;
  bool contains(idx_t id) const override;
  std::vector<idx_t> ids() const override;
  std::vector<bool> reconstruct(const idx_t* ids, std::size_t n, float* out) const override;

  const HnswParams& params() const;
  /** @brief Rewrites the graph in BFS order from the entry point for memory locality. */
  void reorder();
  /** @brief Disconnects tombstoned nodes, repairs their neighbours, frees their slots. */
  void consolidate();

  /** @brief Copies the graph to a CUDA device: level 0 as an n x 2M table, the upper
   *  levels, exact vectors, labels and the live/tombstone state (a snapshot). */
  std::unique_ptr<GpuGraphData> to_device(int device) const;
  /** @brief Graph search on data made by to_device of this (since unchanged) index;
   *  distances are exact (no re-rank needed). params.rerank is ignored. */
  void search_gpu(const GpuGraphData& dev, const float* q, std::size_t nq, const SearchParams& params,
                  float* D, idx_t* I, SearchStats* stats, MemSpace space = MemSpace::Host) const;

  static std::unique_ptr<HnswIndex> load_from(const void* reader);

 private:
  std::unique_ptr<detail::HnswGraph> g_;
};

}  // namespace warpsearch
