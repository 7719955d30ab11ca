// SPDX-FileCopyrightText: 2026 warpsearch contributors
// SPDX-License-Identifier: Apache-2.0
#pragma once
// Helpers shared by the C++ unit tests.
#include <algorithm>
#include <string>
#include <vector>

#include "warpsearch/device.hpp"

namespace warpsearch::test {

// The compiled SIMD levels this CPU runs, lowest first.
inline std::vector<std::string> supported_levels() {
  const std::vector<std::string> order = {"generic", "avx2", "avx512", "avx512_vnni"};
  const auto compiled = simd_compiled();
  const auto best = std::find(order.begin(), order.end(), simd_best());
  std::vector<std::string> out;
  for (auto it = order.begin(); it != order.end() && it <= best; ++it)
    if (std::find(compiled.begin(), compiled.end(), *it) != compiled.end()) out.push_back(*it);
  return out;
}

// Restores the SIMD level active when it was made.
struct LevelGuard {
  std::string level = simd_level();
  ~LevelGuard() { set_simd_level(level); }
};

}  // namespace warpsearch::test
