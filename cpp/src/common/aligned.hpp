// SPDX-FileCopyrightText: 2026 warpsearch contributors
// SPDX-License-Identifier: Apache-2.0
#pragma once
// std::vector with cache-line aligned storage: a 128-byte code then spans two
// cache lines instead of three. Large blocks (graph links, codes, vectors) are
// 2 MiB aligned and, on Linux, asked to be backed by transparent huge pages: a
// graph walk touches a few hundred random cache lines per query, and with 4 KiB
// pages nearly each one also missed the TLB.
#include <cstddef>
#include <cstdint>
#include <new>
#include <vector>
#if defined(__linux__)
#include <sys/mman.h>
#endif

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
  static constexpr std::size_t kHuge = std::size_t(2) << 20;
  static bool huge(std::size_t n) { return n * sizeof(T) >= 2 * kHuge; }
  static std::size_t huge_bytes(std::size_t n) {
    return (n * sizeof(T) + kHuge - 1) / kHuge * kHuge;
  }
  T* allocate(std::size_t n) {
    if (!huge(n)) return static_cast<T*>(::operator new(n * sizeof(T), std::align_val_t(Align)));
    const std::size_t bytes = huge_bytes(n);
#if defined(__linux__)
    // A mapping of its own: freeing it gives the memory back to the system at once.
    // Through malloc, a block below the allocator's (adaptive, up to 32 MiB) mapping
    // threshold comes from the heap, and the blocks a growing index frees there
    // stayed in the process as free heap memory.
    void* raw = mmap(nullptr, bytes + kHuge, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (raw == MAP_FAILED) throw std::bad_alloc();
    // 2 MiB aligned: the unaligned head (if any) and the rest of the spare 2 MiB at the
    // tail (never empty) are unmapped
    const auto a = reinterpret_cast<std::uintptr_t>(raw);
    const std::uintptr_t start = (a + kHuge - 1) / kHuge * kHuge;
    if (start > a) munmap(raw, start - a);
    munmap(reinterpret_cast<void*>(start + bytes), a + kHuge - start);
    void* p = reinterpret_cast<void*>(start);
#if defined(MADV_HUGEPAGE)
    madvise(p, bytes, MADV_HUGEPAGE);  // advisory: ignored where THP is off
#endif
#else
    void* p = ::operator new(bytes, std::align_val_t(kHuge));
#endif
    return static_cast<T*>(p);
  }
  void deallocate(T* p, std::size_t n) {
    if (!huge(n)) {
      ::operator delete(p, std::align_val_t(Align));
      return;
    }
#if defined(__linux__)
    munmap(p, huge_bytes(n));
#else
    ::operator delete(p, std::align_val_t(kHuge));
#endif
  }
  template <typename U>
  bool operator==(const AlignedAllocator<U, Align>&) const { return true; }
  template <typename U>
  bool operator!=(const AlignedAllocator<U, Align>&) const { return false; }
};

template <typename T>
using avector = std::vector<T, AlignedAllocator<T>>;

}  // namespace warpsearch::detail
