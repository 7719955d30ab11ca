// SPDX-FileCopyrightText: 2026 warpsearch contributors
// SPDX-License-Identifier: Apache-2.0
// make_hits: search results (distances and row numbers of one segment) turned into lists
// of result tuples. This is binding glue, not engine logic: it only creates Python
// objects, and doing it here costs a few nanoseconds per hit where the same loop in
// Python costs about a microsecond (tuple-subclass creation dominates a collection's
// one-query search at large k). The GIL is held throughout.
// split_json_array: the elements of a JSON array as written by a compact encoder, each
// as its own bytes (a batch of payloads encoded in one call, stored one per point).
// float_rows: vectors parsed from a JSON body (lists of Python numbers) as one float32
// array, each value's type checked on the way (a server's batch of queries).
// gather_int_ids / payload_rows_json: a batch's ids as one int64 array and its payloads
// as one JSON document, for the server's binary answer (tens of thousands of hits).
// gather_slices: the stored payloads of a batch's hits cut from a segment's mapped
// payload file in one call (a Python slice per hit costs about a microsecond).
// scored_points_json: Qdrant's scored points (ids and scores only) of a batch written as
// JSON text per query, for the server's batch answers (a dict per hit costs more).
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <cfloat>
#include <charconv>
#include <cmath>
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
  const bool int_uids = uids.dtype().is(py::dtype::of<std::int64_t>());
  if (!(int_uids || uids.dtype().is(py::dtype("O"))) || uids.ndim() != 1 ||
      !(uids.flags() & py::array::c_style))
    throw py::type_error("uids must be a 1-D C-contiguous object or int64 array");
  const bool with_payload = !raws.is_none();
  if (with_payload && !PyList_Check(raws.ptr())) throw py::type_error("raws must be a list or None");
  WS_EXPECTS(D.ndim() == 2 && R.ndim() == 2 && D.shape(0) == R.shape(0) && D.shape(1) == R.shape(1),
             "D and R must be 2-D arrays of the same shape");
  const py::ssize_t nq = R.shape(0), k = R.shape(1), n = uids.shape(0);
  const py::ssize_t nraws = with_payload ? PyList_GET_SIZE(raws.ptr()) : 0;
  auto* const* ids = int_uids ? nullptr : reinterpret_cast<PyObject* const*>(uids.data());
  const auto* int_ids = int_uids ? static_cast<const std::int64_t*>(uids.data()) : nullptr;
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
      PyObject* id;
      if (int_uids) {
        id = PyLong_FromLongLong(int_ids[i]);
        if (!id) {
          Py_DECREF(t);
          throw py::error_already_set();
        }
      } else {
        id = ids[i] ? ids[i] : Py_None;
        Py_INCREF(id);
      }
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

// None (not an error) for anything but a list of lists of `dim` ints or floats (bools
// excluded) that are finite in float32: the caller then finds and names the bad row.
py::object float_rows(const py::list& rows, py::ssize_t dim) {
  WS_EXPECTS(dim > 0, "dim must be positive");
  const py::ssize_t n = PyList_GET_SIZE(rows.ptr());
  py::array_t<float> out({n, dim});
  float* o = out.mutable_data();
  for (py::ssize_t i = 0; i < n; ++i) {
    PyObject* row = PyList_GET_ITEM(rows.ptr(), i);
    if (!PyList_CheckExact(row) || PyList_GET_SIZE(row) != dim) return py::none();
    for (py::ssize_t j = 0; j < dim; ++j) {
      PyObject* v = PyList_GET_ITEM(row, j);
      double x;
      if (PyFloat_CheckExact(v)) {
        x = PyFloat_AS_DOUBLE(v);
      } else if (PyLong_CheckExact(v)) {  // not bool: a subclass of int
        x = PyLong_AsDouble(v);
        if (x == -1.0 && PyErr_Occurred()) {  // too large for a double
          PyErr_Clear();
          return py::none();
        }
      } else {
        return py::none();
      }
      if (!(std::fabs(x) <= double(FLT_MAX))) return py::none();  // NaN, inf, too large
      o[i * dim + j] = static_cast<float>(x);
    }
  }
  return std::move(out);
}

