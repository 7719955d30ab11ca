// SPDX-FileCopyrightText: 2026 warpsearch contributors
// SPDX-License-Identifier: Apache-2.0
#pragma once
// Bounded max-heap of (distance, id) keeping the k smallest distances.
#include <algorithm>
#include <cstdint>
#include <limits>
#include <utility>

#include "warpsearch/types.hpp"

namespace warpsearch::detail {

template <typename Id = idx_t>
class TopK {
 public:
  TopK(float* d, Id* ids, int k) : d_(d), i_(ids), k_(k) {}
  int size() const { return n_; }
  bool full() const { return n_ == k_; }
  // Distance a candidate must beat to enter.
  float threshold() const { return n_ < k_ ? std::numeric_limits<float>::infinity() : d_[0]; }

  void push(float dist, Id id) {
    if (n_ < k_) {
      int j = n_++;
      while (j > 0) {
        int p = (j - 1) / 2;
        if (d_[p] >= dist) break;
        d_[j] = d_[p];
        i_[j] = i_[p];
        j = p;
      }
      d_[j] = dist;
      i_[j] = id;
    } else if (dist < d_[0]) {
      sift_down(dist, id);
    }
  }

  // Sorts ascending in place, pads [size, k) with (+inf, -1); returns the result count.
  int finish() {
    const int count = n_;
    for (int n = count; n > 1; --n) {  // heap sort: move the max to the end
      const float dm = d_[0];
      const Id im = i_[0];
      n_ = n - 1;
      sift_down(d_[n - 1], i_[n - 1]);
      d_[n - 1] = dm;
      i_[n - 1] = im;
    }
    for (int j = count; j < k_; ++j) {
      d_[j] = std::numeric_limits<float>::infinity();
      i_[j] = Id(-1);
    }
    n_ = count;
    return count;
  }

 private:
  void sift_down(float dist, Id id) {
    int j = 0;
    for (;;) {
      int c = 2 * j + 1;
      if (c >= n_) break;
      if (c + 1 < n_ && d_[c + 1] > d_[c]) ++c;
      if (d_[c] <= dist) break;
      d_[j] = d_[c];
      i_[j] = i_[c];
      j = c;
    }
    d_[j] = dist;
    i_[j] = id;
  }

  float* d_;
  Id* i_;
  int k_;
  int n_ = 0;
};

}  // namespace warpsearch::detail
