// SPDX-FileCopyrightText: 2026 warpsearch contributors
// SPDX-License-Identifier: Apache-2.0
// Tests only, never in a release build: the product quantizer and the fast-scan
// primitives bound for tests against NumPy (tests/test_ivf_pq.py, tests/test_ivf_opq.py).
// Compiled into _core by builds with WARPSEARCH_TEST_HOOKS or WARPSEARCH_CUDA_EMULATOR
// (ci/test_cuda_emulator.sh); module.cpp registers them there.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <optional>
#include <string>

#include "numpy_utils.hpp"
#include "warpsearch/errors.hpp"
#include "warpsearch/quantization.hpp"

namespace py = pybind11;

namespace warpsearch::bindings {
namespace {
using U8Array = py::array_t<std::uint8_t, py::array::c_style>;
}  // namespace

void register_test_hooks(py::module_& m) {
  // Private: the product quantizer and fast-scan primitives, for tests against NumPy.
  py::class_<ProductQuantizer>(m, "_ProductQuantizer")
      .def(py::init<int, int, int>(), py::arg("dim"), py::arg("m"), py::arg("nbits"))
      .def("train",
           [](ProductQuantizer& pq, const FloatArray& x, std::uint64_t seed) {
             expect_matrix(x, pq.dim(), "training vectors");
             const float* xp = x.data();
             const std::size_t n = std::size_t(x.shape(0));
             py::gil_scoped_release nogil;
             pq.train(xp, n, seed);
           },
           py::arg("x"), py::arg("seed") = 0)
      .def_property(
          "codebook",
          [](const ProductQuantizer& pq) {
            const auto& c = pq.codebook();
            py::array_t<float> out({py::ssize_t(pq.m()), py::ssize_t(pq.ksub()), py::ssize_t(pq.dsub())});
            std::copy(c.begin(), c.end(), out.mutable_data());
            return out;
          },
          [](ProductQuantizer& pq, const FloatArray& c) {
            pq.set_codebook(std::vector<float>(c.data(), c.data() + c.size()));
          })
      .def("encode",
           [](const ProductQuantizer& pq, const FloatArray& x) {
             expect_matrix(x, pq.dim(), "vectors");
             py::array_t<std::uint8_t> out({x.shape(0), py::ssize_t(pq.m())});
             pq.encode(x.data(), std::size_t(x.shape(0)), out.mutable_data());
             return out;
           })
      .def("compute_lut", [](const ProductQuantizer& pq, const FloatArray& q, const std::string& metric) {
        WS_EXPECTS(q.ndim() == 1 && q.shape(0) == pq.dim(), "query must be 1-D of length dim");
        py::array_t<float> out({py::ssize_t(pq.m()), py::ssize_t(pq.ksub())});
        pq.compute_lut(q.data(), parse_metric(metric), out.mutable_data());
        return out;
      });
  m.def("_quantize_lut", [](const FloatArray& lut, const std::optional<U8Array>& rshift) {
    WS_EXPECTS(lut.ndim() == 2 && lut.shape(1) == 16, "lut must be (m, 16)");
    const std::size_t mm = std::size_t(lut.shape(0));
    WS_EXPECTS(!rshift || std::size_t(rshift->size()) == fastscan_m_pad(mm), "rshift must have m_pad entries");
    py::array_t<std::uint8_t> out({py::ssize_t(fastscan_m_pad(mm)), py::ssize_t(16)});
    float scale, bias;
    quantize_lut(lut.data(), mm, out.mutable_data(), &scale, &bias, rshift ? rshift->data() : nullptr);
    return py::make_tuple(out, scale, bias);
  }, py::arg("lut"), py::arg("rshift") = py::none());
  m.def("_combine_lut16", [](const py::array_t<std::int16_t, py::array::c_style | py::array::forcecast>& P,
                             const py::array_t<std::int16_t, py::array::c_style | py::array::forcecast>& Q,
                             float cap, float unit, const std::optional<U8Array>& rshift) {
    WS_EXPECTS(P.ndim() == 2 && P.shape(1) == 16 && Q.ndim() == 2 && Q.shape(0) == P.shape(0) &&
                   Q.shape(1) == 16, "P and Q must both be (m, 16)");
    const std::size_t mm = std::size_t(P.shape(0));
    WS_EXPECTS(!rshift || std::size_t(rshift->size()) == fastscan_m_pad(mm), "rshift must have m_pad entries");
    py::array_t<std::uint8_t> out({py::ssize_t(fastscan_m_pad(mm)), py::ssize_t(16)});
    float bias = 0.f;
    const float scale = combine_lut16(P.data(), Q.data(), mm, cap, unit, out.mutable_data(), &bias,
                                      rshift ? rshift->data() : nullptr);
    return py::make_tuple(out, scale, bias);
  }, py::arg("P"), py::arg("Q"), py::arg("cap"), py::arg("unit"), py::arg("rshift") = py::none());
  m.def("_pack_fastscan", [](const U8Array& codes) {
    WS_EXPECTS(codes.ndim() == 2, "codes must be (n, m)");
    const std::size_t n = std::size_t(codes.shape(0)), mm = std::size_t(codes.shape(1));
    py::array_t<std::uint8_t> out{py::ssize_t(fastscan_bytes(n, mm))};
    pack_fastscan(codes.data(), n, mm, out.mutable_data());
    return out;
  });
  m.def("_fastscan_distances", [](const U8Array& packed, std::size_t n, std::size_t mm, const U8Array& lut8,
                                   const std::optional<U8Array>& rshift) {
    WS_EXPECTS(std::size_t(packed.size()) == fastscan_bytes(n, mm), "packed codes have the wrong size");
    WS_EXPECTS(std::size_t(lut8.size()) == fastscan_m_pad(mm) * 16, "lut8 has the wrong size");
    WS_EXPECTS(!rshift || std::size_t(rshift->size()) == fastscan_m_pad(mm), "rshift must have m_pad entries");
    py::array_t<std::uint16_t> out{py::ssize_t(n)};
    fastscan_distances(packed.data(), n, mm, lut8.data(), out.mutable_data(), rshift ? rshift->data() : nullptr);
    return out;
  }, py::arg("packed"), py::arg("n"), py::arg("m"), py::arg("lut8"), py::arg("rshift") = py::none());
}

}  // namespace warpsearch::bindings
