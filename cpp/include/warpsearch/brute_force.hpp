// SPDX-FileCopyrightText: 2026 warpsearch contributors
// SPDX-License-Identifier: Apache-2.0
#pragma once
/**
 * @brief Exact (flat) index: blocked, threaded distance computation fused with top-k.
 *
 * Storage::FP32 keeps the vectors as given (exact search). FP16, SQ8 and SQ4 keep
 * compressed codes and search them exactly as decoded; SQ8/SQ4 ranges are fitted to the
 * first data (train or the first add) and widened, re-encoding the stored rows, when
 * later data falls outside. Binary keeps one bit per dimension and ranks by an
 * estimate. With a refine copy (sq8, fp16, fp32) the best SearchParams::rerank
 * candidates (default 4 * k) of the compressed scan are re-ranked on that copy.
 * @code
 * warpsearch::FlatIndex flat(384, warpsearch::Metric::Cosine);
 * flat.add(x, n, ids);
 * @endcode
 */
#include <memory>
#include <string>

#include "warpsearch/gpu.hpp"
#include "warpsearch/index.hpp"

namespace warpsearch {

namespace detail {
struct FlatStorage;
}

class FlatIndex final : public Index {
 public:
  FlatIndex(int dim, Metric metric, Storage storage = Storage::FP32, Refine refine = Refine::None);
  ~FlatIndex() override;

  Storage storage() const;
  Refine refine() const;
  /** @brief Bytes stored per vector (codes plus refine copy), excluding ids. */
  std::size_t bytes_per_vector() const;
  /** @brief Fits the storage (and refine) quantizers to n vectors without adding them;
   *  only on an empty index. Optional: the first add trains otherwise. */
  void train(const float* x, std::size_t n);

  std::size_t size() const override;
  std::string type_name() const override { return "flat"; }
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

  /** @brief Copies the vectors to a CUDA device (a snapshot: later adds and removes
   *  are not reflected). Throws std::invalid_argument in a build without CUDA. */
  std::unique_ptr<GpuFlatData> to_device(int device) const;
  /** @brief Exact search on data made by to_device of this (since unchanged) index;
   *  with MemSpace::Device, q, D and I are device pointers. */
  void search_gpu(const GpuFlatData& dev, const float* q, std::size_t nq, const SearchParams& params,
                  float* D, idx_t* I, SearchStats* stats, MemSpace space = MemSpace::Host) const;

  /** @brief Reads the sections written by save (used by load_index). */
  static std::unique_ptr<FlatIndex> load_from(const void* reader);

 private:
  std::unique_ptr<detail::FlatStorage> s_;
};

}  // namespace warpsearch
