// SPDX-FileCopyrightText: 2026 warpsearch contributors
// SPDX-License-Identifier: Apache-2.0
#pragma once
// Store<T>: an array of an index (vectors, codes, links, inverted lists) that lives
// either in RAM (a std::vector, or avector) or in a memory-mapped index file.
//
// Reads go through the const interface and never copy. A mapped store is read-only:
// the first change (any non-const access) copies it into RAM (copy-on-write of the
// whole array), after which it is an ordinary vector. Indexes call own() on every store
// under their exclusive lock before a write, so that no non-const access ever copies
// while readers hold pointers into the mapping. Before the first read of a mapped
// store, the index calls ensure(), which verifies the checksum of its file section
// once (see MappedFile::verify).
#include <cstddef>
#include <memory>
#include <type_traits>
#include <utility>
#include <vector>

#include "storage/mapped_file.hpp"

namespace warpsearch::detail {

template <typename T, typename Vec = std::vector<T>>
class Store {
 public:
  using value_type = T;
  Store() = default;
  Store(std::size_t n, const T& v) : v_(n, v) {}
  Store(Vec v) : v_(std::move(v)) {}  // NOLINT: a vector is a store in RAM

  // --- reads (never copy) ---
  const T* data() const { return map_ ? map_ : v_.data(); }
  std::size_t size() const { return map_ ? mn_ : v_.size(); }
  bool empty() const { return size() == 0; }
  const T& operator[](std::size_t i) const { return data()[i]; }
  const T* begin() const { return data(); }
  const T* end() const { return data() + size(); }
  // Bytes held in RAM (a mapped store holds none).
  std::size_t capacity() const { return map_ ? 0 : v_.capacity(); }
  bool mapped() const { return map_ != nullptr; }
  std::size_t mapped_bytes() const { return map_ ? mn_ * sizeof(T) : 0; }

  // --- mapping ---
  // Views n elements at p inside file section sec (kept alive by file).
  void map(std::shared_ptr<const MappedFile> file, int sec, const T* p, std::size_t n) {
    Vec().swap(v_);
    file_ = std::move(file);
    sec_ = sec;
    map_ = n ? p : nullptr;
    mn_ = n;
    if (!map_) file_.reset();
  }
  // Verifies the backing section once (no-op in RAM). Throws CorruptFileError.
  void ensure() const {
    if (file_) file_->verify(sec_);
  }
  // Drops the pages of a mapped store from the resident set (after a pass over all of
  // it, such as a check); they are read again from the page cache when used.
  void release() const {
    if (map_) file_->release(map_, mn_ * sizeof(T));
  }
  // Copies a mapped store into RAM (verifying it first); no-op in RAM.
  void own() {
    if (!map_) return;
    ensure();
    Vec v(map_, map_ + mn_);
    v_.swap(v);
    map_ = nullptr;
    mn_ = 0;
    file_.reset();
  }

  // --- writes (copy a mapped store into RAM first) ---
  Vec& vec() {
    own();
    return v_;
  }
  T* data() { return vec().data(); }
  T& operator[](std::size_t i) { return vec()[i]; }
  typename Vec::iterator begin() { return vec().begin(); }
  typename Vec::iterator end() { return vec().end(); }
  void resize(std::size_t n) { vec().resize(n); }
  void resize(std::size_t n, const T& v) { vec().resize(n, v); }
  void reserve(std::size_t n) { vec().reserve(n); }
  void push_back(const T& v) { vec().push_back(v); }
  void pop_back() { vec().pop_back(); }
  template <typename... A>
  auto insert(A&&... a) {
    return vec().insert(std::forward<A>(a)...);
  }
  template <typename... A>
  void assign(A&&... a) {
    drop();
    v_.assign(std::forward<A>(a)...);
  }
  void clear() {
    drop();
    v_.clear();
  }
  void swap(Vec& o) { vec().swap(o); }
  Store& operator=(Vec v) {
    drop();
    v_ = std::move(v);
    return *this;
  }
  Store& operator=(const std::vector<T>& v) requires(!std::is_same_v<Vec, std::vector<T>>) {
    drop();
    v_.assign(v.begin(), v.end());
    return *this;
  }
  // A RAM copy as a plain std::vector.
  std::vector<T> to_vector() const { return std::vector<T>(begin(), end()); }

 private:
  void drop() {
    map_ = nullptr;
    mn_ = 0;
    file_.reset();
  }
  Vec v_;
  const T* map_ = nullptr;
  std::size_t mn_ = 0;
  std::shared_ptr<const MappedFile> file_;
  int sec_ = -1;
};

}  // namespace warpsearch::detail
