// SPDX-FileCopyrightText: 2026 warpsearch contributors
// SPDX-License-Identifier: Apache-2.0
// merge_topk: the one top-k merge of result lists (segments, devices, shards), and
// exact_topk, the exact source of such lists over rows an index does not hold yet.
// Arrays are checked and their pointers taken while holding the GIL; the work itself
// touches no Python object, so it runs without the GIL.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include "nogil.hpp"
#include "warpsearch/errors.hpp"
#include "warpsearch/merge.hpp"

namespace py = pybind11;

namespace warpsearch::bindings {
namespace {

void expect_2d(const py::array& a, const char* name, const char* dtype, bool ok_dtype) {
  if (!ok_dtype)
    throw py::type_error(std::string(name) + " must be a " + dtype + " array, got dtype " +
                         py::str(a.dtype()).cast<std::string>());
  WS_EXPECTS(a.ndim() == 2, name, " must be 2-D (nq, m), got ", a.ndim(), "-D");
  WS_EXPECTS(a.flags() & py::array::c_style, name, " must be C-contiguous");
}

py::tuple merge(const py::array& D, const py::array& I, py::object k_obj, bool larger_is_better) {
  expect_2d(D, "D", "float32", D.dtype().is(py::dtype::of<float>()));
  expect_2d(I, "I", "int64", I.dtype().is(py::dtype::of<std::int64_t>()));
  WS_EXPECTS(D.shape(0) == I.shape(0) && D.shape(1) == I.shape(1), "D and I must have the same shape, got (",
             D.shape(0), ", ", D.shape(1), ") and (", I.shape(0), ", ", I.shape(1), ")");
  if (!py::isinstance<py::int_>(k_obj) || py::isinstance<py::bool_>(k_obj))
    throw py::type_error("k must be an int, got " + py::str(py::type::of(k_obj).attr("__name__")).cast<std::string>());
  const long long k = k_obj.cast<long long>();
  WS_EXPECTS(k > 0, "k must be > 0, got ", k);
  const std::size_t nq = std::size_t(D.shape(0)), m = std::size_t(D.shape(1));
  py::array_t<float> outD({py::ssize_t(nq), py::ssize_t(k)});
  py::array_t<std::int64_t> outI({py::ssize_t(nq), py::ssize_t(k)});
  const float* dp = static_cast<const float*>(D.data());
  const idx_t* ip = static_cast<const idx_t*>(I.data());
  float* od = outD.mutable_data();
  idx_t* oi = outI.mutable_data();
  {
    NoGil nogil;
    merge_topk(dp, ip, nq, m, std::size_t(k), larger_is_better, od, oi);
  }
  return py::make_tuple(outD, outI);
}

void expect_1d(const py::array& a, const char* name, py::ssize_t n) {
  WS_EXPECTS(a.ndim() == 1 && a.shape(0) == n, name, " must be 1-D of length ", n);
  WS_EXPECTS(a.flags() & py::array::c_style, name, " must be C-contiguous");
}

py::tuple exact(const py::array& V, const py::array& Q, long long k, const std::string& metric,
                const py::object& norms, const py::object& allow) {
  expect_2d(V, "V", "float32", V.dtype().is(py::dtype::of<float>()));
  expect_2d(Q, "Q", "float32", Q.dtype().is(py::dtype::of<float>()));
  WS_EXPECTS(V.shape(1) == Q.shape(1), "V has dimension ", V.shape(1), ", Q has ", Q.shape(1));
  WS_EXPECTS(k > 0, "k must be > 0, got ", k);
  const Metric mt = parse_metric(metric);
  const py::ssize_t n = V.shape(0);
  const float* np_ = nullptr;
  const std::uint8_t* ap = nullptr;
  py::array na, aa;
  if (!norms.is_none()) {
    na = norms.cast<py::array>();
    if (!na.dtype().is(py::dtype::of<float>())) throw py::type_error("norms must be float32");
    expect_1d(na, "norms", n);
    np_ = static_cast<const float*>(na.data());
  }
  if (!allow.is_none()) {
    aa = allow.cast<py::array>();
    if (aa.itemsize() != 1 || (aa.dtype().kind() != 'b' && aa.dtype().kind() != 'u'))
      throw py::type_error("allow must be a bool or uint8 array");
    expect_1d(aa, "allow", n);
    ap = static_cast<const std::uint8_t*>(aa.data());
  }
  const std::size_t nq = std::size_t(Q.shape(0)), d = std::size_t(V.shape(1));
  py::array_t<float> outD({py::ssize_t(nq), py::ssize_t(k)});
  py::array_t<std::int64_t> outI({py::ssize_t(nq), py::ssize_t(k)});
  const float* vp = static_cast<const float*>(V.data());
  const float* qp = static_cast<const float*>(Q.data());
  float* od = outD.mutable_data();
  idx_t* oi = outI.mutable_data();
  {
    NoGil nogil;
    exact_topk(vp, std::size_t(n), d, qp, nq, std::size_t(k), mt, np_, ap, od, oi);
  }
  return py::make_tuple(outD, outI);
}

}  // namespace

void register_merge(py::module_& m) {
  m.def("exact_topk", &exact, py::arg("V"), py::arg("Q"), py::arg("k"), py::arg("metric"),
        py::arg("norms") = py::none(), py::arg("allow") = py::none(),
        R"doc(Exact top-k of each row of Q (nq, d) over the rows of V (n, d), both float32
C-contiguous, scanned in place. metric 'l2' (squared distances, ascending), 'ip' or
'cosine' (similarities, descending; cosine: Q must hold unit vectors, norms the rows'
norms or None). allow: optional bool/uint8 (n,) of the rows that may be returned.
Returns (nq, k) float32 scores and int64 row numbers, padded with -1.)doc");
  m.def("merge_topk", &merge, py::arg("D"), py::arg("I"), py::arg("k"), py::arg("larger_is_better"),
        R"doc(The k best entries of each row of (D, I): (nq, m) float32 distances and int64 ids,
the concatenated results of several sources. Ascending distances (larger_is_better=False:
l2) or descending (True: ip, cosine); equal distances keep the earlier column first.
Entries with a negative id (the padding -1) or a NaN distance are ignored; an id repeated
in a row is kept once, at its best (first merged) occurrence. Returns new (nq, k)
float32 / int64 arrays, rows padded with id -1 and +inf (ascending) or -inf (descending).)doc");
}

}  // namespace warpsearch::bindings
