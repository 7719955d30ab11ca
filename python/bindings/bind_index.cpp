// SPDX-FileCopyrightText: 2026 warpsearch contributors
// SPDX-License-Identifier: Apache-2.0
// Index classes. Pointers are taken while holding the GIL; the GIL is released
// around pure C++ work (no Python object is touched there, so it is safe).
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include "numpy_utils.hpp"
#include "warpsearch/brute_force.hpp"
#include "warpsearch/hnsw.hpp"
#include "warpsearch/index.hpp"

namespace py = pybind11;

namespace warpsearch::bindings {
namespace {

void add(Index& idx, const FloatArray& x, const std::optional<IdArray>& ids) {
  expect_matrix(x, idx.dim(), "vectors");
  const idx_t* ip = nullptr;
  if (ids) {
    expect_vector(*ids, x.shape(0), "ids");
    ip = ids->data();
  }
  const float* xp = x.data();
  const std::size_t n = std::size_t(x.shape(0));
  NoGil nogil;
  idx.add(xp, n, ip);
}

std::size_t remove(Index& idx, const IdArray& ids) {
  expect_vector(ids, -1, "ids");
  const idx_t* p = ids.data();
  const std::size_t n = std::size_t(ids.shape(0));
  NoGil nogil;
  return idx.remove(p, n);
}

// timeout: seconds from this call (see deadline_after); the CPU search then raises
// TimeoutError once it passes.
py::tuple search(const Index& idx, const FloatArray& q, int k, int ef, int rerank,
                 const std::optional<IdArray>& allow_ids, const std::optional<MaskArray>& mask,
                 const std::optional<double>& timeout) {
  SearchParams p;
  p.deadline = deadline_after(timeout);
  expect_matrix(q, idx.dim(), "queries");
  WS_EXPECTS(k > 0, "k must be > 0, got ", k);
  const std::size_t nq = std::size_t(q.shape(0));
  py::array_t<float> D({py::ssize_t(nq), py::ssize_t(k)});
  py::array_t<std::int64_t> I({py::ssize_t(nq), py::ssize_t(k)});
  p.k = k;
  p.ef = ef;
  p.rerank = rerank;
  p.filter = make_filter(allow_ids, mask);
  SearchStats st;
  const float* qp = q.data();
  float* dp = D.mutable_data();
  std::int64_t* ipt = I.mutable_data();
  {
    NoGil nogil;
    idx.search(qp, nq, p, dp, ipt, &st);
  }
  py::dict stats;
  stats["distance_evals"] = st.distance_evals;
  stats["nodes_visited"] = st.nodes_visited;
  stats["allowed"] = st.allowed;
  static const char* plans[] = {"graph", "brute_force", "filtered_graph"};
  stats["plan"] = plans[st.plan];
  // HNSW with a quantized walk: the bytes of stored vectors its re-rank read
  if (st.refine_bytes) stats["refine_bytes"] = st.refine_bytes;
  return py::make_tuple(D, I, stats);
}

py::tuple reconstruct(const Index& idx, const IdArray& ids) {
  expect_vector(ids, -1, "ids");
  const std::size_t n = std::size_t(ids.shape(0));
  py::array_t<float> out({py::ssize_t(n), py::ssize_t(idx.dim())});
  py::array_t<bool> found{py::ssize_t(n)};
  std::vector<bool> f;
  {
    const idx_t* ip = ids.data();
    float* op = out.mutable_data();
    NoGil nogil;
    f = idx.reconstruct(ip, n, op);
  }
  auto fp = found.mutable_data();
  for (std::size_t i = 0; i < n; ++i) fp[i] = f[i];
  return py::make_tuple(out, found);
}

}  // namespace

void register_index(py::module_& m) {
  py::class_<Index>(m, "Index")
      .def_property_readonly("dim", &Index::dim)
      .def_property_readonly("metric", [](const Index& i) { return metric_name(i.metric()); })
      .def_property_readonly("type_name", &Index::type_name)
      .def_property_readonly("next_id", &Index::next_id)
      .def("size", &Index::size)
      .def("add", &add, py::arg("x"), py::arg("ids") = py::none())
      .def("remove", &remove, py::arg("ids"))
      .def("search", &search, py::arg("q"), py::arg("k"), py::arg("ef") = 64,
           py::arg("rerank") = -1, py::arg("allow_ids") = py::none(), py::arg("mask") = py::none(),
           py::arg("timeout") = py::none())
      .def("save", &Index::save, py::arg("path"), py::call_guard<NoGil>())
      .def("memory_usage", &Index::memory_usage)
      .def("mapped_bytes", &Index::mapped_bytes)
      .def("verify", &Index::verify, py::call_guard<NoGil>())
      .def("contains", &Index::contains, py::arg("id"))
      .def("ids", [](const Index& i) {
        auto v = i.ids();
        return py::array_t<std::int64_t>(py::ssize_t(v.size()), v.data());
      })
      .def("reconstruct", &reconstruct, py::arg("ids"));

  py::class_<FlatIndex, Index>(m, "FlatIndex")
      .def(py::init([](int dim, const std::string& metric, const std::string& storage,
                       const std::string& refine) {
             return std::make_unique<FlatIndex>(dim, parse_metric(metric), parse_storage(storage),
                                                parse_refine(refine));
           }),
           py::arg("dim"), py::arg("metric"), py::arg("storage") = "fp32", py::arg("refine") = "none")
      .def_property_readonly("storage", [](const FlatIndex& i) { return storage_name(i.storage()); })
      .def_property_readonly("refine", [](const FlatIndex& i) { return refine_name(i.refine()); })
      .def_property_readonly("bytes_per_vector", &FlatIndex::bytes_per_vector)
      .def("train", [](FlatIndex& idx, const FloatArray& x) {
             expect_matrix(x, idx.dim(), "vectors");
             const float* xp = x.data();
             const std::size_t n = std::size_t(x.shape(0));
             NoGil nogil;
             idx.train(xp, n);
           }, py::arg("x"));

  py::class_<HnswIndex, Index>(m, "HnswIndex")
      .def(py::init([](int dim, const std::string& metric, int M, int ef_construction,
                       bool quantized, std::uint64_t seed, int sq_bits, const std::string& storage) {
             HnswParams p;
             p.M = M;
             p.ef_construction = ef_construction;
             p.quantized = quantized;
             p.seed = seed;
             p.sq_bits = sq_bits;
             p.storage = parse_storage(storage);
             return std::make_unique<HnswIndex>(dim, parse_metric(metric), p);
           }),
           py::arg("dim"), py::arg("metric"), py::arg("M"), py::arg("ef_construction"),
           py::arg("quantized"), py::arg("seed"), py::arg("sq_bits") = 0, py::arg("storage") = "fp32")
      .def_property_readonly("storage", [](const HnswIndex& i) { return storage_name(i.params().storage); })
      .def_property_readonly("M", [](const HnswIndex& i) { return i.params().M; })
      .def_property_readonly("ef_construction", [](const HnswIndex& i) { return i.params().ef_construction; })
      .def_property_readonly("quantized", [](const HnswIndex& i) { return i.params().quantized; })
      .def_property_readonly("sq_bits", [](const HnswIndex& i) { return i.params().sq_bits; })
      .def("reorder", &HnswIndex::reorder, py::call_guard<NoGil>())
      .def("consolidate", &HnswIndex::consolidate, py::call_guard<NoGil>());

  m.def("load_index", &load_index, py::arg("path"), py::arg("mmap") = false,
        py::call_guard<NoGil>());
}

}  // namespace warpsearch::bindings
