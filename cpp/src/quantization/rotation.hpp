// SPDX-FileCopyrightText: 2026 warpsearch contributors
// SPDX-License-Identifier: Apache-2.0
#pragma once
// An orthogonal rotation applied before product quantization (the non-parametric OPQ
// of Ge et al.): the principal axes of the training vectors, grouped into the PQ
// sub-spaces so that every sub-space gets about the same product of variances. A
// 2-dimensional sub-space then pairs a wide axis with a narrow one, and its 16 or 256
// codewords spread along the wide axis instead of a square grid over both. Distances
// are unchanged by the rotation, so only the vectors the codebooks see are rotated.
#include <cstddef>
#include <vector>

namespace warpsearch::detail {

class Rotation {
 public:
  bool empty() const { return d_ == 0; }
  std::size_t d() const { return d_; }
  // Row-major d x d orthogonal matrix R; a vector x becomes R x.
  const std::vector<float>& matrix() const { return r_; }
  void set(const std::vector<float>& r, std::size_t d);
  std::size_t panel_bytes() const { return panels_.capacity() * sizeof(float); }
  void clear();

  // out = R x for each of the n rows of x (out may not alias x).
  void apply(const float* x, std::size_t n, float* out) const;
  // out = R^T y for each of the n rows of y.
  void apply_transpose(const float* y, std::size_t n, float* out) const;

  // The rotation for sub-spaces of dsub dimensions, from n training rows (used as
  // vectors around 0: pass residuals or centered data).
  static Rotation train(const float* x, std::size_t n, std::size_t d, std::size_t dsub);

 private:
  std::size_t d_ = 0;
  std::vector<float> r_;       // row-major
  std::vector<float> panels_;  // R's rows in the 16-wide panel layout of the dot kernels
};

// Eigen-decomposition of a symmetric d x d matrix (row-major, overwritten):
// Householder reduction to tridiagonal form, then implicit QL iterations; eigenvalues in
// w (unsorted), eigenvector i in row i of v.
void symmetric_eigen(std::vector<double>& a, std::size_t d, std::vector<double>& w,
                     std::vector<double>& v);

}  // namespace warpsearch::detail
