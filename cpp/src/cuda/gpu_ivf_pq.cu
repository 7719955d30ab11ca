// SPDX-FileCopyrightText: 2026 warpsearch contributors
// SPDX-License-Identifier: Apache-2.0
// GpuIvfPqData: the device-resident copy of an IVF-PQ index, and the planner of its
// search: coarse probing (exact search over the centroids), then per chunk of queries
// the cell scan into a workspace, select-k over each query's row, and slots out.
#include <algorithm>
#include <cmath>
#include <vector>

#include "cuda/internal.cuh"
#include "cuda/ivf_pq.cuh"
#include "cuda/staging.cuh"
#include "ivf_pq/probe_gaps.hpp"
#include "warpsearch/errors.hpp"
#include "warpsearch/gpu.hpp"

namespace warpsearch {
namespace detail {

struct GpuIvfPqState {
  int device = 0;
  std::size_t n = 0, d = 0, nlist = 0, m = 0, code_bytes = 0;
  int nbits = 8;
  Metric metric = Metric::L2;
  std::vector<std::size_t> list_off;  // host copy, nlist + 1
  gpu::DeviceBuffer<float> probe_c, probe_norms, centroids, codebook;
  gpu::DeviceBuffer<idx_t> cell_ids;  // 0 .. nlist-1: labels of the coarse search
  gpu::DeviceBuffer<std::uint64_t> list_off_dev;
  gpu::DeviceBuffer<std::uint8_t> codes;
};

}  // namespace detail

using namespace detail::gpu;

namespace {
constexpr std::size_t kWorkspaceBytes = std::size_t(256) << 20;
}

GpuIvfPqData::GpuIvfPqData(int device) : s_(std::make_unique<detail::GpuIvfPqState>()) {
  expect_device(device);
  s_->device = device;
}

GpuIvfPqData::~GpuIvfPqData() {
  try {
    DeviceGuard guard(s_->device);
    s_.reset();
  } catch (...) {
  }
}

void GpuIvfPqData::upload(const IvfPqView& v) {
  WS_EXPECTS(v.nbits == 4 || v.nbits == 8, "nbits must be 4 or 8, got ", v.nbits);
  WS_EXPECTS(v.d >= 1 && v.m >= 1 && v.d % v.m == 0, "m must divide the dimension");
  WS_EXPECTS(v.n < std::size_t(kNoId) - 1024, "GPU IVF-PQ search supports up to 2^32 - 1025 vectors");
  DeviceGuard guard(s_->device);
  Stream stream;
  auto& s = *s_;
  s.nlist = v.nlist;
  s.n = v.n;
  s.d = v.d;
  s.m = v.m;
  s.nbits = v.nbits;
  s.metric = v.metric;
  s.code_bytes = v.nbits == 8 ? v.m : (v.m + 1) / 2;
  s.list_off.assign(v.list_offsets, v.list_offsets + v.nlist + 1);
  std::vector<std::uint64_t> off(s.list_off.begin(), s.list_off.end());
  std::vector<idx_t> cells(v.nlist);
  for (std::size_t l = 0; l < v.nlist; ++l) cells[l] = idx_t(l);
  // 4-bit codes: two sub-codes per byte, low nibble first.
  std::vector<std::uint8_t> packed;
  const std::uint8_t* codes = v.codes;
  if (v.nbits == 4) {
    packed.assign(v.n * s.code_bytes, 0);
    for (std::size_t i = 0; i < v.n; ++i)
      for (std::size_t j = 0; j < v.m; ++j)
        packed[i * s.code_bytes + j / 2] |= std::uint8_t((v.codes[i * v.m + j] & 15) << (4 * (j & 1)));
    codes = packed.data();
  }
  s.probe_c.upload(v.probe_centroids, v.nlist * v.d, stream.get());
  s.centroids.upload(v.centroids, v.nlist * v.d, stream.get());
  s.codebook.upload(v.codebook, v.m * (std::size_t(1) << v.nbits) * (v.d / v.m), stream.get());
  s.cell_ids.upload(cells.data(), v.nlist, stream.get());
  s.list_off_dev.upload(off.data(), off.size(), stream.get());
  s.codes.resize(v.n * s.code_bytes);
  s.codes.upload(codes, v.n * s.code_bytes, stream.get());
  s.probe_norms.resize(v.metric == Metric::L2 ? v.nlist : 0);
  if (v.metric == Metric::L2) row_sq_norms(s.probe_c.data(), v.nlist, v.d, s.probe_norms.data(), stream.get());
  stream.sync();  // the host staging buffers die here
}

void GpuIvfPqData::search(const float* q, std::size_t nq, int nprobe, int kc, const std::uint64_t* allow,
                          LutType lut, float* keys, idx_t* slots, GpuSearchStats* stats, float gap) const {
  WS_EXPECTS(kc >= 1 && kc <= kGpuMaxK, "candidates must be in [1, ", kGpuMaxK, "] on the GPU, got ", kc);
  WS_EXPECTS(nprobe >= 1, "nprobe must be >= 1, got ", nprobe);
  const auto& s = *s_;
  DeviceGuard guard(s.device);
  const bool fp16 = lut == LutType::FP16;
  const DeviceInfo info = device_info(s.device);
  const std::size_t smem = ivf_scan_smem(int(s.d), int(s.m), s.nbits, fp16);
  WS_EXPECTS(smem <= std::size_t(info.smem_optin), "GPU IVF-PQ search needs ", smem,
             " bytes of shared memory for the lookup table (m=", s.m, ", nbits=", s.nbits,
             "); the device has ", info.smem_optin, fp16 ? "" : ": use lut='fp16'",
             fp16 ? ": search on the CPU" : " or the CPU");
  const std::size_t count = nq * std::size_t(kc);
  Stream stream;
  SearchIO io(s.device, q, nq, s.d, keys, slots, count, MemSpace::Host, stream.get());
  GpuSearchStats st;
  const std::size_t np = std::min<std::size_t>(std::size_t(nprobe), s.nlist);
  if (nq == 0 || s.n == 0 || np == 0) {
    for (std::size_t i = 0; i < count; ++i) {
      keys[i] = INFINITY;
      slots[i] = -1;
    }
    if (stats) *stats = st;
    return;
  }
  // Coarse step: the np nearest cells of every query (every cell, in order, when np
  // covers them all: the exhaustive plan of a small allowed set).
  DeviceBuffer<idx_t> ci(nq * np);
  std::vector<idx_t> probes(nq * np);
  if (np == s.nlist && gap < 0.f) {
    for (std::size_t i = 0; i < probes.size(); ++i) probes[i] = idx_t(i % np);
    ci.upload(probes.data(), probes.size(), stream.get());
  } else {
    WS_EXPECTS(np <= std::size_t(kGpuMaxK), "nprobe must be <= ", kGpuMaxK, " on the GPU, got ", nprobe);
    DeviceBuffer<float> cd(nq * np);
    const FlatView cv{s.probe_c.data(), s.probe_norms.data(), s.cell_ids.data(), s.nlist, s.d,
                      s.metric == Metric::L2 ? Metric::L2 : Metric::IP};
    flat_search(cv, io.q(), nq, int(np), nullptr, cd.data(), ci.data(), stream.get());
    ci.download(probes.data(), probes.size(), stream.get());
    if (gap >= 0.f) {
      // Adaptive probing (the CPU's rule): cells past the gap become -1 (skipped).
      // Inner-product gaps are in units of |q| (host queries).
      std::vector<float> dist(nq * np), scale(nq, 1.f);
      cd.download(dist.data(), dist.size(), stream.get());
      stream.sync();
      const bool ip = s.metric != Metric::L2;
      for (std::size_t i = 0; ip && i < nq; ++i) {
        double nn = 0;
        for (std::size_t t = 0; t < s.d; ++t) nn += double(q[i * s.d + t]) * q[i * s.d + t];
        scale[i] = float(std::sqrt(nn));
      }
      detail::cut_probes(dist.data(), probes.data(), nq, np, gap, scale.data(), ip);
      ci.upload(probes.data(), probes.size(), stream.get());
    }
    stream.sync();
  }
  // Columns of each probe in its query's row.
  std::vector<std::uint64_t> row_off(nq * (np + 1));
  std::vector<std::uint64_t> total(nq);
  for (std::size_t i = 0; i < nq; ++i) {
    std::uint64_t acc = 0;
    for (std::size_t p = 0; p < np; ++p) {
      row_off[i * (np + 1) + p] = acc;
      const idx_t l = probes[i * np + p];
      const std::size_t len = l < 0 ? 0 : s.list_off[std::size_t(l) + 1] - s.list_off[std::size_t(l)];
      acc += len;
      st.nodes_visited += len > 0;
    }
    row_off[i * (np + 1) + np] = acc;
    total[i] = acc;
    st.distance_evals += acc;
  }
  DeviceBuffer<std::uint64_t> ro_dev;
  ro_dev.upload(row_off.data(), row_off.size(), stream.get());
  DeviceBuffer<std::uint64_t> abuf;
  if (allow) abuf.upload(allow, (s.n + 63) / 64, stream.get());
  DeviceBuffer<float> sel_k(count);
  DeviceBuffer<std::uint32_t> sel_c(count);
  DeviceBuffer<float> ws;
  IvfScanArgs a;
  a.d = int(s.d);
  a.m = int(s.m);
  a.nbits = s.nbits;
  a.nprobe = int(np);
  a.ip = s.metric != Metric::L2;
  a.centroids = s.centroids.data();
  a.codebook = s.codebook.data();
  a.codes = s.codes.data();
  a.code_bytes = int(s.code_bytes);
  a.list_off = s.list_off_dev.data();
  a.allow = allow ? abuf.data() : nullptr;
  // Up to 256 candidates: fused scan with block-level top-k, then select-k over the
  // nprobe lists of each query. Otherwise (or when its queues do not fit in shared
  // memory) every distance goes to a workspace row per query, then select-k.
  const std::size_t smem_topk = ivf_scan_topk_smem(int(s.d), int(s.m), s.nbits, fp16, kc);
  const bool fused = kc <= 256 && smem_topk <= std::size_t(info.smem_optin);
  const std::size_t budget = kWorkspaceBytes / sizeof(float);
  if (fused) {
    const std::size_t cols = np * std::size_t(kc);
    const std::size_t qc = std::clamp<std::size_t>(budget / (2 * cols), 1, 65535);
    DeviceBuffer<float> ck(std::min(nq, qc) * cols);
    DeviceBuffer<std::uint32_t> cv(std::min(nq, qc) * cols);
    for (std::size_t q0 = 0; q0 < nq; q0 += qc) {
      const std::size_t cq = std::min(qc, nq - q0);
      a.q = io.q() + q0 * s.d;
      a.nq = cq;
      a.probes = ci.data() + q0 * np;
      ivf_scan_topk(a, fp16, kc, ck.data(), cv.data(), stream.get());
      select_k(ck.data(), cols, cv.data(), cols, 0, cq, cols, kc, sel_k.data() + q0 * std::size_t(kc),
               sel_c.data() + q0 * std::size_t(kc), std::size_t(kc), stream.get());
    }
  } else {
    // Chunks of queries whose rows fit the workspace (at least one query each).
    for (std::size_t q0 = 0; q0 < nq;) {
      std::size_t q1 = q0, ld = 1;
      while (q1 < nq && q1 - q0 < 65535) {
        const std::size_t nld = std::max<std::size_t>(ld, total[q1]);
        if (q1 > q0 && nld * (q1 - q0 + 1) > budget) break;
        ld = nld;
        ++q1;
      }
      const std::size_t cq = q1 - q0;
      if (ws.size() < cq * ld) ws.resize(cq * ld);
      a.q = io.q() + q0 * s.d;
      a.nq = cq;
      a.probes = ci.data() + q0 * np;
      a.row_off = ro_dev.data() + q0 * (np + 1);
      a.out = ws.data();
      a.ld = ld;
      ivf_scan(a, fp16, stream.get());
      select_k(ws.data(), ld, nullptr, 0, 0, cq, ld, kc, sel_k.data() + q0 * std::size_t(kc),
               sel_c.data() + q0 * std::size_t(kc), std::size_t(kc), stream.get());
      q0 = q1;
    }
  }
  ivf_slots(sel_k.data(), sel_c.data(), nq, kc, int(np), fused ? nullptr : ro_dev.data(), ci.data(),
            s.list_off_dev.data(), io.D(), io.I(), stream.get());
  io.finish(stream.get());
  stream.sync();
  if (stats) *stats = st;
}

int GpuIvfPqData::device() const { return s_->device; }
std::size_t GpuIvfPqData::size() const { return s_->n; }
std::size_t GpuIvfPqData::memory_usage() const {
  const auto& s = *s_;
  return s.probe_c.bytes() + s.probe_norms.bytes() + s.centroids.bytes() + s.codebook.bytes() +
         s.cell_ids.bytes() + s.list_off_dev.bytes() + s.codes.bytes();
}

}  // namespace warpsearch
