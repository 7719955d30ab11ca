// SPDX-FileCopyrightText: 2026 warpsearch contributors
// SPDX-License-Identifier: Apache-2.0
#pragma once
// Four-lane vectors (GCC/Clang vector extensions) for small portable loops in files
// built without ISA flags: element-wise minima and maxima without a scalar dependency
// chain.
#include <cstdint>

namespace warpsearch::detail {

typedef float f4 __attribute__((vector_size(16)));
typedef std::int32_t i4 __attribute__((vector_size(16)));
inline f4 min4(f4 a, f4 b) { return a < b ? a : b; }
inline f4 max4(f4 a, f4 b) { return a > b ? a : b; }

}  // namespace warpsearch::detail
