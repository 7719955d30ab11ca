// SPDX-FileCopyrightText: 2026 warpsearch contributors
// SPDX-License-Identifier: Apache-2.0
// GPU search: device-resident index copies and their search (host arrays or raw
// device pointers from __cuda_array_interface__ / DLPack). CUDA-free: the engine's
// GPU entry points are declared in warpsearch/gpu.hpp (stubs without CUDA).
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>


#include "numpy_utils.hpp"
#include "warpsearch/brute_force.hpp"
#include "warpsearch/gpu.hpp"
#include "warpsearch/hnsw.hpp"
#include "warpsearch/ivf_pq.hpp"

namespace py = pybind11;

namespace warpsearch::bindings {
namespace {

SearchParams make_params(int k, int ef, const std::optional<IdArray>& allow_ids,
                         const std::optional<MaskArray>& mask) {
  WS_EXPECTS(k > 0, "k must be > 0, got ", k);
  SearchParams p;
  p.k = k;
  p.ef = ef;
  p.filter = make_filter(allow_ids, mask);
  return p;
}

py::dict stats_dict(const SearchStats& st) {
  py::dict d;
  d["distance_evals"] = st.distance_evals;
  d["nodes_visited"] = st.nodes_visited;
  d["allowed"] = st.allowed;
  static const char* plans[] = {"graph", "brute_force", "filtered_graph"};
  d["plan"] = plans[st.plan < 0 || st.plan > 2 ? 0 : st.plan];
  return d;
}

// Runs the search of idx on dev; the GIL is released (no Python object is touched).
void run(const Index& idx, const py::object& dev, const float* q, std::size_t nq, const SearchParams& p,
         float* D, idx_t* I, SearchStats& st, MemSpace space) {
  if (auto* f = dynamic_cast<const FlatIndex*>(&idx)) {
    const auto& data = dev.cast<const GpuFlatData&>();
    NoGil nogil;
    f->search_gpu(data, q, nq, p, D, I, &st, space);
  } else if (auto* h = dynamic_cast<const HnswIndex*>(&idx)) {
    const auto& data = dev.cast<const GpuGraphData&>();
    NoGil nogil;
    h->search_gpu(data, q, nq, p, D, I, &st, space);
  } else {
    WS_EXPECTS(false, "GPU search is not available for index type '", idx.type_name(), "'");
  }
}

py::object to_device(const Index& idx, int device) {
  if (auto* f = dynamic_cast<const FlatIndex*>(&idx)) {
    std::unique_ptr<GpuFlatData> d;
    {
      NoGil nogil;
      d = f->to_device(device);
    }
    return py::cast(std::move(d));
  }
  if (auto* h = dynamic_cast<const HnswIndex*>(&idx)) {
    std::unique_ptr<GpuGraphData> d;
    {
      NoGil nogil;
      d = h->to_device(device);
    }
    return py::cast(std::move(d));
  }
  if (auto* v = dynamic_cast<const IvfPqIndex*>(&idx)) {
    std::unique_ptr<GpuIvfPqData> d;
    {
      NoGil nogil;
      d = v->to_device(device);
    }
    return py::cast(std::move(d));
  }
  WS_EXPECTS(false, "index type '", idx.type_name(), "' cannot be moved to a GPU");
  return py::none();
}

py::tuple search_host(const Index& idx, const py::object& dev, const FloatArray& q, int k, int ef,
                      const std::optional<IdArray>& allow_ids, const std::optional<MaskArray>& mask) {
  expect_matrix(q, idx.dim(), "queries");
  const SearchParams p = make_params(k, ef, allow_ids, mask);
  const std::size_t nq = std::size_t(q.shape(0));
  py::array_t<float> D({py::ssize_t(nq), py::ssize_t(k)});
  py::array_t<std::int64_t> I({py::ssize_t(nq), py::ssize_t(k)});
  SearchStats st;
  run(idx, dev, q.data(), nq, p, D.mutable_data(), I.mutable_data(), st, MemSpace::Host);
  return py::make_tuple(D, I, stats_dict(st));
}

// Device pointers (integers from __cuda_array_interface__): queries nq x dim float32,
// outputs nq x k float32 and int64, all C-contiguous on the data's device.
py::dict search_device(const Index& idx, const py::object& dev, std::uintptr_t q, std::size_t nq, int k,
                       int ef, const std::optional<IdArray>& allow_ids, const std::optional<MaskArray>& mask,
                       std::uintptr_t D, std::uintptr_t I) {
  const SearchParams p = make_params(k, ef, allow_ids, mask);
  WS_EXPECTS(nq == 0 || (q && D && I), "device pointers must not be null");
  SearchStats st;
  run(idx, dev, reinterpret_cast<const float*>(q), nq, p, reinterpret_cast<float*>(D),
      reinterpret_cast<idx_t*>(I), st, MemSpace::Device);
  return stats_dict(st);
}

IvfSearchParams ivf_params(int nprobe, int refine_factor, bool adaptive) {
  IvfSearchParams sp;
  sp.nprobe = nprobe;
  sp.refine_factor = refine_factor;
  sp.adaptive = adaptive;
  return sp;
}

LutType ivf_lut(const std::string& lut) {
  WS_EXPECTS(lut == "fp32" || lut == "fp16", "lut must be 'fp32' or 'fp16', got '", lut, "'");
  return lut == "fp16" ? LutType::FP16 : LutType::FP32;
}

py::tuple search_ivf(const IvfPqIndex& idx, const GpuIvfPqData& dev, const FloatArray& q, int k,
                     int nprobe, int refine_factor, int rerank, const std::optional<IdArray>& allow_ids,
                     const std::optional<MaskArray>& mask, const std::string& lut, bool adaptive) {
  expect_matrix(q, idx.dim(), "queries");
  const LutType lt = ivf_lut(lut);
  SearchParams p = make_params(k, 0, allow_ids, mask);
  p.rerank = rerank;
  const IvfSearchParams sp = ivf_params(nprobe, refine_factor, adaptive);
  const std::size_t nq = std::size_t(q.shape(0));
  py::array_t<float> D({py::ssize_t(nq), py::ssize_t(k)});
  py::array_t<std::int64_t> I({py::ssize_t(nq), py::ssize_t(k)});
  SearchStats st;
  const float* qp = q.data();
  float* dp = D.mutable_data();
  std::int64_t* ip = I.mutable_data();
  {
    NoGil nogil;
    idx.search_gpu(dev, qp, nq, p, sp, lt, dp, ip, &st, MemSpace::Host);
  }
  py::dict stats = ivf_stats_dict(st);
  stats["lut"] = lut;
  return py::make_tuple(D, I, stats);
}

// Device pointers (integers from __cuda_array_interface__): queries nq x dim float32,
// outputs nq x k float32 and int64, all C-contiguous on the copy's device.
py::dict search_ivf_device(const IvfPqIndex& idx, const GpuIvfPqData& dev, std::uintptr_t q, std::size_t nq,
                           int k, int nprobe, int refine_factor, const std::optional<IdArray>& allow_ids,
                           const std::optional<MaskArray>& mask, const std::string& lut, bool adaptive,
                           std::uintptr_t D, std::uintptr_t I) {
  const LutType lt = ivf_lut(lut);
  const SearchParams p = make_params(k, 0, allow_ids, mask);
  const IvfSearchParams sp = ivf_params(nprobe, refine_factor, adaptive);
  WS_EXPECTS(nq == 0 || (q && D && I), "device pointers must not be null");
  SearchStats st;
  {
    NoGil nogil;
    idx.search_gpu(dev, reinterpret_cast<const float*>(q), nq, p, sp, lt, reinterpret_cast<float*>(D),
                   reinterpret_cast<idx_t*>(I), &st, MemSpace::Device);
  }
  py::dict stats = ivf_stats_dict(st);
  stats["lut"] = lut;
  return stats;
}

py::tuple select_k(const FloatArray& vals, int k, bool select_min, int device) {
  WS_EXPECTS(vals.ndim() == 2, "values must be 2-D, got ", vals.ndim(), "-D");
  const std::size_t rows = std::size_t(vals.shape(0)), cols = std::size_t(vals.shape(1));
  py::array_t<float> out({py::ssize_t(rows), py::ssize_t(k)});
  py::array_t<std::int64_t> idx({py::ssize_t(rows), py::ssize_t(k)});
  const float* vp = vals.data();
  float* op = out.mutable_data();
  std::int64_t* ip = idx.mutable_data();
  {
    NoGil nogil;
    gpu_select_k(device, vp, rows, cols, k, select_min, op, ip);
  }
  return py::make_tuple(out, idx);
}

}  // namespace

void register_gpu(py::module_& m) {
  py::class_<GpuFlatData>(m, "GpuFlatData")
      .def_property_readonly("device", &GpuFlatData::device)
      .def("set_precision",
           [](GpuFlatData& d, const std::string& p, int rerank_factor) {
             WS_EXPECTS(p == "fp32" || p == "fp16" || p == "bf16",
                        "precision must be 'fp32', 'fp16' or 'bf16', got '", p, "'");
             const GpuPrecision gp = p == "fp16"   ? GpuPrecision::FP16
                                     : p == "bf16" ? GpuPrecision::BF16
                                                   : GpuPrecision::FP32;
             NoGil nogil;
             d.set_precision(gp, rerank_factor);
           },
           py::arg("precision"), py::arg("rerank_factor") = 4)
      .def_property_readonly("precision",
                             [](const GpuFlatData& d) {
                               const GpuPrecision p = d.precision();
                               return p == GpuPrecision::FP16 ? "fp16" : p == GpuPrecision::BF16 ? "bf16" : "fp32";
                             })
      .def("size", &GpuFlatData::size)
      .def("memory_usage", &GpuFlatData::memory_usage);
  py::class_<GpuGraphData>(m, "GpuGraphData")
      .def_property_readonly("device", &GpuGraphData::device)
      .def("size", &GpuGraphData::size)
      .def("memory_usage", &GpuGraphData::memory_usage);
  py::class_<GpuIvfPqData>(m, "GpuIvfPqData")
      .def_property_readonly("device", &GpuIvfPqData::device)
      .def("size", &GpuIvfPqData::size)
      .def("memory_usage", &GpuIvfPqData::memory_usage);
  m.attr("gpu_max_k") = kGpuMaxK;
  m.attr("gpu_max_graph_k") = kGpuMaxGraphK;
  m.def("to_device", &to_device, py::arg("index"), py::arg("device"));
  m.def("search_gpu", &search_host, py::arg("index"), py::arg("dev"), py::arg("q"), py::arg("k"),
        py::arg("ef") = 64, py::arg("allow_ids") = py::none(), py::arg("mask") = py::none());
  m.def("search_gpu_ptr", &search_device, py::arg("index"), py::arg("dev"), py::arg("q_ptr"),
        py::arg("nq"), py::arg("k"), py::arg("ef") = 64, py::arg("allow_ids") = py::none(),
        py::arg("mask") = py::none(), py::arg("d_ptr") = 0, py::arg("i_ptr") = 0);
  m.def("search_gpu_ivf", &search_ivf, py::arg("index"), py::arg("dev"), py::arg("q"), py::arg("k"),
        py::arg("nprobe"), py::arg("refine_factor"), py::arg("rerank") = -1, py::arg("allow_ids") = py::none(),
        py::arg("mask") = py::none(), py::arg("lut") = "fp32", py::arg("adaptive") = true);
  m.def("search_gpu_ivf_ptr", &search_ivf_device, py::arg("index"), py::arg("dev"), py::arg("q_ptr"),
        py::arg("nq"), py::arg("k"), py::arg("nprobe"), py::arg("refine_factor"), py::arg("allow_ids") = py::none(),
        py::arg("mask") = py::none(), py::arg("lut") = "fp32", py::arg("adaptive") = true, py::arg("d_ptr") = 0,
        py::arg("i_ptr") = 0);
  m.def("gpu_select_k", &select_k, py::arg("values"), py::arg("k"), py::arg("select_min") = true,
        py::arg("device") = 0);
}

}  // namespace warpsearch::bindings
