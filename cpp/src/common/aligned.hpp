// SPDX-FileCopyrightText: 2026 warpsearch contributors
// SPDX-License-Identifier: Apache-2.0
#pragma once
// std::vector with cache-line aligned storage: a 128-byte code then spans two
// cache lines instead of three.
#include <cstddef>
#include <new>
#include <vector>

namespace warpsearch::detail {

template <typename T, std::size_t Align = 64>
struct AlignedAllocator {
  using value_type = T;
  template <typename U>
  struct rebind {
    using other = AlignedAllocator<U, Align>;
  };
  AlignedAllocator() = default;
  template <typename U>
  AlignedAllocator(const AlignedAllocator<U, Align>&) {}
  T* allocate(std::size_t n) {
    return static_cast<T*>(::operator new(n * sizeof(T), std::align_val_t(Align)));
  }
  void deallocate(T* p, std::size_t) { ::operator delete(p, std::align_val_t(Align)); }
  template <typename U>
  bool operator==(const AlignedAllocator<U, Align>&) const { return true; }
  template <typename U>
  bool operator!=(const AlignedAllocator<U, Align>&) const { return false; }
};

template <typename T>
using avector = std::vector<T, AlignedAllocator<T>>;

}  // namespace warpsearch::detail
