// SPDX-FileCopyrightText: 2026 warpsearch contributors
// SPDX-License-Identifier: Apache-2.0
#pragma once
// avector: the growable array of an index's big arrays (graph links, codes, vectors),
// a std::vector subset for trivially copyable types.
// - Cache-line aligned storage: a 128-byte code then spans two cache lines, not three.
// - Large blocks are 2 MiB aligned mappings of their own, asked to be backed by
//   transparent huge pages (a graph walk touches a few hundred random cache lines per
//   query; with 4 KiB pages nearly each one also missed the TLB), and given back to
//   the system when freed.
// - Growing a large block moves its pages (mremap) instead of copying them: the old
//   and the new array are never resident together, so adding to an index of N bytes
//   peaks at N plus what is added, not at 2.5N as a copying 1.5x growth does. The
//   capacity past the last written element of a fresh mapping is left untouched (it
//   reads as zero), so spare capacity costs address space, not memory.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <functional>
#include <iterator>
#include <new>
#include <type_traits>
#include <utility>
#if defined(__linux__)
#include <sys/mman.h>
#endif

namespace warpsearch::detail {

// The block behind an avector: small blocks from operator new (aligned), large ones
// mapped. Stateless; sizes are in bytes.
struct BlockAlloc {
  static constexpr std::size_t kHuge = std::size_t(2) << 20;
  static bool huge(std::size_t bytes) { return bytes >= 2 * kHuge; }
  static std::size_t huge_bytes(std::size_t bytes) { return (bytes + kHuge - 1) / kHuge * kHuge; }

#if defined(__linux__)
  // A fresh, zero-filled, 2 MiB aligned anonymous mapping of huge_bytes(bytes).
  static void* map_aligned(std::size_t bytes) {
    const std::size_t b = huge_bytes(bytes);
    void* raw = mmap(nullptr, b + kHuge, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
                     -1, 0);
    if (raw == MAP_FAILED) throw std::bad_alloc();
    // The unaligned head (if any) and the rest of the spare 2 MiB at the tail (never
    // empty) are unmapped.
    const auto a = reinterpret_cast<std::uintptr_t>(raw);
    const std::uintptr_t start = (a + kHuge - 1) / kHuge * kHuge;
    if (start > a) munmap(raw, start - a);
    munmap(reinterpret_cast<void*>(start + b), a + kHuge - start);
    void* p = reinterpret_cast<void*>(start);
#if defined(MADV_HUGEPAGE)
    madvise(p, b, MADV_HUGEPAGE);  // advisory: ignored where THP is off
#endif
    return p;
  }
#endif

  // Returns a block of `bytes` aligned to `align`; *zero says whether it reads as zero.
  static void* allocate(std::size_t bytes, std::size_t align, bool* zero) {
#if defined(__linux__)
    if (huge(bytes)) {
      *zero = true;
      return map_aligned(bytes);
    }
#endif
    *zero = false;
    return ::operator new(std::max<std::size_t>(bytes, 1), std::align_val_t(align));
  }
  static void deallocate(void* p, std::size_t bytes, std::size_t align) {
    if (!p) return;
#if defined(__linux__)
    if (huge(bytes)) {
      munmap(p, huge_bytes(bytes));
      return;
    }
#endif
    ::operator delete(p, std::align_val_t(align));
  }
  // Grows a mapped block of old_bytes to new_bytes (both huge) by moving its pages to
  // the head of a fresh aligned mapping; the tail reads as zero. nullptr where the
  // system cannot (the caller copies instead).
  static void* move_grow(void* p, std::size_t old_bytes, std::size_t new_bytes) {
#if defined(__linux__) && defined(MREMAP_FIXED)
    if (!huge(old_bytes) || !huge(new_bytes)) return nullptr;
    void* q = map_aligned(new_bytes);
    const std::size_t ob = huge_bytes(old_bytes);
    void* r = mremap(p, ob, ob, MREMAP_MAYMOVE | MREMAP_FIXED, q);
    if (r == MAP_FAILED) {
      munmap(q, huge_bytes(new_bytes));
      return nullptr;
    }
    return r;
#else
    (void)p, (void)old_bytes, (void)new_bytes;
    return nullptr;
#endif
  }
};

template <typename T, std::size_t Align = 64>
class avector {
  static_assert(std::is_trivially_copyable_v<T>, "avector holds trivially copyable values");

 public:
  using value_type = T;
  using size_type = std::size_t;
  using iterator = T*;
  using const_iterator = const T*;

  avector() = default;
  explicit avector(std::size_t n) { resize(n); }
  avector(std::size_t n, const T& v) { resize(n, v); }
  template <typename It, typename = std::enable_if_t<!std::is_integral_v<It>>>
  avector(It first, It last) {
    assign(first, last);
  }
  avector(const avector& o) { assign(o.begin(), o.end()); }
  avector(avector&& o) noexcept { swap(o); }
  avector& operator=(const avector& o) {
    if (this != &o) assign(o.begin(), o.end());
    return *this;
  }
  avector& operator=(avector&& o) noexcept {
    if (this != &o) {
      avector t(std::move(o));
      swap(t);
    }
    return *this;
  }
  ~avector() { BlockAlloc::deallocate(p_, cap_ * sizeof(T), Align); }

