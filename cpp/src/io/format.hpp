// SPDX-FileCopyrightText: 2026 warpsearch contributors
// SPDX-License-Identifier: Apache-2.0
#pragma once
// The warpsearch index file: a header (magic, version, type, metric, dim, count,
// section table, header CRC) followed by named sections, each 64-byte aligned
// (so they can be memory-mapped) and each with its own CRC-32C. Little-endian.
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "storage/mapped_file.hpp"
#include "storage/store.hpp"

#include "warpsearch/errors.hpp"
#include "warpsearch/types.hpp"

namespace warpsearch::detail {

inline constexpr char kMagic[8] = {'W', 'A', 'R', 'P', 'S', 'R', 'C', 'H'};
inline constexpr std::uint32_t kFormatVersion = 1;
inline constexpr std::size_t kAlign = 64;

class FileWriter {
 public:
  FileWriter(std::string type, Metric metric, int dim, std::uint64_t count);
  // The data must stay alive until write().
  void add(const std::string& name, const void* data, std::size_t bytes);
  template <typename T>
  void add(const std::string& name, const std::vector<T>& v) {
    add(name, v.data(), v.size() * sizeof(T));
  }
  // A section gathered from parts written one after another (e.g. one per inverted
  // list), so that saving does not first copy them into one buffer.
  struct Part {
    const void* data;
    std::size_t bytes;
  };
  void add_parts(const std::string& name, std::vector<Part> parts);
  // Writes path + ".tmp", flushes, then renames over path (never a half-written file).
  void write(const std::string& path) const;

 private:
  struct Sec {
    std::string name;
    std::vector<Part> parts;
    std::size_t bytes;
  };
  std::string type_;
  Metric metric_;
  int dim_;
  std::uint64_t count_;
  std::vector<Sec> secs_;
};

class FileReader {
 public:
  // Maps the file and checks its header. Eager (lazy = false): every section's checksum
  // is verified now and loaders copy sections into RAM. Lazy: sections are verified on
  // first use and loaders may map them (map_store). Any defect is std::invalid_argument
  // (CorruptFileError for a damaged file).
  explicit FileReader(const std::string& path, bool lazy = false);
  bool lazy() const { return lazy_; }
  const std::shared_ptr<MappedFile>& file() const { return file_; }

  const std::string& type() const { return type_; }
  Metric metric() const { return metric_; }
  int dim() const { return dim_; }
  std::uint64_t count() const { return count_; }
  bool has(const std::string& name) const;
  // Raw bytes of a section (throws when missing). Lazy: not verified yet.
  std::pair<const std::uint8_t*, std::size_t> raw(const std::string& name) const;
  template <typename T>
  std::vector<T> vec(const std::string& name) const {
    auto [p, n] = raw(name);
    file_->verify(file_->find(name));  // a copy is a use: checked now, even when lazy
    WS_EXPECTS(n % sizeof(T) == 0, "corrupt index file '", path_, "': section '", name,
               "' has a bad size");
    std::vector<T> out(n / sizeof(T));
    if (n) std::memcpy(out.data(), p, n);
    return out;
  }
  template <typename T>
  std::vector<T> vec(const std::string& name, std::size_t expect) const {
    auto v = vec<T>(name);
    WS_EXPECTS(v.size() == expect, "corrupt index file '", path_, "': section '", name,
               "' has ", v.size(), " entries, expected ", expect);
    return v;
  }
  // Fills st with section name (expect entries of T, or any whole number when
  // expect is npos): a view of the mapping when lazy, else a copy in RAM with room for
  // reserve entries (so that growing it to its working size does not copy it again).
  template <typename T, typename Vec>
  void load(Store<T, Vec>& st, const std::string& name, std::size_t expect = npos,
            std::size_t reserve = 0) const {
    auto [p, n] = raw(name);
    check_size<T>(name, n, expect);
    if (lazy_) {
      st.map(file_, file_->find(name), reinterpret_cast<const T*>(p), n / sizeof(T));
      return;
    }
    Vec v;
    v.reserve(std::max(reserve, n / sizeof(T)));
    v.resize(n / sizeof(T));
    // In steps, each step's pages of the mapping dropped after it: the peak is the copy
    // plus one step, not the copy plus the section.
    constexpr std::size_t kStep = std::size_t(16) << 20;
    auto* dst = reinterpret_cast<std::uint8_t*>(v.data());
    for (std::size_t o = 0; o < n; o += kStep) {
      const std::size_t b = std::min(kStep, n - o);
      std::memcpy(dst + o, p + o, b);
      file_->release(p + o, b);
    }
    st = std::move(v);
  }
  // A part of a section (count entries of T from byte offset off) into st, as load().
  template <typename T, typename Vec>
  void load_part(Store<T, Vec>& st, const std::string& name, std::size_t off,
                 std::size_t count) const {
    auto [p, n] = raw(name);
    WS_EXPECTS(off <= n && count <= (n - off) / sizeof(T), "corrupt index file '", path_,
               "': section '", name, "' is too short");
    const T* q = reinterpret_cast<const T*>(p + off);
    if (lazy_) {
      st.map(file_, file_->find(name), q, count);
    } else {
      st = Vec(q, q + count);
      file_->release(q, count * sizeof(T));
    }
  }
  const std::string& path() const { return path_; }
  static constexpr std::size_t npos = std::size_t(-1);

 private:
  template <typename T>
  void check_size(const std::string& name, std::size_t n, std::size_t expect) const {
    WS_EXPECTS(n % sizeof(T) == 0, "corrupt index file '", path_, "': section '", name,
               "' has a bad size");
    WS_EXPECTS(expect == npos || n / sizeof(T) == expect, "corrupt index file '", path_,
               "': section '", name, "' has ", n / sizeof(T), " entries, expected ", expect);
  }
  std::string path_, type_;
  bool lazy_ = false;
  Metric metric_ = Metric::L2;
  int dim_ = 0;
  std::uint64_t count_ = 0;
  std::shared_ptr<MappedFile> file_;
};

}  // namespace warpsearch::detail
