// SPDX-FileCopyrightText: 2026 warpsearch contributors
// SPDX-License-Identifier: Apache-2.0
#pragma once
// The warpsearch index file: a header (magic, version, type, metric, dim, count,
// section table, header CRC) followed by named sections, each 64-byte aligned
// (so they can be memory-mapped) and each with its own CRC-32C. Little-endian.
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

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
  // Writes path + ".tmp", flushes, then renames over path (never a half-written file).
  void write(const std::string& path) const;

 private:
  struct Sec {
    std::string name;
    const void* data;
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
  // Reads and verifies the whole file; any defect is std::invalid_argument.
  explicit FileReader(const std::string& path);

  const std::string& type() const { return type_; }
  Metric metric() const { return metric_; }
  int dim() const { return dim_; }
  std::uint64_t count() const { return count_; }
  bool has(const std::string& name) const;
  // Raw bytes of a section (throws when missing).
  std::pair<const std::uint8_t*, std::size_t> raw(const std::string& name) const;
  template <typename T>
  std::vector<T> vec(const std::string& name) const {
    auto [p, n] = raw(name);
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
  const std::string& path() const { return path_; }

 private:
  struct Sec {
    std::string name;
    std::uint64_t offset, bytes;
  };
  std::string path_, type_;
  Metric metric_ = Metric::L2;
  int dim_ = 0;
  std::uint64_t count_ = 0;
  std::vector<std::uint8_t> buf_;
  std::vector<Sec> secs_;
};

}  // namespace warpsearch::detail
