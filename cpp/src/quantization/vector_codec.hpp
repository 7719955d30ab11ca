// SPDX-FileCopyrightText: 2026 warpsearch contributors
// SPDX-License-Identifier: Apache-2.0
#pragma once
// One vector <-> a fixed number of bytes: the storage formats of the flat index and of
// its re-rank copy. fp32 and fp16 need no training; sq8/sq4 keep a per-dimension range
// (x ~ lo + step * code); binary keeps one bit per dimension, the sign of x - center,
// and the scale a = mean |x - center| (x ~ center + a * (2 * bit - 1)).
#include <cstddef>
#include <cstdint>
#include <vector>

#include "warpsearch/types.hpp"

namespace warpsearch::detail {

/** Throws std::invalid_argument naming the first of n rows of d values that float16
 *  cannot hold (|x| > 65504); `what` names the option, e.g. "storage='fp16'". */
void expect_half_range(const float* x, std::size_t n, std::size_t d, const char* what);

class VectorCodec {
 public:
  VectorCodec() = default;
  VectorCodec(Storage kind, std::size_t d);

  Storage kind() const { return kind_; }
  std::size_t dim() const { return d_; }
  /** Bytes of one encoded vector. */
  std::size_t bytes() const { return bytes_; }
  /** 64-bit words of a binary code's bits. */
  std::size_t words() const { return (d_ + 63) / 64; }
  bool needs_training() const;
  bool trained() const { return trained_ || !needs_training(); }

  /** Fits the range (sq) or the center (binary) to n rows. Integer-valued data whose
   *  range on a dimension spans at most 2^bits values gets the unit grid there
   *  (lossless codes). */
  void train(const float* x, std::size_t n);
  /** True when encoding the rows loses nothing to the range: every value is inside it
   *  (sq). Always true for fp32, fp16 (see expect_half_range) and binary. */
  bool covers(const float* x, std::size_t n) const;
  /** The range widened to cover the rows too, with headroom of 1/8 of the span on each
   *  side that grew (sq only), so that repeated adds rarely widen again. */
  VectorCodec widened(const float* x, std::size_t n) const;

  void encode(const float* x, std::uint8_t* out) const;
  void decode(const std::uint8_t* c, float* out) const;

  /** Parameters as saved in a file, and back (throws std::invalid_argument on a bad size). */
  std::vector<float> params() const;
  void set_params(const std::vector<float>& p);

  /** sq8/sq4: x ~ lo + step * code. Binary: the center, and the scale of a code. */
  const float* lo() const { return lo_.data(); }
  const float* step() const { return step_.data(); }
  const float* center() const { return lo_.data(); }
  static float binary_scale(const std::uint8_t* c, std::size_t words);

 private:
  int levels() const { return kind_ == Storage::SQ4 ? 15 : 255; }
  void fit_range(const std::vector<float>& lo, const std::vector<float>& hi, bool integral,
                 bool headroom_lo, bool headroom_hi, const std::vector<float>* old_lo,
                 const std::vector<float>* old_hi);

  Storage kind_ = Storage::FP32;
  std::size_t d_ = 0, bytes_ = 0;
  bool trained_ = false;
  bool grid_ = false;              // sq fitted on integer data: unit-step dimensions exist
  std::vector<float> lo_, step_;   // sq: range; binary: lo_ is the center
};

}  // namespace warpsearch::detail
