// SPDX-FileCopyrightText: 2026 warpsearch contributors
// SPDX-License-Identifier: Apache-2.0
// GpuIvfPqData: the device-resident copy of an IVF-PQ index, and the planner of its
// search, all on the device: queries prepared (normalized, rotated), coarse probing
// (exact search over the centroids, adaptively cut), per chunk of queries the cell scan
// with select-k over each query's row, then the re-rank from the refine store and ids.
#include <algorithm>
#include <vector>

#include "cuda/internal.cuh"
#include "cuda/ivf_pq.cuh"
#include "cuda/staging.cuh"
#include "warpsearch/errors.hpp"
#include "warpsearch/gpu.hpp"

namespace warpsearch {
namespace detail {

struct GpuIvfPqState {
  int device = 0;
  std::size_t n = 0, d = 0, nlist = 0, m = 0, code_bytes = 0;
  int nbits = 8;
  Metric metric = Metric::L2;
  gpu::DeviceBuffer<float> probe_c, probe_norms, centroids, codebook;
  gpu::DeviceBuffer<idx_t> cell_ids;  // 0 .. nlist-1: labels of the coarse search
  gpu::DeviceBuffer<std::uint64_t> list_off_dev;
  gpu::DeviceBuffer<std::uint8_t> codes;
  gpu::DeviceBuffer<idx_t> ids;       // id of each slot
  gpu::DeviceBuffer<float> rotation;  // OPQ: d x d, or empty
  Refine refine = Refine::None;
  std::size_t refine_bytes = 0;
  gpu::DeviceBuffer<std::uint8_t> recs;
  gpu::DeviceBuffer<float> sq_min, sq_scale;
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
  std::vector<std::uint64_t> off(v.list_offsets, v.list_offsets + v.nlist + 1);
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
  s.ids.upload(v.ids, v.n, stream.get());
  if (v.rotation) s.rotation.upload(v.rotation, v.d * v.d, stream.get());
  s.refine = v.refine_codes && v.n ? v.refine : Refine::None;
  if (s.refine != Refine::None) {
    WS_EXPECTS(v.refine != Refine::SQ8 || (v.sq_min && v.sq_scale), "internal: sq8 refine without its ranges");
    s.refine_bytes = v.refine_bytes;
    s.recs.upload(v.refine_codes, v.n * v.refine_bytes, stream.get());
    if (v.refine == Refine::SQ8) {
      s.sq_min.upload(v.sq_min, v.d, stream.get());
      s.sq_scale.upload(v.sq_scale, v.d, stream.get());
    }
  }
  s.probe_norms.resize(v.metric == Metric::L2 ? v.nlist : 0);
  if (v.metric == Metric::L2) row_sq_norms(s.probe_c.data(), v.nlist, v.d, s.probe_norms.data(), stream.get());
  stream.sync();  // the host staging buffers die here
}

void GpuIvfPqData::search(const float* q, std::size_t nq, const GpuIvfPlan& plan, LutType lut, float* D,
                          idx_t* I, MemSpace space, GpuSearchStats* stats) const {
  const int k = plan.k;
  WS_EXPECTS(k >= 1 && k <= kGpuMaxK, "k must be in [1, ", kGpuMaxK, "] on the GPU, got ", k);
  WS_EXPECTS(plan.nprobe >= 1, "nprobe must be >= 1, got ", plan.nprobe);
  const auto& s = *s_;
  const bool refine = s.refine != Refine::None;
  const int kc = refine ? plan.kc : k;  // without a refine store the PQ keys are the answer
  WS_EXPECTS(kc >= k && kc <= kGpuMaxK, "candidates must be in [k, ", kGpuMaxK, "] on the GPU, got ", kc);
  if (stats) *stats = GpuSearchStats{};
  if (nq == 0) return;
  DeviceGuard guard(s.device);
  const bool fp16 = lut == LutType::FP16;
  const DeviceInfo info = device_info(s.device);
  const std::size_t smem = ivf_scan_smem(int(s.d), int(s.m), s.nbits, fp16);
  WS_EXPECTS(smem <= std::size_t(info.smem_optin), "GPU IVF-PQ search needs ", smem,
             " bytes of shared memory for the lookup table (m=", s.m, ", nbits=", s.nbits,
             "); the device has ", info.smem_optin, fp16 ? "" : ": use lut='fp16'",
             fp16 ? ": search on the CPU" : " or the CPU");
  const std::size_t count = nq * std::size_t(k);
  Stream stream;
  const cudaStream_t st = stream.get();
  SearchIO io(s.device, q, nq, s.d, D, I, count, space, st);
  const std::size_t np = std::min<std::size_t>(std::size_t(plan.nprobe), s.nlist);
  if (s.n == 0 || np == 0) {
    pad_results(io.D(), io.I(), count, s.metric, st);
    io.finish(st);
    stream.sync();
    return;
  }
  const bool ip = s.metric != Metric::L2;
  // Queries as the index sees them: normalized (cosine) for the re-rank, and rotated
  // (OPQ) for probing and the tables. norms: |q|, the unit of inner-product gaps (only
  // adaptive inner-product probing reads them).
  const bool cosine = s.metric == Metric::Cosine;
  const bool ip_gap = ip && plan.gap >= 0.f;
  DeviceBuffer<float> qn_buf(cosine ? nq * s.d : 0), qr_buf, norms(cosine || ip_gap ? nq : 0);
  if (norms.size())
    ivf_prepare_queries(io.q(), nq, int(s.d), cosine ? qn_buf.data() : nullptr, norms.data(), st);
  const float* qn = cosine ? qn_buf.data() : io.q();
  const float* qp = qn;
  if (s.rotation.size()) {
    qr_buf.resize(nq * s.d);
    ivf_rotate(qn, nq, int(s.d), s.rotation.data(), qr_buf.data(), st);
    qp = qr_buf.data();
  }
  // Coarse step: the np nearest cells of every query (every cell, in order, when np
  // covers them all: the exhaustive plan of a small allowed set), cut by the gap.
  DeviceBuffer<idx_t> ci(nq * np);
  DeviceBuffer<float> cd;
  if (np == s.nlist && plan.gap < 0.f) {
    ivf_all_cells(ci.data(), nq, int(np), st);
  } else {
    WS_EXPECTS(np <= std::size_t(kGpuMaxK), "nprobe must be <= ", kGpuMaxK, " on the GPU, got ", plan.nprobe);
    cd.resize(nq * np);
    const FlatView cv{s.probe_c.data(), s.probe_norms.data(), s.cell_ids.data(), s.nlist, s.d,
                      ip ? Metric::IP : Metric::L2};
    flat_search(cv, qp, nq, int(np), nullptr, cd.data(), ci.data(), st);
    if (plan.gap >= 0.f) ivf_cut_probes(cd.data(), ci.data(), nq, int(np), plan.gap, norms.data(), ip, st);
  }
  // Columns of each probe in its query's row, and the counters: [0] codes scored,
  // [1] non-empty cells, [2] longest row, [3] candidates re-ranked.
  DeviceBuffer<std::uint64_t> ro(nq * (np + 1));
  DeviceBuffer<unsigned long long> ctr(4);
  WS_CUDA_CHECK(cudaMemsetAsync(ctr.data(), 0, ctr.bytes(), st));
  ivf_row_offsets(ci.data(), nq, int(np), s.list_off_dev.data(), ro.data(), ctr.data(), st);
  DeviceBuffer<std::uint64_t> abuf;
  if (plan.allow) abuf.upload(plan.allow, (s.n + 63) / 64, st);
  const std::size_t kcs = std::size_t(kc);
  DeviceBuffer<float> sel_k(nq * kcs);
  DeviceBuffer<std::uint32_t> sel_c(nq * kcs);
  IvfScanArgs a;
  a.d = int(s.d);
  a.m = int(s.m);
  a.nbits = s.nbits;
  a.nprobe = int(np);
  a.ip = ip;
  a.centroids = s.centroids.data();
  a.codebook = s.codebook.data();
  a.codes = s.codes.data();
  a.code_bytes = int(s.code_bytes);
  a.list_off = s.list_off_dev.data();
  a.allow = plan.allow ? abuf.data() : nullptr;
  // Up to 256 candidates: fused scan with block-level top-k, then select-k over the
  // nprobe lists of each query. Otherwise (or when its queues do not fit in shared
  // memory) every distance goes to a workspace row per query, then select-k.
  const std::size_t smem_topk = ivf_scan_topk_smem(int(s.d), int(s.m), s.nbits, fp16, kc);
  const bool fused = kc <= 256 && smem_topk <= std::size_t(info.smem_optin);
  const std::size_t budget = kWorkspaceBytes / sizeof(float);
  unsigned long long counters[4] = {0, 0, 0, 0};
  if (fused) {
    const std::size_t cols = np * kcs;
    const std::size_t qc = std::clamp<std::size_t>(budget / (2 * cols), 1, 65535);
    DeviceBuffer<float> ck(std::min(nq, qc) * cols);
    DeviceBuffer<std::uint32_t> cv(std::min(nq, qc) * cols);
    for (std::size_t q0 = 0; q0 < nq; q0 += qc) {
      const std::size_t cq = std::min(qc, nq - q0);
      a.q = qp + q0 * s.d;
      a.nq = cq;
      a.probes = ci.data() + q0 * np;
      ivf_scan_topk(a, fp16, kc, ck.data(), cv.data(), st);
      select_k(ck.data(), cols, cv.data(), cols, 0, cq, cols, kc, sel_k.data() + q0 * kcs,
               sel_c.data() + q0 * kcs, kcs, st);
    }
  } else {
    // Chunks of queries whose rows (as long as the longest one) fit the workspace.
    ctr.download(counters, 4, st);
    stream.sync();
    const std::size_t ld = std::max<std::size_t>(1, std::size_t(counters[2]));
    const std::size_t qc = std::clamp<std::size_t>(budget / ld, 1, 65535);
    DeviceBuffer<float> ws(std::min(nq, qc) * ld);
    for (std::size_t q0 = 0; q0 < nq; q0 += qc) {
      const std::size_t cq = std::min(qc, nq - q0);
      a.q = qp + q0 * s.d;
      a.nq = cq;
      a.probes = ci.data() + q0 * np;
      a.row_off = ro.data() + q0 * (np + 1);
      a.out = ws.data();
      a.ld = ld;
      ivf_scan(a, fp16, st);
      select_k(ws.data(), ld, nullptr, 0, 0, cq, ld, kc, sel_k.data() + q0 * kcs, sel_c.data() + q0 * kcs, kcs,
               st);
    }
  }
  ivf_slots(sel_k.data(), sel_c.data(), nq, kc, int(np), fused ? nullptr : ro.data(), ci.data(),
            s.list_off_dev.data(), st);
  DeviceBuffer<float> rk, fk;
  DeviceBuffer<std::uint32_t> fv;
  if (refine) {
    // Exact keys of the candidates from the refine store, then the best k of them.
    rk.resize(nq * kcs);
    fk.resize(count);
    fv.resize(count);
    IvfRefineArgs r;
    r.q = qn;
    r.nq = nq;
    r.d = int(s.d);
    r.kc = kc;
    r.rows = sel_c.data();
    r.keys = sel_k.data();
    r.recs = s.recs.data();
    r.rec_bytes = s.refine_bytes;
    r.kind = int(s.refine);
    r.sq_min = s.sq_min.data();
    r.sq_scale = s.sq_scale.data();
    r.ip = ip;
    r.out = rk.data();
    r.evals = ctr.data() + 3;
    ivf_refine(r, st);
    select_k(rk.data(), kcs, sel_c.data(), kcs, 0, nq, kcs, k, fk.data(), fv.data(), std::size_t(k), st);
    finalize_results(fk.data(), fv.data(), nq, k, std::size_t(k), s.ids.data(), s.metric, io.D(), io.I(), st);
  } else {
    finalize_results(sel_k.data(), sel_c.data(), nq, k, kcs, s.ids.data(), s.metric, io.D(), io.I(), st);
  }
  io.finish(st);
  ctr.download(counters, 4, st);
  stream.sync();
  if (stats) {
    stats->distance_evals = counters[0] + counters[3];
    stats->nodes_visited = counters[1];
  }
}

int GpuIvfPqData::device() const { return s_->device; }
std::size_t GpuIvfPqData::size() const { return s_->n; }
std::size_t GpuIvfPqData::memory_usage() const {
  const auto& s = *s_;
  return s.probe_c.bytes() + s.probe_norms.bytes() + s.centroids.bytes() + s.codebook.bytes() +
         s.cell_ids.bytes() + s.list_off_dev.bytes() + s.codes.bytes() + s.ids.bytes() + s.rotation.bytes() +
         s.recs.bytes() + s.sq_min.bytes() + s.sq_scale.bytes();
}

}  // namespace warpsearch
