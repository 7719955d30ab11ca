// SPDX-FileCopyrightText: 2026 warpsearch contributors
// SPDX-License-Identifier: Apache-2.0
// Run-time choice of the distance kernels: the best level the CPU supports, or the one
// named by the environment variable WARPSEARCH_SIMD (read once, at first use).
#include <atomic>
#include <cstdlib>
#include <string>
#include <vector>

#include "simd/distance.hpp"
#include "warpsearch/device.hpp"
#include "warpsearch/errors.hpp"

namespace warpsearch {
namespace detail {
namespace {

constexpr const char* kLevelNames[] = {"generic", "avx2", "avx512", "avx512_vnni"};

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

// The level named `level` (from `source`: a call or the environment), checked against
// the names, the build and the CPU.
int checked_level(const std::string& level, const char* source) {
  int want = -1;
  for (int i = 0; i < 4; ++i)
    if (level == kLevelNames[i]) want = i;
  WS_EXPECTS(want >= 0, source, "unknown SIMD level '", level,
             "' (expected generic, avx2, avx512 or avx512_vnni)");
  const int best = cpu_best_level();
  WS_EXPECTS(want <= best, source, "SIMD level '", level,
             "' is not supported by this CPU or build (best here: ", kLevelNames[best], ")");
  return want;
}

// WARPSEARCH_SIMD when set and not empty, else the CPU's best. A bad value throws
// std::invalid_argument from the first use (the module import in Python: ImportError);
// the next use reads the variable again.
int initial_level() {
  const char* env = std::getenv("WARPSEARCH_SIMD");
  if (!env || !*env) return cpu_best_level();
  return checked_level(env, "environment variable WARPSEARCH_SIMD: ");
}

std::atomic<const Kernels*>& current() {
  static std::atomic<const Kernels*> k{table_for(initial_level())};
  return k;
}

}  // namespace

const Kernels& kernels() { return *current().load(std::memory_order_relaxed); }

}  // namespace detail

std::string simd_level() { return detail::kernels().name; }

std::string simd_best() { return detail::kLevelNames[detail::cpu_best_level()]; }

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
  const int want = detail::checked_level(level, "");
  detail::current().store(detail::table_for(want));
}

}  // namespace warpsearch