// uids[R[q, j]] as int64 with -1 where R < 0; None when one of them is not an int that
// fits int64 (string ids: the caller writes them as text).
py::object gather_int_ids(const py::array& uids, const py::array_t<std::int64_t, py::array::c_style>& R) {
  if (!uids.dtype().is(py::dtype("O")) || uids.ndim() != 1 || !(uids.flags() & py::array::c_style))
    throw py::type_error("uids must be a 1-D C-contiguous object array");
  WS_EXPECTS(R.ndim() == 2, "R must be a 2-D array");
  const py::ssize_t nq = R.shape(0), k = R.shape(1), n = uids.shape(0);
  auto* const* ids = reinterpret_cast<PyObject* const*>(uids.data());
  const std::int64_t* r = R.data();
  py::array_t<std::int64_t> out({nq, k});
  std::int64_t* o = out.mutable_data();
  for (py::ssize_t i = 0; i < nq * k; ++i) {
    if (r[i] < 0) {
      o[i] = -1;
      continue;
    }
    WS_EXPECTS(r[i] < n, "row ", r[i], " is out of range");
    PyObject* id = ids[r[i]];
    if (!id || !PyLong_CheckExact(id)) return py::none();
    int overflow = 0;
    const long long v = PyLong_AsLongLongAndOverflow(id, &overflow);
    if (overflow || (v == -1 && PyErr_Occurred())) {
      PyErr_Clear();
      return py::none();
    }
    o[i] = v;
  }
  return std::move(out);
}

// The JSON array of per-query arrays of payloads: raws[R[q, j]] spliced in as they are
// stored (JSON bytes; None or b"" as null), rows cut at the first R < 0. None when a
// payload is held decoded (not bytes): the caller encodes those itself.
py::object payload_rows_json(const py::list& raws, const py::array_t<std::int64_t, py::array::c_style>& R) {
  WS_EXPECTS(R.ndim() == 2, "R must be a 2-D array");
  const py::ssize_t nq = R.shape(0), k = R.shape(1), n = PyList_GET_SIZE(raws.ptr());
  const std::int64_t* r = R.data();
  std::string out;
  out.reserve(std::size_t(nq) * std::size_t(k) * 8 + 2);
  out += '[';
  for (py::ssize_t q = 0; q < nq; ++q) {
    if (q) out += ',';
    out += '[';
    for (py::ssize_t j = 0; j < k && r[q * k + j] >= 0; ++j) {
      const std::int64_t i = r[q * k + j];
      WS_EXPECTS(i < n, "row ", i, " is out of range");
      if (j) out += ',';
      PyObject* p = PyList_GET_ITEM(raws.ptr(), i);
      if (p == Py_None) {
        out += "null";
      } else if (PyBytes_CheckExact(p)) {
        const Py_ssize_t len = PyBytes_GET_SIZE(p);
        if (len == 0) out += "null";
        else out.append(PyBytes_AS_STRING(p), std::size_t(len));
      } else {
        return py::none();
      }
    }
    out += ']';
  }
  out += ']';
  return py::bytes(out);
}

// buf[off[r] : off[r + 1] - 1] as bytes for each r of rows (rows joined by one separator
// byte; r in [0, len(off) - 1)).
py::list gather_slices(const py::buffer& buf, const py::array_t<std::int64_t, py::array::c_style>& off,
                       const py::array_t<std::int64_t, py::array::c_style>& rows) {
  const py::buffer_info b = buf.request();
  WS_EXPECTS(b.ndim <= 1 && b.itemsize == 1, "buf must be a byte buffer");
  WS_EXPECTS(off.ndim() == 1 && rows.ndim() == 1, "off and rows must be 1-D arrays");
  const auto* data = static_cast<const char*>(b.ptr);
  const std::int64_t size = b.size, n = off.shape(0) - 1, m = rows.shape(0);
  const std::int64_t* o = off.data();
  const std::int64_t* r = rows.data();
  py::list out(m);
  for (std::int64_t i = 0; i < m; ++i) {
    const std::int64_t row = r[i];
    WS_EXPECTS(row >= 0 && row < n, "row ", row, " is out of range for ", n, " rows");
    const std::int64_t lo = o[row], hi = o[row + 1] - 1;
    WS_EXPECTS(0 <= lo && lo <= hi && hi <= size, "offsets of row ", row, " are out of range");
    PyObject* bytes = PyBytes_FromStringAndSize(data + lo, hi - lo);
    if (!bytes) throw py::error_already_set();
    PyList_SET_ITEM(out.ptr(), i, bytes);
  }
  return out;
}

