// SPDX-FileCopyrightText: 2026 warpsearch contributors
// SPDX-License-Identifier: Apache-2.0
#pragma once
/** @brief Basic types shared by every index: metrics, ids, search parameters. */
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>

namespace warpsearch {

using idx_t = std::int64_t;  ///< user-visible id of a vector

/** @brief Distance used by an index. Smaller is closer for every metric:
 *  L2 is squared Euclidean; IP and Cosine are returned as negated similarity
 *  internally and flipped back to similarity by the Python layer. */
enum class Metric : std::uint32_t { L2 = 0, IP = 1, Cosine = 2 };

Metric parse_metric(const std::string& name);
const char* metric_name(Metric m);

/** @brief How an index keeps its vectors: float32, float16, per-dimension scalar
 *  quantization on 8 or 4 bits, or 1 bit per dimension (sign around the data mean). */
enum class Storage : std::uint32_t { FP32 = 0, FP16 = 1, SQ8 = 2, SQ4 = 3, Binary = 4 };

Storage parse_storage(const std::string& name);
const char* storage_name(Storage s);

/** @brief A second copy of the vectors kept only to re-rank candidates. */
enum class Refine : std::uint32_t { None = 0, SQ8 = 1, FP16 = 2, FP32 = 3 };

Refine parse_refine(const std::string& name);
const char* refine_name(Refine r);

/** @brief Which ids a search may return: an id list, or a boolean mask indexed by id.
 *  The index turns it into a bitset over its slots under the same lock as the search. */
struct Filter {
  const idx_t* ids = nullptr;
  std::size_t n_ids = 0;
  const std::uint8_t* mask = nullptr;
  std::size_t mask_len = 0;
  bool use_ids = false;
  bool use_mask = false;
  bool active() const { return use_ids || use_mask; }
};

/** @brief Per-call search options shared by all indexes. */
struct SearchParams {
  int k = 10;
  int ef = 64;       ///< HNSW candidate list size (raised to k when smaller)
  int rerank = -1;   ///< candidates re-ranked exactly; -1: the index's default
  Filter filter;
  /// When the search must end: past it the CPU scans and walks stop and throw
  /// TimeoutError (checked every few hundred distance evaluations, never per distance).
  /// time_point::max(): no deadline. GPU searches ignore it.
  std::chrono::steady_clock::time_point deadline = std::chrono::steady_clock::time_point::max();
};

/** @brief Counters filled by a search, for explain and tests. */
struct SearchStats {
  std::uint64_t distance_evals = 0;
  std::uint64_t nodes_visited = 0;
  std::uint64_t allowed = 0;       ///< points that passed the filter
  int plan = 0;                    ///< 0 graph, 1 brute force over allowed, 2 filtered graph
  bool adaptive = false;           ///< IVF: cells chosen by adaptive probing (else fixed)
  /// IVF, filtered: queries that probed cells beyond their planned ones (cells whose
  /// distance bound could still beat their k-th result), those cells, and of them the
  /// cells whose few allowed vectors were scored one by one instead of scanned.
  std::uint64_t queries_widened = 0, cells_widened = 0, cells_exact = 0;
  /// IVF, filtered: widened queries that went on to score every allowed point instead
  /// (when that cost less than the cells their bound still left to probe).
  std::uint64_t queries_exact = 0;
  /// Bytes of stored vectors read to re-rank candidates (IVF-PQ refine records, the
  /// exact rows behind an HNSW quantized walk): a memory-mapped index reads them from its
  /// file, so this is what a search costs in reads past the codes in memory.
  std::uint64_t refine_bytes = 0;
};

}  // namespace warpsearch
