// SPDX-FileCopyrightText: 2026 warpsearch contributors
// SPDX-License-Identifier: Apache-2.0
#pragma once
/** @brief Process-wide thread pool settings for batch calls. */
#include <cstddef>
#include <functional>

namespace warpsearch {

/** @brief Sets the number of threads used by batch calls (>= 1). */
void set_num_threads(int n);
/** @brief Current number of threads used by batch calls. */
int get_num_threads();

/**
 * @brief Caps the threads of the calling thread's batch calls (itself included) at n;
 * 0 lifts the cap. A background job (an index growing while writes arrive) leaves
 * cores to the foreground this way.
 */
void set_thread_limit(int n);
/** @brief The calling thread's cap (0: none). */
int thread_limit();

/**
 * @brief Runs fn(i, thread_id) for i in [0, n) on the pool; idle workers sleep.
 * Exceptions thrown by fn are rethrown in the caller (the first one wins).
 * @code
 * warpsearch::parallel_for(n, [&](std::size_t i, int) { out[i] = f(i); });
 * @endcode
 */
void parallel_for(std::size_t n, const std::function<void(std::size_t, int)>& fn,
                  std::size_t grain = 1);

}  // namespace warpsearch
