// SPDX-FileCopyrightText: 2026 warpsearch contributors
// SPDX-License-Identifier: Apache-2.0
// Build information, threads, SIMD level, devices and the exception types.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include "warpsearch/device.hpp"
#include "warpsearch/errors.hpp"
#include "warpsearch/threads.hpp"

namespace py = pybind11;

namespace warpsearch::bindings {

void register_info(py::module_& m) {
  static py::exception<CudaError> cuda_error(m, "CudaError", PyExc_RuntimeError);
  static py::exception<InternalError> internal_error(m, "InternalError", PyExc_RuntimeError);
  // a ValueError, as every invalid_argument; its own type so that callers retry on it
  py::register_exception<StaleDeviceCopyError>(m, "StaleDeviceCopyError", PyExc_ValueError);
  // a damaged file (checksum, truncation): a ValueError; the database raises the same type
  py::register_exception<CorruptFileError>(m, "CorruptionError", PyExc_ValueError);
  // A search past its deadline raises Python's own TimeoutError (not a subclass): the
  // same type the database raises when the deadline passes between segments.
  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const TimeoutError& e) {
      PyErr_SetString(PyExc_TimeoutError, e.what());
    }
  });

  // The kernel table is chosen now, so that a bad WARPSEARCH_SIMD fails the import
  // with its message rather than a later call.
  simd_level();
  m.def("set_num_threads", &set_num_threads, py::arg("n"));
  m.def("set_thread_limit", &set_thread_limit, py::arg("n"),
        "Caps the threads of the calling thread's batch calls at n (0: no cap).");
  m.def("thread_limit", &thread_limit);
  m.def("get_num_threads", &get_num_threads);
  m.def("simd_level", &simd_level);
  m.def("simd_best", &simd_best);
  m.def("simd_compiled", &simd_compiled);
  m.def("set_simd_level", &set_simd_level, py::arg("level"));
  m.def("cuda_compiled", &cuda_compiled);
  m.def("cuda_device_count", &cuda_device_count);
  m.def("cuda_device_name", &cuda_device_name, py::arg("device"));
  // (free, total) bytes; (0, 0) without CUDA or without that device
  m.def("cuda_mem_info", &cuda_mem_info, py::arg("device"));
}

}  // namespace warpsearch::bindings
