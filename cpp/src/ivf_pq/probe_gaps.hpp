// SPDX-FileCopyrightText: 2026 warpsearch contributors
// SPDX-License-Identifier: Apache-2.0
#pragma once
// Adaptive probing of IVF cells. With nprobe = P, a query probes the cells among its 2P
// nearest whose probing distance exceeds that of its nearest cell by at most a gap
// g(P); g(P) is calibrated at training on a sample of the training rows so that they
// probe P cells on average. A query near many centroids (its neighbours spread over
// several cells) gets more cells than one deep inside a cell, for about the cost of P
// fixed probes. Inner-product gaps are measured in units of |q| (the probing distance
// -q.c scales with it).
#include <cstddef>
#include <cstdint>
#include <vector>

#include "quantization/nearest.hpp"
#include "warpsearch/types.hpp"

namespace warpsearch::detail {

class ProbeGaps {
 public:
  // Calibration from x (n rows of d, prepared as the index sees them), probing with cp.
  static ProbeGaps calibrate(const CentroidPanels& cp, const float* x, std::size_t n, bool ip,
                             std::uint64_t seed);
  // From a saved table (pairs P, g with P increasing); throws std::invalid_argument.
  static ProbeGaps from_table(const std::vector<float>& table, std::size_t nlist);

  bool empty() const { return table_.empty(); }
  const std::vector<float>& table() const { return table_; }
  // Cells considered (width) and the gap for nominal nprobe P; gap < 0: fixed probing
  // of P cells (no calibration, or P outside the calibrated range).
  void plan(std::size_t nprobe, std::size_t nlist, std::size_t& width, float& gap) const;

  // Largest nominal nprobe calibrated; beyond it probing is fixed.
  static constexpr std::size_t kMaxProbes = 512;
  // The nprobe values calibrated for nlist cells (the table has at most these rows).
  static std::vector<std::size_t> grid(std::size_t nlist);

 private:
  std::vector<float> table_;  // P0, g0, P1, g1, ...
};

}  // namespace warpsearch::detail
