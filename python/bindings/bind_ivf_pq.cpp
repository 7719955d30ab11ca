// SPDX-FileCopyrightText: 2026 warpsearch contributors
// SPDX-License-Identifier: Apache-2.0
// IVF-PQ index and k-means (the test-only quantizer bindings: cpp/tests/bind_test_hooks.cpp). Pointers are taken while holding the
// GIL; the GIL is released around pure C++ work (no Python object is touched there).
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <optional>

#include "numpy_utils.hpp"
#include "warpsearch/ivf_pq.hpp"
#include "warpsearch/kmeans.hpp"
#include "warpsearch/quantization.hpp"

namespace py = pybind11;

namespace warpsearch::bindings {
namespace {

// timeout: seconds from this call (see deadline_after); the CPU search then raises
// TimeoutError once it passes.
py::tuple search_ivf(const IvfPqIndex& idx, const FloatArray& q, int k, int nprobe,
                     int refine_factor, int rerank, const std::optional<IdArray>& allow_ids,
                     const std::optional<MaskArray>& mask, bool adaptive,
                     const std::optional<double>& timeout) {
  SearchParams p;
  p.deadline = deadline_after(timeout);
  expect_matrix(q, idx.dim(), "queries");
  WS_EXPECTS(k > 0, "k must be > 0, got ", k);
  const std::size_t nq = std::size_t(q.shape(0));
  py::array_t<float> D({py::ssize_t(nq), py::ssize_t(k)});
  py::array_t<std::int64_t> I({py::ssize_t(nq), py::ssize_t(k)});
  p.k = k;
  p.rerank = rerank;
  p.filter = make_filter(allow_ids, mask);
  IvfSearchParams sp;
  sp.nprobe = nprobe;
  sp.refine_factor = refine_factor;
  sp.adaptive = adaptive;
  SearchStats st;
  const float* qp = q.data();
  float* dp = D.mutable_data();
  std::int64_t* ip = I.mutable_data();
  {
    NoGil nogil;
    idx.search_ivf(qp, nq, p, sp, dp, ip, &st);
  }
  return py::make_tuple(D, I, ivf_stats_dict(st));
}

py::dict memory_dict(const IvfPqMemory& m) {
  py::dict d;
  d["codes"] = m.codes;
  d["ids"] = m.ids;
  d["refine"] = m.refine;
  d["id_map"] = m.id_map;
  d["centroids"] = m.centroids;
  d["total"] = m.total;
  return d;
}

IvfPqParams make_params(int nlist, int m, int nbits, const std::string& refine, std::uint64_t seed,
                        int kmeans_iters, int max_points_per_centroid, int opq = -1) {
  IvfPqParams p;
  p.nlist = nlist;
  p.m = m;
  p.nbits = nbits;
  p.refine = parse_refine(refine);
  p.seed = seed;
  p.kmeans_iters = kmeans_iters;
  p.max_points_per_centroid = max_points_per_centroid;
  p.opq = opq;
  return p;
}

}  // namespace

void register_ivf_pq(py::module_& m) {
  py::class_<IvfPqIndex, Index>(m, "IvfPqIndex")
      .def(py::init([](int dim, const std::string& metric, int nlist, int mm, int nbits,
                       const std::string& refine, std::uint64_t seed, int kmeans_iters,
                       int max_points_per_centroid, int opq) {
             return std::make_unique<IvfPqIndex>(
                 dim, parse_metric(metric),
                 make_params(nlist, mm, nbits, refine, seed, kmeans_iters, max_points_per_centroid, opq));
           }),
           py::arg("dim"), py::arg("metric"), py::arg("nlist"), py::arg("m"), py::arg("nbits"),
           py::arg("refine"), py::arg("seed"), py::arg("kmeans_iters"),
           py::arg("max_points_per_centroid"), py::arg("opq") = -1)
      .def("train",
           [](IvfPqIndex& idx, const FloatArray& x, int device) {
             expect_matrix(x, idx.dim(), "training vectors");
             const float* xp = x.data();
             const std::size_t n = std::size_t(x.shape(0));
             NoGil nogil;
             idx.train(xp, n, device);
           },
           py::arg("x"), py::arg("device") = -1)
      .def_property_readonly("is_trained", &IvfPqIndex::is_trained)
      .def_property_readonly("nlist", [](const IvfPqIndex& i) { return i.params().nlist; })
      .def_property_readonly("m", [](const IvfPqIndex& i) { return i.params().m; })
      .def_property_readonly("nbits", [](const IvfPqIndex& i) { return i.params().nbits; })
      .def_property_readonly("refine", [](const IvfPqIndex& i) { return refine_name(i.params().refine); })
      .def_property_readonly("opq", [](const IvfPqIndex& i) { return i.params().opq; })
      .def("rotation", [](const IvfPqIndex& idx) -> py::object {
        auto r = idx.rotation();
        if (r.empty()) return py::none();
        py::array_t<float> out({py::ssize_t(idx.dim()), py::ssize_t(idx.dim())});
        std::copy(r.begin(), r.end(), out.mutable_data());
        return out;
      })
      .def("search_ivf", &search_ivf, py::arg("q"), py::arg("k"), py::arg("nprobe"),
           py::arg("refine_factor"), py::arg("rerank") = -1, py::arg("allow_ids") = py::none(),
           py::arg("mask") = py::none(), py::arg("adaptive") = true,
           py::arg("timeout") = py::none())
      .def("probe_gaps", [](const IvfPqIndex& idx) {
        const auto t = idx.probe_gaps();
        py::array_t<float> out({py::ssize_t(t.size() / 2), py::ssize_t(2)});
        std::copy(t.begin(), t.end(), out.mutable_data());
        return out;
      })
      .def("set_search_defaults",
           [](IvfPqIndex& idx, int nprobe, int refine_factor) {
             IvfSearchParams p;
             p.nprobe = nprobe;
             p.refine_factor = refine_factor;
             idx.set_search_defaults(p);
           },
           py::arg("nprobe"), py::arg("refine_factor"))
      .def("centroids", [](const IvfPqIndex& idx) {
        auto c = idx.centroids();
        const py::ssize_t k = py::ssize_t(c.size() / std::size_t(idx.dim()));
        py::array_t<float> out({k, py::ssize_t(idx.dim())});
        std::copy(c.begin(), c.end(), out.mutable_data());
        return out;
      })
      .def("pq_codebook", [](const IvfPqIndex& idx) {
        auto c = idx.pq_codebook();
        return py::array_t<float>(py::ssize_t(c.size()), c.data());
      })
      .def("list_sizes", &IvfPqIndex::list_sizes)
      .def_static("estimate_memory",
                  [](std::size_t n, int dim, int nlist, int mm, int nbits, const std::string& refine,
                     const std::string& metric, bool id_map) {
                    return memory_dict(IvfPqIndex::estimate_memory(
                        n, dim, make_params(nlist, mm, nbits, refine, 0, 1, 1), parse_metric(metric),
                        id_map));
                  },
                  py::arg("n"), py::arg("dim"), py::arg("nlist"), py::arg("m"), py::arg("nbits"),
                  py::arg("refine"), py::arg("metric") = "l2", py::arg("id_map") = false);

  m.def("kmeans",
        [](const FloatArray& x, std::size_t k, int iters, std::uint64_t seed, int max_ppc, int device,
           bool objective) {
          WS_EXPECTS(x.ndim() == 2, "points must be 2-D");
          const std::size_t n = std::size_t(x.shape(0)), d = std::size_t(x.shape(1));
          py::array_t<float> c({py::ssize_t(k), py::ssize_t(d)});
          KMeansParams p;
          p.iters = iters;
          p.seed = seed;
          p.max_points_per_centroid = max_ppc;
          p.device = device;
          p.objective = objective;
          const float* xp = x.data();
          float* cp = c.mutable_data();
          double obj;
          {
            NoGil nogil;
            obj = kmeans(xp, n, d, k, p, cp);
          }
          return py::make_tuple(c, obj);
        },
        py::arg("x"), py::arg("k"), py::arg("iters"), py::arg("seed"),
        py::arg("max_points_per_centroid"), py::arg("device") = -1, py::arg("objective") = true);
}

}  // namespace warpsearch::bindings
