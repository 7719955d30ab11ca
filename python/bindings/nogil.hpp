// SPDX-FileCopyrightText: 2026 warpsearch contributors
// SPDX-License-Identifier: Apache-2.0
#pragma once
// NoGil: releases the GIL around an engine call, as py::gil_scoped_release does, for
// every binding (py::call_guard<NoGil>() or a scoped object).
//
// The difference is at interpreter exit. A daemon thread (a collection's background
// indexer) can be inside an engine call when the interpreter begins to finalize; on
// Python before 3.14, taking the GIL back then ends the thread with a forced unwind,
// which std::terminate()s the process when it crosses the noexcept destructor of
// py::gil_scoped_release ("terminate called without an active exception"). Here a
// thread that finds the interpreter finalizing is parked (the process is exiting, and
// the thread ends with it); one that was already waiting for the GIL when the
// finalization began is ended by Python as it would end a thread running Python code:
// the destructor lets that unwind through (pybind11 passes it on).
#include <Python.h>

#include <chrono>
#include <thread>

namespace warpsearch::bindings {

class NoGil {
 public:
  NoGil() : state_(PyEval_SaveThread()) {}
  ~NoGil() noexcept(false) {
    if (finalizing()) park();
    PyEval_RestoreThread(state_);
  }
  NoGil(const NoGil&) = delete;
  NoGil& operator=(const NoGil&) = delete;

 private:
  static bool finalizing() {
#if PY_VERSION_HEX >= 0x030D0000
    return Py_IsFinalizing() != 0;
#else
    return _Py_IsFinalizing() != 0;
#endif
  }
  [[noreturn]] static void park() {
    for (;;) std::this_thread::sleep_for(std::chrono::hours(1));
  }
  PyThreadState* state_;
};

}  // namespace warpsearch::bindings
