// SPDX-FileCopyrightText: 2026 warpsearch contributors
// SPDX-License-Identifier: Apache-2.0
// The private extension module warpsearch._core: registration only.
#include <pybind11/pybind11.h>

namespace py = pybind11;

namespace warpsearch::bindings {
void register_info(py::module_& m);
void register_index(py::module_& m);
void register_gpu(py::module_& m);
void register_ivf_pq(py::module_& m);
void register_merge(py::module_& m);
void register_results(py::module_& m);
#ifdef WARPSEARCH_TEST_HOOKS
void register_test_hooks(py::module_& m);  // cpp/tests/bind_test_hooks.cpp
#endif
}  // namespace warpsearch::bindings

PYBIND11_MODULE(_core, m) {
  m.doc() = "warpsearch compiled engine (private; use the warpsearch package)";
#ifdef WARPSEARCH_VERSION
  m.attr("__version__") = WARPSEARCH_VERSION;
#else
  m.attr("__version__") = "dev";
#endif
  warpsearch::bindings::register_info(m);
  warpsearch::bindings::register_index(m);
  warpsearch::bindings::register_gpu(m);
  warpsearch::bindings::register_ivf_pq(m);
  warpsearch::bindings::register_merge(m);
  warpsearch::bindings::register_results(m);
#ifdef WARPSEARCH_TEST_HOOKS
  warpsearch::bindings::register_test_hooks(m);
#endif
}