py::list scored_points_json(const py::array_t<std::int64_t, py::array::c_style>& ids,
                            const py::array_t<double, py::array::c_style>& scores,
                            const py::array_t<std::int64_t, py::array::c_style>& lo,
                            const py::array_t<std::int64_t, py::array::c_style>& hi) {
  WS_EXPECTS(ids.ndim() == 2 && scores.ndim() == 2 && ids.shape(0) == scores.shape(0) &&
                 ids.shape(1) == scores.shape(1),
             "ids and scores must be 2-D arrays of the same shape");
  const py::ssize_t nq = ids.shape(0), k = ids.shape(1);
  WS_EXPECTS(lo.ndim() == 1 && hi.ndim() == 1 && lo.shape(0) == nq && hi.shape(0) == nq,
             "lo and hi must hold one entry per query");
  const std::int64_t* id = ids.data();
  const double* sc = scores.data();
  py::list out(nq);
  std::string s;
  char num[64];
  for (py::ssize_t q = 0; q < nq; ++q) {
    const std::int64_t a = lo.data()[q], b = hi.data()[q];
    WS_EXPECTS(0 <= a && a <= b && b <= k, "hits [", a, ", ", b, ") of query ", q,
               " are out of range");
    s.assign(1, '[');
    for (std::int64_t j = a; j < b; ++j) {
      if (j > a) s += ',';
      s += "{\"id\":";
      auto r = std::to_chars(num, num + sizeof num, id[q * k + j]);
      s.append(num, r.ptr);
      s += ",\"version\":0,\"score\":";
      const double v = sc[q * k + j];
      if (std::isfinite(v)) {  // the shortest text that reads back as the same double
        r = std::to_chars(num, num + sizeof num, v);
        s.append(num, r.ptr);
      } else {
        s += "null";  // as orjson writes a non-finite float
      }
      s += ",\"payload\":null,\"vector\":null}";
    }
    s += ']';
    PyObject* bytes = PyBytes_FromStringAndSize(s.data(), Py_ssize_t(s.size()));
    if (!bytes) throw py::error_already_set();
    PyList_SET_ITEM(out.ptr(), q, bytes);
  }
  return out;
}

}  // namespace

void register_results(py::module_& m) {
  m.def("scored_points_json", &scored_points_json, py::arg("ids"), py::arg("scores"),
        py::arg("lo"), py::arg("hi"),
        R"doc(Per query q, the JSON text of the list of ``{"id", "version": 0, "score",
"payload": null, "vector": null}`` for its hits ``lo[q] <= j < hi[q]`` (scores written as
the shortest text reading back as the same double; non-finite ones as null).)doc");
  m.def("gather_slices", &gather_slices, py::arg("buf"), py::arg("off"), py::arg("rows"),
        R"doc(``[bytes(buf[off[r]:off[r + 1] - 1]) for r in rows]``, bounds checked.)doc");
  m.def("gather_int_ids", &gather_int_ids, py::arg("uids"), py::arg("R"),
        R"doc(``uids[R]`` as an int64 array (-1 where ``R < 0``), or None when an id taken
is not an int within int64.)doc");
  m.def("payload_rows_json", &payload_rows_json, py::arg("raws"), py::arg("R"),
        R"doc(The JSON array of each row's payloads ``raws[R[q, j]]`` (stored JSON bytes;
None or empty as null), each row ending at its first negative entry; None when a payload
is not bytes.)doc");
  m.def("float_rows", &float_rows, py::arg("rows"), py::arg("dim"),
        R"doc(``rows`` (a list of lists of ``dim`` ints or floats, as parsed from JSON) as a
float32 ``(len(rows), dim)`` array; ``None`` when a row is not such a list (bools are not
numbers here) or a value is not finite in float32.)doc");
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
