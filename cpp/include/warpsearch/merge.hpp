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
 */
#include <cstddef>

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

}  // namespace warpsearch
