// SPDX-FileCopyrightText: 2026 warpsearch contributors
// SPDX-License-Identifier: Apache-2.0
#pragma once
// id -> location map of IVF-PQ: open addressing, linear probing, backward-shift deletion
// (no tombstones). 16 bytes per slot at a load factor <= 3/4, about half the memory of
// a node-based hash map; ids may be any int64.
#include <cstddef>
#include <cstdint>
#include <vector>

#include "warpsearch/types.hpp"

namespace warpsearch::detail {

class IdMap {
 public:
  static constexpr std::uint64_t kNone = ~std::uint64_t(0);

  std::size_t size() const { return size_; }
  std::size_t bytes() const { return slots_.capacity() * sizeof(Slot); }
  // Capacity (slots) the map has after growing to hold n entries.
  static std::size_t capacity_for(std::size_t n) {
    std::size_t c = 16;
    while (n * 4 > c * 3) c *= 2;
    return c;
  }

  void reserve(std::size_t n) {
    if (capacity_for(n) > slots_.size()) rehash(capacity_for(n));
  }

  std::uint64_t find(idx_t key) const {
    if (slots_.empty()) return kNone;
    for (std::size_t i = home(key);; i = (i + 1) & mask_) {
      const Slot& s = slots_[i];
      if (s.loc == kNone) return kNone;
      if (s.key == key) return s.loc;
    }
  }

  void set(idx_t key, std::uint64_t loc) {
    reserve(size_ + 1);
    for (std::size_t i = home(key);; i = (i + 1) & mask_) {
      Slot& s = slots_[i];
      if (s.loc == kNone) {
        s.key = key;
        s.loc = loc;
        ++size_;
        return;
      }
      if (s.key == key) {
        s.loc = loc;
        return;
      }
    }
  }

  bool erase(idx_t key) {
    if (slots_.empty()) return false;
    std::size_t i = home(key);
    for (;; i = (i + 1) & mask_) {
      if (slots_[i].loc == kNone) return false;
      if (slots_[i].key == key) break;
    }
    // Shift later members of the probe run back into the hole.
    for (std::size_t j = (i + 1) & mask_;; j = (j + 1) & mask_) {
      if (slots_[j].loc == kNone) break;
      const std::size_t h = home(slots_[j].key);
      // Move j into i when its home is not in the cyclic range (i, j].
      if (((j - h) & mask_) >= ((j - i) & mask_)) {
        slots_[i] = slots_[j];
        i = j;
      }
    }
    slots_[i].loc = kNone;
    --size_;
    return true;
  }

  void clear() {
    slots_.clear();
    slots_.shrink_to_fit();
    size_ = 0;
    mask_ = 0;
  }

 private:
  struct Slot {
    idx_t key = 0;
    std::uint64_t loc = kNone;
  };

  std::size_t home(idx_t key) const {
    std::uint64_t x = std::uint64_t(key) + 0x9E3779B97F4A7C15ull;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
    return std::size_t(x ^ (x >> 31)) & mask_;
  }

  void rehash(std::size_t cap) {
    std::vector<Slot> old;
    old.swap(slots_);
    slots_.assign(cap, Slot{});
    slots_.shrink_to_fit();
    mask_ = cap - 1;
    size_ = 0;
    for (const Slot& s : old)
      if (s.loc != kNone) set(s.key, s.loc);
  }

  std::vector<Slot> slots_;
  std::size_t size_ = 0, mask_ = 0;
};

}  // namespace warpsearch::detail
