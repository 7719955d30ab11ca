// SPDX-FileCopyrightText: 2026 warpsearch contributors
// SPDX-License-Identifier: Apache-2.0
#pragma once
// Filtered exact search over the allowed rows only. The block scan of flat_search.cpp
// skips only 16-row panels (32-row blocks for binary codes) with no allowed row, so a
// filter that allows a few rows spread over the data costs a full scan. This scan lists
// the allowed rows once, gathers them, in blocks, into the layout the scan kernels
// read (fp32 and decoded codes: panels; binary: packed 4-bit codes) and runs the same
// kernels on them: every row is scored exactly as the block scan scores it.
#include <cstddef>
#include <cstdint>
#include <vector>

#include "brute_force/flat_impl.hpp"
#include "common/deadline.hpp"
#include "common/topk.hpp"

namespace warpsearch::detail {

// A query's binary estimate parameters (see prepare_binary in flat_search.cpp).
struct BinaryQuery {
  float qc = 0.f, scale = 1.f, bias = 0.f;
};

// What every scan of one search shares: queries (normalized for cosine), their
// squared norms (L2), the binary tables and the deadline.
struct FlatQueries {
  const float* q = nullptr;
  const float* qnorm = nullptr;
  bool l2 = false;
  const std::uint8_t* luts = nullptr;  // binary: lut_bytes per query
  std::size_t lut_bytes = 0;
  const BinaryQuery* bq = nullptr;
  const Deadline* deadline = nullptr;
};

// The fast-scan bound for a binary scan: a code whose kernel sum exceeds it cannot
// beat the heap threshold thr. Returns false when no code can.
bool binary_sum_limit(const FlatStorage& s, const FlatQueries& fq, std::size_t qi, float thr,
                      std::uint16_t* limit);

// The allowed rows in ascending order (rows < 2^32).
std::vector<std::uint32_t> allowed_rows(const std::uint64_t* allow, std::size_t n, std::size_t allowed);

// Whether scoring the listed allowed rows costs less than the block scan, from a cost
// model measured on both scans (see flat_allowed.cpp): n rows of which `allowed` pass,
// spread over `active` panels; nq queries in `groups` query groups (each gathers the
// rows once).
bool allowed_scan_pays(const FlatStorage& s, std::size_t allowed, std::size_t active, std::size_t nq,
                       std::size_t groups);

// Pushes the distances of queries [q0, q1) to rows[0, count) into heaps[0, q1 - q0),
// row by row in the order listed.
void scan_allowed(const FlatStorage& s, const FlatQueries& fq, const std::uint32_t* rows,
                  std::size_t count, std::size_t q0, std::size_t q1, TopK<idx_t>* heaps);

}  // namespace warpsearch::detail
