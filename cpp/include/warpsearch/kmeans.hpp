// SPDX-FileCopyrightText: 2026 warpsearch contributors
// SPDX-License-Identifier: Apache-2.0
#pragma once
/**
 * @brief k-means clustering (Lloyd iterations, k-means++ seeding), multi-threaded.
 *
 * Training runs on a random sample of at most k * max_points_per_centroid points.
 * Seeding is k-means++ (on a sample of at most max(8k, 4096) points when the
 * training set is larger). A cluster that becomes empty is re-seeded by splitting
 * the largest cluster in two.
 *
 * @code
 * std::vector<float> c(k * d);
 * double obj = warpsearch::kmeans(x, n, d, k, {}, c.data());
 * @endcode
 */
#include <cstddef>
#include <cstdint>

namespace warpsearch {

struct KMeansParams {
  int iters = 25;                     ///< Lloyd iterations (>= 0)
  std::uint64_t seed = 0;             ///< sampling and seeding
  int max_points_per_centroid = 256;  ///< training sample cap, per centroid (0: no cap)
  bool spherical = false;             ///< normalize the centroids after every update
  /// CUDA device of the assignment steps (the points stay there between iterations);
  /// -1: the CPU. Sampling, seeding and updates run on the CPU either way.
  int device = -1;
  /// Compute the objective: one more assignment pass over the sample after the last
  /// update. Without it kmeans returns NaN.
  bool objective = true;
};

/**
 * @brief Clusters n x d points into k centroids (written to centroids, k x d).
 * @return the k-means objective (sum of squared distances of the training points to
 *         their nearest centroid) of the returned centroids, or NaN when
 *         params.objective is false.
 * Throws std::invalid_argument when n < k, k < 1 or d < 1.
 */
double kmeans(const float* x, std::size_t n, std::size_t d, std::size_t k,
              const KMeansParams& params, float* centroids);

/** @brief Index of the nearest centroid (squared L2) of each of n points; threaded. */
void assign_nearest(const float* x, std::size_t n, std::size_t d, const float* centroids,
                    std::size_t k, std::int64_t* labels, float* dists);

}  // namespace warpsearch
