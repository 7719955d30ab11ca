// SPDX-FileCopyrightText: 2026 warpsearch contributors
// SPDX-License-Identifier: Apache-2.0
// GpuGraphData: a device-resident fixed-degree graph with its vectors, and the
// planner of a GPU graph search (graph walk, or an exact scan of a small allowed set).
#include <algorithm>
#include <vector>

#include "cuda/graph.cuh"
#include "cuda/staging.cuh"
#include "warpsearch/errors.hpp"
#include "warpsearch/gpu.hpp"

namespace warpsearch {
namespace detail {

struct GpuGraphState {
  int device = 0;
  std::size_t n = 0, R = 0, d = 0, nlive = 0, up_R = 0;
  Metric metric = Metric::L2;
  std::int64_t entry = -1;
  int max_level = 0;
  bool all_live = true;
  std::vector<std::uint64_t> live;  // host copy, one bit per slot
  gpu::DeviceBuffer<std::uint32_t> graph, up_off, up_links;
  gpu::DeviceBuffer<float> x, norms;
  gpu::DeviceBuffer<idx_t> labels;
};

}  // namespace detail

using namespace detail::gpu;

namespace {
int pow2_at_least(std::size_t v) {
  int p = 1;
  while (std::size_t(p) < v) p <<= 1;
  return p;
}
}  // namespace

GpuGraphData::GpuGraphData(int device) : s_(std::make_unique<detail::GpuGraphState>()) {
  expect_device(device);
  s_->device = device;
}

GpuGraphData::~GpuGraphData() {
  try {
    DeviceGuard guard(s_->device);
    s_.reset();
  } catch (...) {
  }
}

void GpuGraphData::upload(const GraphView& g) {
  WS_EXPECTS(g.n < std::size_t(0x7ffffff0), "GPU graph search supports fewer than 2^31 - 16 slots");
  WS_EXPECTS(g.n == 0 || (g.degree >= 1 && g.degree <= 4096), "graph degree must be in [1, 4096]");
  WS_EXPECTS(g.d >= 1, "dimension must be > 0");
  DeviceGuard guard(s_->device);
  Stream stream;
  auto& s = *s_;
  const std::size_t words = (g.n + 63) / 64;
  s.live.assign(words, ~std::uint64_t(0));
  if (words && g.n % 64) s.live[words - 1] = (std::uint64_t(1) << (g.n % 64)) - 1;
  if (g.live)
    for (std::size_t w = 0; w < words; ++w) s.live[w] &= g.live[w];
  s.nlive = detail::gpu::popcount_bits(s.live.data(), g.n);
  s.all_live = s.nlive == g.n;
  s.graph.upload(g.graph, g.n * g.degree, stream.get());
  s.x.upload(g.vectors, g.n * g.d, stream.get());
  s.labels.upload(g.labels, g.n, stream.get());
  s.norms.resize(g.metric == Metric::L2 ? g.n : 0);
  if (g.metric == Metric::L2) row_sq_norms(s.x.data(), g.n, g.d, s.norms.data(), stream.get());
  const bool upper = g.upper_offsets && g.upper_links && g.upper_links_size && g.upper_degree && g.max_level > 0;
  s.up_off.resize(0);
  s.up_links.resize(0);
  if (upper) {
    s.up_off.upload(g.upper_offsets, g.n, stream.get());
    s.up_links.upload(g.upper_links, g.upper_links_size, stream.get());
  }
  stream.sync();
  s.n = g.n;
  s.R = g.degree;
  s.d = g.d;
  s.metric = g.metric;
  s.entry = g.n ? g.entry : -1;
  s.max_level = upper ? g.max_level : 0;
  s.up_R = upper ? g.upper_degree : 0;
}

void GpuGraphData::search(const float* q, std::size_t nq, int k, int ef, const std::uint64_t* allow,
                          float* D, idx_t* I, MemSpace space, GpuSearchStats* stats) const {
  WS_EXPECTS(k >= 1 && k <= kGpuMaxGraphK, "k must be in [1, ", kGpuMaxGraphK, "] for GPU graph search, got ", k);
  WS_EXPECTS(ef >= 1, "ef must be > 0, got ", ef);
  const int P = pow2_at_least(std::size_t(std::max({ef, k, 32})));
  WS_EXPECTS(P <= kGpuMaxGraphK, "ef must be <= ", kGpuMaxGraphK, " for GPU graph search, got ", ef);
  const auto& s = *s_;
  DeviceGuard guard(s.device);
  Stream stream;
  const std::size_t count = nq * std::size_t(k);
  SearchIO io(s.device, q, nq, s.d, D, I, count, space, stream.get());
  if (nq == 0) return;
  const float* dq = io.q();
  float* dD = io.D();
  idx_t* dI = io.I();
  // Slots that may be returned: live and allowed.
  std::vector<std::uint64_t> elig;
  std::size_t nallowed = s.nlive;
  if (allow || !s.all_live) {
    elig = s.live;
    if (allow)
      for (std::size_t w = 0; w < elig.size(); ++w) elig[w] &= allow[w];
    nallowed = detail::gpu::popcount_bits(elig.data(), s.n);
  }
  DeviceBuffer<std::uint64_t> delig;
  delig.upload(elig.data(), elig.size(), stream.get());
  const std::uint64_t* el = elig.empty() ? nullptr : delig.data();
  FlatView fv{s.x.data(), s.norms.data(), s.labels.data(), s.n, s.d, s.metric};
  GpuSearchStats st;
  st.allowed = nallowed;
  // A small allowed set is cheaper (and exact) to scan than to reach through the graph.
  const bool brute = s.entry < 0 || nallowed == 0 ||
                     (allow && (nallowed <= std::size_t(16) * std::size_t(P) || nallowed * 20 < s.nlive));
  if (brute) {
    FlatView scan = fv;
    if (s.entry < 0 || nallowed == 0) scan.n = 0;  // nothing to return: padding
    flat_search(scan, dq, nq, k, el, dD, dI, stream.get());
    st.plan = 1;
    st.distance_evals = std::uint64_t(nq) * nallowed;
  } else {
    GraphArgs a;
    a.graph = s.graph.data();
    a.n = s.n;
    a.R = int(s.R);
    a.x = s.x.data();
    a.d = int(s.d);
    a.metric = int(s.metric);
    a.elig = el;
    a.entry = s.entry;
    a.max_level = s.max_level;
    a.up_off = s.up_R ? s.up_off.data() : nullptr;
    a.up_links = s.up_R ? s.up_links.data() : nullptr;
    a.up_R = int(s.up_R);
    a.q = dq;
    a.k = k;
    // The pool holds the nearest nodes of any kind; with a fraction `sel` of them
    // eligible it must be 1/sel times larger to hold ef results (the CPU walk likewise
    // runs until it has ef eligible results).
    const double sel = el ? double(nallowed) / double(std::max<std::size_t>(1, s.n)) : 1.0;
    const double want = std::min(double(kGpuMaxGraphK), double(P) / std::max(sel, 1e-3));
    a.P = std::max(P, pow2_at_least(std::size_t(want)));
    a.P = std::min(a.P, kGpuMaxGraphK);
    // Filtered walks stop at twice ef: without the CPU walk's two-hop expansion they
    // need a deeper result list to match its recall (filters correlated with the data,
    // CPU emulator of these kernels: 0.97-0.99 at ef, 0.99-1.0 at 2 ef, CPU 1.0).
    a.ef = std::min(2 * std::max(ef, k), a.P);
    a.width = std::clamp(128 / std::max(1, a.R), 1, kMaxWidth);
    a.CB = pow2_at_least(std::max({std::size_t(a.width) * s.R, s.up_R, std::size_t(32)}));
    const DeviceInfo info = device_info(s.device);
    // A filtered walk may cross many ineligible nodes: a larger visited set (fewer
    // rebuilds, which forget expanded nodes) where shared memory allows.
    const std::size_t h_min = 4 * std::size_t(a.P) + 2 * std::size_t(a.CB);
    a.hash_bits = 12;
    while ((std::size_t(1) << a.hash_bits) < std::max<std::size_t>(el ? 16384 : 4096, h_min)) ++a.hash_bits;
    while (a.hash_bits > 12 && (std::size_t(1) << (a.hash_bits - 1)) >= h_min &&
           graph_smem_bytes(a.d, a.P, a.CB, a.hash_bits) + 1024 > std::size_t(info.smem_optin))
      --a.hash_bits;
    a.max_iters = 16 * a.P + 512;
    const std::size_t smem = graph_smem_bytes(a.d, a.P, a.CB, a.hash_bits);
    WS_EXPECTS(smem + 1024 <= std::size_t(info.smem_optin), "GPU graph search needs ", smem,
               " bytes of shared memory per query (dimension ", s.d, ", ef ", ef,
               "); the device has ", info.smem_optin, ": use a smaller ef or the CPU");
    DeviceBuffer<float> out_k(count);
    DeviceBuffer<std::uint32_t> out_v(count);
    DeviceBuffer<unsigned long long> counters(2);
    WS_CUDA_CHECK(cudaMemsetAsync(counters.data(), 0, 2 * sizeof(unsigned long long), stream.get()));
    a.out_k = out_k.data();
    a.out_v = out_v.data();
    a.counters = counters.data();
    graph_search(a, nq, stream.get());
    finalize_results(out_k.data(), out_v.data(), nq, k, std::size_t(k), s.labels.data(), s.metric, dD,
                     dI, stream.get());
    unsigned long long cnt[2] = {0, 0};
    counters.download(cnt, 2, stream.get());
    std::vector<std::uint32_t> got;
    if (el) {
      got.resize(count);
      out_v.download(got.data(), count, stream.get());
    }
    stream.sync();
    st.plan = 0;
    st.distance_evals = cnt[0];
    st.nodes_visited = cnt[1];
    if (el) {
      // A walk that found fewer results than exist (the filter keeps regions the walk
      // never reached), or gave up (its visited set filled up: see graph_kernels.cu),
      // is redone as an exact scan of the allowed set, as on the CPU.
      const std::size_t need = std::min<std::size_t>(std::size_t(k), nallowed);
      std::vector<std::size_t> redo;
      for (std::size_t i = 0; i < nq; ++i) {
        std::size_t found = 0;
        for (std::size_t j = 0; j < std::size_t(k); ++j) found += got[i * std::size_t(k) + j] != kNoId;
        if (found < need) redo.push_back(i);
      }
      if (!redo.empty()) {
        DeviceBuffer<float> rq(redo.size() * s.d), rD(redo.size() * std::size_t(k));
        DeviceBuffer<idx_t> rI(redo.size() * std::size_t(k));
        for (std::size_t r = 0; r < redo.size(); ++r)
          WS_CUDA_CHECK(cudaMemcpyAsync(rq.data() + r * s.d, dq + redo[r] * s.d, s.d * sizeof(float),
                                        cudaMemcpyDeviceToDevice, stream.get()));
        flat_search(fv, rq.data(), redo.size(), k, el, rD.data(), rI.data(), stream.get());
        for (std::size_t r = 0; r < redo.size(); ++r) {
          const std::size_t o = redo[r] * std::size_t(k);
          WS_CUDA_CHECK(cudaMemcpyAsync(dD + o, rD.data() + r * std::size_t(k), std::size_t(k) * sizeof(float),
                                        cudaMemcpyDeviceToDevice, stream.get()));
          WS_CUDA_CHECK(cudaMemcpyAsync(dI + o, rI.data() + r * std::size_t(k), std::size_t(k) * sizeof(idx_t),
                                        cudaMemcpyDeviceToDevice, stream.get()));
        }
        stream.sync();
        st.distance_evals += std::uint64_t(redo.size()) * nallowed;
      }
    }
  }
  io.finish(stream.get());
  stream.sync();
  if (stats) {
    stats->distance_evals += st.distance_evals;
    stats->nodes_visited += st.nodes_visited;
    stats->allowed = st.allowed;
    stats->plan = st.plan;
  }
}

int GpuGraphData::device() const { return s_->device; }
std::size_t GpuGraphData::size() const { return s_->nlive; }
std::size_t GpuGraphData::memory_usage() const {
  const auto& s = *s_;
  return s.graph.bytes() + s.up_off.bytes() + s.up_links.bytes() + s.x.bytes() + s.norms.bytes() +
         s.labels.bytes();
}

}  // namespace warpsearch
