// SPDX-FileCopyrightText: 2026 warpsearch contributors
// SPDX-License-Identifier: Apache-2.0
#pragma once
// Shape checks for arrays crossing into the engine. Arrays arrive already
// converted by the Python layer (no forcecast here: copies are made in Python).
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <chrono>
#include <optional>

#include "nogil.hpp"
#include "warpsearch/errors.hpp"
#include "warpsearch/types.hpp"

namespace warpsearch::bindings {
namespace py = pybind11;

using FloatArray = py::array_t<float, py::array::c_style>;
using IdArray = py::array_t<std::int64_t, py::array::c_style>;
using MaskArray = py::array_t<std::uint8_t, py::array::c_style>;

inline void expect_matrix(const FloatArray& a, int dim, const char* what) {
  WS_EXPECTS(a.ndim() == 2, what, " must be 2-D, got ", a.ndim(), "-D");
  WS_EXPECTS(a.shape(1) == dim, what, " has dimension ", a.shape(1), ", index has ", dim);
}

inline void expect_vector(const IdArray& a, py::ssize_t n, const char* what) {
  WS_EXPECTS(a.ndim() == 1, what, " must be 1-D");
  WS_EXPECTS(n < 0 || a.shape(0) == n, what, " has length ", a.shape(0), ", expected ", n);
}

// The deadline of a search from its `timeout` argument: seconds, relative, counted from
// the moment the binding is entered (so the wait for the index lock and every step of
// the search count, the Python code before the call does not). None, or more than 1e9
// seconds (inf included): no deadline. Not positive or NaN: ValueError.
inline std::chrono::steady_clock::time_point deadline_after(const std::optional<double>& timeout) {
  using Clock = std::chrono::steady_clock;
  if (!timeout) return Clock::time_point::max();
  const double t = *timeout;
  WS_EXPECTS(t > 0, "timeout must be a positive number of seconds, got ", t);  // NaN too
  if (t >= 1e9) return Clock::time_point::max();
  return Clock::now() + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(t));
}

// The search filter from its two Python forms (allowed ids, or a mask indexed by id).
// The arrays must outlive the search that uses the returned view.
inline Filter make_filter(const std::optional<IdArray>& allow_ids,
                          const std::optional<MaskArray>& mask) {
  Filter f;
  if (allow_ids) {
    expect_vector(*allow_ids, -1, "filter ids");
    f.use_ids = true;
    f.ids = allow_ids->data();
    f.n_ids = std::size_t(allow_ids->shape(0));
  } else if (mask) {
    WS_EXPECTS(mask->ndim() == 1, "filter mask must be 1-D");
    f.use_mask = true;
    f.mask = mask->data();
    f.mask_len = std::size_t(mask->shape(0));
  }
  return f;
}

// The stats of an IVF-PQ search as the dict of last_search_info (CPU or GPU path).
inline py::dict ivf_stats_dict(const SearchStats& st) {
  static const char* plans[] = {"ivf", "brute_force", "filtered_ivf"};
  py::dict stats;
  stats["distance_evals"] = st.distance_evals;
  stats["nodes_visited"] = st.nodes_visited;
  stats["lists_probed"] = st.nodes_visited;
  stats["allowed"] = st.allowed;
  stats["plan"] = plans[st.plan < 0 || st.plan > 2 ? 0 : st.plan];
  stats["probe"] = st.adaptive ? "adaptive" : "fixed";
  stats["queries_widened"] = st.queries_widened;
  stats["cells_widened"] = st.cells_widened;
  stats["cells_exact"] = st.cells_exact;
  stats["queries_exact"] = st.queries_exact;
  stats["refine_bytes"] = st.refine_bytes;
  return stats;
}

}  // namespace warpsearch::bindings
