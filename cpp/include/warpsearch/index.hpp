// SPDX-FileCopyrightText: 2026 warpsearch contributors
// SPDX-License-Identifier: Apache-2.0
#pragma once
/**
 * @brief The interface every warpsearch index implements.
 *
 * Distances returned by search() follow one convention: for L2 the squared
 * distance (ascending), for IP and Cosine the similarity (descending). Rows
 * with fewer than k results are padded with id -1 and distance +inf (L2) or
 * -inf (IP, Cosine).
 *
 * @code
 * auto idx = warpsearch::make_hnsw(128, warpsearch::Metric::L2, {});
 * idx->add(x, n, nullptr);                    // ids 0..n-1
 * warpsearch::SearchParams p; p.k = 10;
 * idx->search(q, nq, p, D, I, nullptr);
 * @endcode
 */
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "warpsearch/types.hpp"

namespace warpsearch {

/** @brief A bitset over an index's internal slots (one bit per slot). */
using Bitset = std::vector<std::uint64_t>;

class Index {
 public:
  Index(int dim, Metric metric);
  virtual ~Index() = default;
  Index(const Index&) = delete;
  Index& operator=(const Index&) = delete;

  int dim() const { return dim_; }
  Metric metric() const { return metric_; }

  /** @brief Number of live (not removed) vectors. */
  virtual std::size_t size() const = 0;
  /** @brief Name of the index type ("flat", "hnsw"). */
  virtual std::string type_name() const = 0;

  /**
   * @brief Adds n vectors; ids may be null (then next_id().. are used).
   * Re-adding an existing id replaces its vector. On error nothing changes.
   */
  virtual void add(const float* x, std::size_t n, const idx_t* ids) = 0;
  /** @brief Removes ids; unknown ids are ignored. Returns how many were removed. */
  virtual std::size_t remove(const idx_t* ids, std::size_t n) = 0;
  /** @brief Batch k-NN search; D and I are nq*k row-major. */
  virtual void search(const float* q, std::size_t nq, const SearchParams& params, float* D,
                      idx_t* I, SearchStats* stats) const = 0;
  /** @brief Writes the index to a file in the warpsearch format. */
  virtual void save(const std::string& path) const = 0;
  /** @brief Bytes of memory held by the index. */
  virtual std::size_t memory_usage() const = 0;
  /** @brief True when id is live in the index. */
  virtual bool contains(idx_t id) const = 0;
  /** @brief All live ids, in internal order. */
  virtual std::vector<idx_t> ids() const = 0;
  /** @brief Copies the stored vector of each id into out (n*dim); false where absent. */
  virtual std::vector<bool> reconstruct(const idx_t* ids, std::size_t n, float* out) const = 0;

  /**
   * @brief Verifies now every checksum of a memory-mapped index (load_index with
   * mmap), which otherwise verifies each section on its first use. No-op in RAM.
   * A damaged section throws CorruptFileError.
   */
  virtual void verify() const = 0;
  /** @brief Bytes of the index read from its memory-mapped file (0 when all in RAM). */
  virtual std::size_t mapped_bytes() const = 0;

  /** @brief The id the next add without ids starts from. */
  idx_t next_id() const { return next_id_; }

 protected:
  /** @brief Checks the values of a batch before anything is changed. */
  void validate_add(const float* x, std::size_t n, const idx_t* ids) const;
  /** @brief Slot bitset of a filter over nslots slots; slot_id maps a slot to its id.
   *  lookup maps an id to its slot or -1. Call with the index lock held. */
  template <typename SlotId, typename Lookup>
  static Bitset make_allow(const Filter& f, std::size_t nslots, SlotId slot_id, Lookup lookup);
  /** @brief Moves next_id_ past the ids of a successful add (ids null: the default ids).
   *  Once an id reaches the int64 maximum, next_id_ is -1: default ids are exhausted. */
  void advance_next_id(const idx_t* ids, std::size_t n);
  /** @brief Fills D/I padding and flips signs to the public convention. */
  void finalize_distances(float* D, idx_t* I, std::size_t count) const;

  int dim_;
  Metric metric_;
  idx_t next_id_ = 0;
};

template <typename SlotId, typename Lookup>
Bitset Index::make_allow(const Filter& f, std::size_t nslots, SlotId slot_id, Lookup lookup) {
  Bitset b((nslots + 63) / 64 + 1, 0);
  if (f.use_ids) {
    for (std::size_t i = 0; i < f.n_ids; ++i) {
      const std::int64_t s = lookup(f.ids[i]);
      if (s >= 0) b[std::size_t(s) >> 6] |= std::uint64_t(1) << (std::size_t(s) & 63);
    }
  } else if (f.use_mask) {
    for (std::size_t s = 0; s < nslots; ++s) {
      const idx_t id = slot_id(s);
      if (id >= 0 && std::size_t(id) < f.mask_len && f.mask[id])
        b[s >> 6] |= std::uint64_t(1) << (s & 63);
    }
  }
  return b;
}

/**
 * @brief Loads any index type written by Index::save. Bad files throw std::invalid_argument
 * (CorruptFileError for a damaged one).
 *
 * mmap = true maps the file instead of reading it: vectors, codes, graph links and
 * inverted lists stay in the file and are paged in as searches read them; each section's
 * checksum is verified on its first use (verify() checks all now). The mapped parts are
 * read-only: the first add/remove/train copies them into RAM (copy-on-write), after
 * which the index no longer depends on the file. Saving over the file (save renames a
 * new file into place) never changes a mapped index; truncating or rewriting the file
 * in place while it is mapped is not supported (reads past its new end fault).
 */
std::unique_ptr<Index> load_index(const std::string& path, bool mmap = false);

}  // namespace warpsearch
