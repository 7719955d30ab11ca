// SPDX-FileCopyrightText: 2026 warpsearch contributors
// SPDX-License-Identifier: Apache-2.0
#pragma once
/**
 * @brief Product quantization: m sub-quantizers of 2^nbits centroids (nbits 4 or 8).
 *
 * A vector is cut into m sub-vectors of dim/m values; each is replaced by the index of
 * its nearest sub-centroid. Distances to a query come from a lookup table (LUT) of
 * m x 2^nbits entries. 4-bit codes are also scored by "fast scan": the LUT is quantized
 * to uint8, held in SIMD registers and indexed with byte shuffles over blocks of 32
 * codes (see pack_fastscan and fastscan_distances).
 *
 * @code
 * warpsearch::ProductQuantizer pq(128, 64, 4);
 * pq.train(x, n, 0);
 * std::vector<std::uint8_t> codes(n * pq.m());
 * pq.encode(x, n, codes.data());
 * @endcode
 */
#include <cstddef>
#include <cstdint>
#include <vector>

#include "warpsearch/types.hpp"

namespace warpsearch {

class ProductQuantizer {
 public:
  /** @brief Throws std::invalid_argument unless nbits is 4 or 8 and m divides dim. */
  ProductQuantizer(int dim, int m, int nbits);

  int dim() const { return dim_; }
  int m() const { return m_; }
  int nbits() const { return nbits_; }
  int ksub() const { return 1 << nbits_; }
  int dsub() const { return dim_ / m_; }

  /** @brief Trains every sub-quantizer by k-means on n x dim points (n >= ksub). */
  void train(const float* x, std::size_t n, std::uint64_t seed, int iters = 20,
             int max_points_per_centroid = 256);
  /** @brief Codebook, m x ksub x dsub floats. */
  const std::vector<float>& codebook() const { return cb_; }
  void set_codebook(const std::vector<float>& cb);

  /** @brief One byte per sub-code: codes is n x m. */
  void encode(const float* x, std::size_t n, std::uint8_t* codes) const;
  void decode(const std::uint8_t* codes, std::size_t n, float* x) const;
  /**
   * @brief Float lookup table, m x ksub: squared L2 distance of each query sub-vector to
   * each sub-centroid (metric L2), or the negated inner product (IP, Cosine).
   */
  void compute_lut(const float* q, Metric metric, float* lut) const;

 private:
  int dim_, m_, nbits_;
  std::vector<float> cb_;
};

/**
 * @brief Quantizes a float LUT (m x 16) to uint8 for fast scan: entry (j, i) becomes
 * round((lut[j][i] - min_j) * scale), so that sum_j lut[j][c_j] ~ bias + acc / scale
 * with bias = sum_j min_j. The scale keeps every entry <= 127 (two entries are added in a
 * byte by the kernel) and every sum <= 65535. With row shifts rshift (m_pad entries,
 * non-decreasing, equal within groups of 8 rows; nullptr: none) row j is scaled 2^rshift[j]
 * more and sums weight it 2^(rshift[m-1] - rshift[j]) (see fastscan_distances).
 * out has m_pad x 16 bytes (m_pad = m rounded up to 4; padding rows are zero).
 */
void quantize_lut(const float* lut, std::size_t m, std::uint8_t* out, float* scale, float* bias,
                  const std::uint8_t* rshift = nullptr);

/**
 * @brief uint8 fast-scan table of a 4-bit L2 (query, cell) pair from the two 16-bit fixed
 * point parts of its LUT, P (cell) and Q (query), both m x 16 with entries in [0, 16383]:
 * each row of P + Q is shifted to start at 0 (the minima, times unit, sum to *bias) and
 * the rows are scaled by one factor (times 2^rshift[j] for row j) that keeps every entry
 * <= cap. Returns the scale from distance units to table units. out has m_pad x 16
 * bytes (padding rows zero). The kernel of the active ISA (the reference for tests).
 */
float combine_lut16(const std::int16_t* P, const std::int16_t* Q, std::size_t m, float cap, float unit,
                    std::uint8_t* out, float* bias, const std::uint8_t* rshift = nullptr);

/** @brief m rounded up to the fast-scan sub-quantizer group (4). */
std::size_t fastscan_m_pad(std::size_t m);
/** @brief Bytes of n packed 4-bit codes: ceil(n / 32) blocks of m_pad * 16 bytes. */
std::size_t fastscan_bytes(std::size_t n, std::size_t m);
/** @brief Packs n x m unpacked 4-bit codes (one per byte) into the fast-scan layout. */
void pack_fastscan(const std::uint8_t* codes, std::size_t n, std::size_t m, std::uint8_t* out);
/** @brief Reads back code (i, j) of a packed buffer. */
std::uint8_t fastscan_code(const std::uint8_t* packed, std::size_t m, std::size_t i,
                           std::size_t j);
/**
 * @brief uint16 fast-scan sums sum_j lut8[j][code(i, j)] of n packed codes, computed by
 * the SIMD kernel of the active ISA (the reference for tests); with rshift, row j is
 * weighted 2^(rshift[m-1] - rshift[j]).
 */
void fastscan_distances(const std::uint8_t* packed, std::size_t n, std::size_t m,
                        const std::uint8_t* lut8, std::uint16_t* out,
                        const std::uint8_t* rshift = nullptr);
/** @brief The per-group shift increments the scan kernels take for row shifts rshift
 *  (m_pad entries); throws when rshift is not constant within groups of 8 rows or
 *  decreases. */
std::vector<std::uint8_t> fastscan_gdelta(const std::uint8_t* rshift, std::size_t m_pad);

}  // namespace warpsearch
