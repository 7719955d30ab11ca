// SPDX-FileCopyrightText: 2026 warpsearch contributors
// SPDX-License-Identifier: Apache-2.0
// Run-time choice of the distance kernels from CPU detection.
#include <atomic>
#include <string>
#include <vector>

#include "simd/distance.hpp"
#include "warpsearch/device.hpp"
#include "warpsearch/errors.hpp"

namespace warpsearch {
namespace detail {
namespace {

int cpu_best_level() {
#if defined(WS_HAVE_X86)
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
      __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq"))
    return __builtin_cpu_supports("avx512vnni") ? 3 : 2;
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return 1;
#endif
  return 0;
}

const Kernels* table_for(int level) {
#if defined(WS_HAVE_X86)
  if (level >= 3) return &kernels_avx512_vnni();
  if (level == 2) return &kernels_avx512();
  if (level == 1) return &kernels_avx2();
#endif
  return &kernels_generic();
}

std::atomic<const Kernels*>& current() {
  static std::atomic<const Kernels*> k{table_for(cpu_best_level())};
  return k;
}

}  // namespace

const Kernels& kernels() { return *current().load(std::memory_order_relaxed); }

}  // namespace detail

std::string simd_level() { return detail::kernels().name; }

std::vector<std::string> simd_compiled() {
  std::vector<std::string> out;
  std::string all = WS_SIMD_ISAS;
  std::size_t start = 0;
  while (start <= all.size()) {
    auto pos = all.find(',', start);
    if (pos == std::string::npos) pos = all.size();
    if (pos > start) out.push_back(all.substr(start, pos - start));
    start = pos + 1;
  }
  return out;
}

void set_simd_level(const std::string& level) {
  int want = level == "generic" ? 0 : level == "avx2" ? 1 : level == "avx512" ? 2
           : level == "avx512_vnni" ? 3 : -1;
  WS_EXPECTS(want >= 0, "unknown SIMD level '", level,
             "' (expected generic, avx2, avx512 or avx512_vnni)");
  int best = detail::cpu_best_level();
  WS_EXPECTS(want <= best, "SIMD level '", level, "' is not supported by this CPU or build");
  detail::current().store(detail::table_for(want));
}

}  // namespace warpsearch
