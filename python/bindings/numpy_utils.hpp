// SPDX-FileCopyrightText: 2026 warpsearch contributors
// SPDX-License-Identifier: Apache-2.0
#pragma once
// Shape checks for arrays crossing into the engine. Arrays arrive already
// converted by the Python layer (no forcecast here: copies are made in Python).
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include "warpsearch/errors.hpp"

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

}  // namespace warpsearch::bindings
