// SPDX-FileCopyrightText: 2026 warpsearch contributors
// SPDX-License-Identifier: Apache-2.0
#pragma once
/**
 * @brief One top-k merge for every layer that combines result lists: segments of a
 * collection, devices of a sharded index, shards of a distributed collection.
 *
 * @code
 * // two sources of k = 10 results each, concatenated per row: m = 20
 * warpsearch::merge_topk(D, I, nq, 20, 10, false, outD, outI);
 * @endcode
 *
 * exact_topk, beside it, is the exact source of such lists for rows no index holds
 * yet (a collection's newest writes), scanned where the caller keeps them.
 */
#include <cstddef>

#include <cstdint>

#include "warpsearch/types.hpp"

namespace warpsearch {

/**
 * @brief The k best entries of each of nq rows of m (distance, id) pairs.
 *
 * Rows are the concatenation of several sources' results. Ascending distance
 * (larger_is_better = false: L2) or descending (true: inner product, cosine); equal
 * distances keep the earlier column first. Entries with a negative id (the padding -1)
 * or a NaN distance are ignored. An id that occurs more than once in a row is kept once,
 * at its best occurrence (the first in the merged order). Rows with fewer than k valid
 * entries are padded with id -1 and distance +inf (ascending) or -inf (descending).
 * Threaded over rows for large inputs.
 * @param[in] D, I nq x m, row-major
 * @param[out] outD, outI nq x k, row-major
 */
void merge_topk(const float* D, const idx_t* I, std::size_t nq, std::size_t m, std::size_t k,
                bool larger_is_better, float* outD, idx_t* outI);

/**
 * @brief Exact top-k of nq queries over n rows that the caller holds (no copy).
 *
 * Metric::L2 gives squared distances, ascending; IP and Cosine similarities, descending
 * (Cosine: the queries must be unit vectors; row_norms, when given, are the rows'
 * norms, otherwise computed here). allow (n bytes, nonzero = allowed) may be null.
 * Rows are numbered 0..n-1 in I; short rows are padded with id -1 and +inf (L2) or
 * -inf. Threaded over the queries when there are several; one query runs on the
 * calling thread (a few thousand rows take tens of microseconds).
 * @param[in] x n x d, row-major; q nq x d, row-major
 * @param[out] D, I nq x k, row-major
 */
void exact_topk(const float* x, std::size_t n, std::size_t d, const float* q, std::size_t nq,
                std::size_t k, Metric metric, const float* row_norms, const std::uint8_t* allow,
                float* D, idx_t* I);

}  // namespace warpsearch
