// SPDX-FileCopyrightText: 2026 warpsearch contributors
// SPDX-License-Identifier: Apache-2.0
// make_hits: search results (distances and row numbers of one segment) turned into lists
// of result tuples. This is binding glue, not engine logic: it only creates Python
// objects, and doing it here costs a few nanoseconds per hit where the same loop in
// Python costs about a microsecond (tuple-subclass creation dominates a collection's
// one-query search at large k). The GIL is held throughout.
// split_json_array: the elements of a JSON array as written by a compact encoder, each
// as its own bytes (a batch of payloads encoded in one call, stored one per point).
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <cstdint>
#include <string>

#include "warpsearch/errors.hpp"

namespace py = pybind11;

namespace warpsearch::bindings {
namespace {

py::list make_hits(py::object hit_type, const py::array& uids, py::object raws,
                   const py::array_t<float, py::array::c_style>& D,
                   const py::array_t<std::int64_t, py::array::c_style>& R) {
  if (!PyType_Check(hit_type.ptr()) ||
      !PyType_IsSubtype(reinterpret_cast<PyTypeObject*>(hit_type.ptr()), &PyTuple_Type))
    throw py::type_error("hit_type must be a subclass of tuple");
  auto* tp = reinterpret_cast<PyTypeObject*>(hit_type.ptr());
  if (!uids.dtype().is(py::dtype("O")) || uids.ndim() != 1 ||
      !(uids.flags() & py::array::c_style))
    throw py::type_error("uids must be a 1-D C-contiguous object array");
  const bool with_payload = !raws.is_none();
  if (with_payload && !PyList_Check(raws.ptr())) throw py::type_error("raws must be a list or None");
  WS_EXPECTS(D.ndim() == 2 && R.ndim() == 2 && D.shape(0) == R.shape(0) && D.shape(1) == R.shape(1),
             "D and R must be 2-D arrays of the same shape");
  const py::ssize_t nq = R.shape(0), k = R.shape(1), n = uids.shape(0);
  const py::ssize_t nraws = with_payload ? PyList_GET_SIZE(raws.ptr()) : 0;
  auto* const* ids = reinterpret_cast<PyObject* const*>(uids.data());
  const float* d = D.data();
  const std::int64_t* r = R.data();
  py::list out(nq);
  for (py::ssize_t q = 0; q < nq; ++q) {
    py::ssize_t c = 0;
    while (c < k && r[q * k + c] >= 0) ++c;
    py::list row(c);
    for (py::ssize_t j = 0; j < c; ++j) {
      const std::int64_t i = r[q * k + j];
      WS_EXPECTS(i < n && (!with_payload || i < nraws), "row ", i, " is out of range");
      PyObject* t = tp->tp_alloc(tp, 3);
      if (!t) throw py::error_already_set();
      PyObject* id = ids[i] ? ids[i] : Py_None;
      Py_INCREF(id);
      PyTuple_SET_ITEM(t, 0, id);
      PyObject* score = PyFloat_FromDouble(double(d[q * k + j]));
      if (!score) {
        Py_DECREF(t);
        throw py::error_already_set();
      }
      PyTuple_SET_ITEM(t, 1, score);
      PyObject* p = with_payload ? PyList_GET_ITEM(raws.ptr(), i) : Py_None;
      Py_INCREF(p);
      PyTuple_SET_ITEM(t, 2, p);
      // A result holding only atomic objects (an int or str id, a float, payload bytes)
      // cannot be part of a reference cycle: keep it out of the cyclic collector, as
      // CPython does for plain tuples of atoms. Without this, keeping many results alive
      // makes each garbage collection walk all of them.
      if ((PyLong_CheckExact(id) || PyUnicode_CheckExact(id)) && (p == Py_None || PyBytes_CheckExact(p)))
        PyObject_GC_UnTrack(t);
      PyList_SET_ITEM(row.ptr(), j, t);
    }
    PyList_SET_ITEM(out.ptr(), q, row.release().ptr());
  }
  return out;
}

py::list split_json_array(const py::bytes& blob) {
  char* data = nullptr;
  Py_ssize_t len = 0;
  PyBytes_AsStringAndSize(blob.ptr(), &data, &len);
  WS_EXPECTS(len >= 2 && data[0] == '[' && data[len - 1] == ']', "not a JSON array");
  py::list out;
  if (len == 2) return out;
  int depth = 0;
  bool in_str = false, esc = false;
  Py_ssize_t start = 1;
  auto emit = [&](Py_ssize_t end) {
    WS_EXPECTS(end > start, "empty element in a JSON array");
    PyObject* b = PyBytes_FromStringAndSize(data + start, end - start);
    if (!b) throw py::error_already_set();
    out.append(py::reinterpret_steal<py::object>(b));
  };
  for (Py_ssize_t i = 1; i < len - 1; ++i) {
    const char c = data[i];
    if (in_str) {
      if (esc) esc = false;
      else if (c == '\\') esc = true;
      else if (c == '"') in_str = false;
      continue;
    }
    if (c == '"') {
      in_str = true;
    } else if (c == '{' || c == '[') {
      ++depth;
    } else if (c == '}' || c == ']') {
      WS_EXPECTS(--depth >= 0, "unbalanced JSON array");
    } else if (c == ',' && depth == 0) {
      emit(i);
      start = i + 1;
    }
  }
  WS_EXPECTS(depth == 0 && !in_str, "unbalanced JSON array");
  emit(len - 1);
  return out;
}

}  // namespace

void register_results(py::module_& m) {
  m.def("split_json_array", &split_json_array, py::arg("blob"),
        R"doc(The elements of a compact JSON array (no whitespace between elements, as
orjson writes it) as a list of bytes, each exactly as the encoder wrote that element.)doc");
  m.def("make_hits", &make_hits, py::arg("hit_type"), py::arg("uids"), py::arg("raws"),
        py::arg("D"), py::arg("R"),
        R"doc(Lists of hit_type(uids[r], D[q, j], raws[r]) per query row q, for the rows r =
R[q, j] >= 0 of each row (rows end at the first negative one). hit_type: a tuple
subclass; uids: a 1-D object array; raws: a list indexed by row (None: payload None).)doc");
}

}  // namespace warpsearch::bindings