  T* data() { return p_; }
  const T* data() const { return p_; }
  std::size_t size() const { return n_; }
  std::size_t capacity() const { return cap_; }
  bool empty() const { return n_ == 0; }
  T* begin() { return p_; }
  T* end() { return p_ + n_; }
  const T* begin() const { return p_; }
  const T* end() const { return p_ + n_; }
  T& operator[](std::size_t i) { return p_[i]; }
  const T& operator[](std::size_t i) const { return p_[i]; }
  T& front() { return p_[0]; }
  T& back() { return p_[n_ - 1]; }
  const T& back() const { return p_[n_ - 1]; }

  void reserve(std::size_t n) {
    if (n > cap_) regrow(n);
  }
  void resize(std::size_t n) { resize(n, T{}); }
  // Grows to exactly n when n is past the capacity (a caller growing in steps picks
  // its own factor); elements past the old size are v.
  void resize(std::size_t n, const T& v) {
    if (n > cap_) regrow(n);
    if (n > n_) fill(n_, n, v);
    n_ = n;
  }
  void push_back(const T& v) {
    if (n_ == cap_) {
      const T copy = v;  // v may live in this array
      regrow(std::max<std::size_t>(8, cap_ * 2));
      fill(n_, n_ + 1, copy);
    } else {
      fill(n_, n_ + 1, v);
    }
    ++n_;
  }
  void pop_back() { --n_; }
  void clear() { n_ = 0; }
  void assign(std::size_t n, const T& v) {
    clear();
    resize(n, v);
  }
  template <typename It, typename = std::enable_if_t<!std::is_integral_v<It>>>
  void assign(It first, It last) {
    clear();
    insert(end(), first, last);
  }
  template <typename It, typename = std::enable_if_t<!std::is_integral_v<It>>>
  T* insert(const T* pos, It first, It last) {
    const std::size_t at = std::size_t(pos - p_);
    const std::size_t m = std::size_t(std::distance(first, last));
    if (m == 0) return p_ + at;
    bool inside = false;
    if constexpr (std::is_pointer_v<It>)
      inside = n_ && std::less_equal<const T*>()(p_, &*first) &&
               std::less<const T*>()(&*first, p_ + n_);
    if (inside || n_ + m > cap_) {
      // The source may be inside this array: copied out before its elements move.
      avector src;
      src.regrow(m);
      std::copy(first, last, src.p_);
      src.n_ = m;
      if (n_ + m > cap_) regrow(std::max(n_ + m, cap_ * 2));
      return insert(p_ + at, src.begin(), src.end());
    }
    std::memmove(static_cast<void*>(p_ + at + m), p_ + at, (n_ - at) * sizeof(T));
    std::copy(first, last, p_ + at);
    n_ += m;
    zero_from_ = std::max(zero_from_, n_);
    return p_ + at;
  }
  T* insert(const T* pos, const T& v) {
    const T copy = v;
    return insert(pos, &copy, &copy + 1);
  }
  void swap(avector& o) noexcept {
    std::swap(p_, o.p_);
    std::swap(n_, o.n_);
    std::swap(cap_, o.cap_);
    std::swap(zero_from_, o.zero_from_);
  }
  void shrink_to_fit() {
    if (cap_ == n_) return;
    avector t(begin(), end());
    swap(t);
  }

 private:
  static bool all_zero(const T& v) {
    unsigned char b[sizeof(T)];
    std::memcpy(b, &v, sizeof(T));
    return std::all_of(b, b + sizeof(T), [](unsigned char c) { return c == 0; });
  }
  // Writes v to [from, to): what a fresh mapping holds as zero is not touched.
  void fill(std::size_t from, std::size_t to, const T& v) {
    const std::size_t stop = all_zero(v) ? std::min(to, std::max(from, zero_from_)) : to;
    std::fill(p_ + from, p_ + stop, v);
    zero_from_ = std::max(zero_from_, to);
  }
  void regrow(std::size_t cap) {
    const std::size_t ob = cap_ * sizeof(T), nb = cap * sizeof(T);
    if (p_ && BlockAlloc::huge(ob) && BlockAlloc::huge(nb)) {
      if (void* q = BlockAlloc::move_grow(p_, ob, nb)) {
        p_ = static_cast<T*>(q);
        cap_ = cap;  // zero_from_ stands: the pages past it moved untouched
        return;
      }
    }
    bool zero = false;
    T* q = static_cast<T*>(BlockAlloc::allocate(nb, Align, &zero));
    if (n_) std::memcpy(static_cast<void*>(q), p_, n_ * sizeof(T));
    BlockAlloc::deallocate(p_, ob, Align);
    p_ = q;
    cap_ = cap;
    zero_from_ = zero ? n_ : cap;
  }

  T* p_ = nullptr;
  std::size_t n_ = 0, cap_ = 0;
  // Elements at and past this index read as zero (a fresh mapping never written
  // there); cap_ where nothing is known.
  std::size_t zero_from_ = 0;
};

}  // namespace warpsearch::detail
