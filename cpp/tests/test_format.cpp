// SPDX-FileCopyrightText: 2026 warpsearch contributors
// SPDX-License-Identifier: Apache-2.0
// The index file format: round trip, and every truncation or flipped byte either gives
// a clear std::invalid_argument or the very same contents (never a crash, never other data).
#include <gtest/gtest.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <unistd.h>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "io/format.hpp"
#include "warpsearch/hnsw.hpp"
#include "warpsearch/index.hpp"

namespace warpsearch::detail {
namespace {

namespace fs = std::filesystem;

class FileFormat : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("warpsearch_cpp_tests_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string path(const std::string& name) const { return (dir_ / name).string(); }
  static std::vector<char> read(const std::string& p) {
    std::ifstream f(p, std::ios::binary);
    return {std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>()};
  }
  static void write(const std::string& p, const std::vector<char>& b, std::size_t n) {
    std::ofstream f(p, std::ios::binary | std::ios::trunc);
    f.write(b.data(), std::streamsize(n));
  }
  fs::path dir_;
};

struct Contents {
  std::string type;
  Metric metric;
  int dim;
  std::uint64_t count;
  std::vector<float> a;
  std::vector<std::uint8_t> b;
  bool operator==(const Contents&) const = default;
};

Contents load(const std::string& p) {
  FileReader r(p);
  return {r.type(), r.metric(), r.dim(), r.count(), r.vec<float>("a", 10), r.vec<std::uint8_t>("b")};
}

TEST_F(FileFormat, RoundTripAndMissingSection) {
  std::vector<float> a(10);
  for (int i = 0; i < 10; ++i) a[std::size_t(i)] = 0.5f * float(i) - 1.f;
  std::vector<std::uint8_t> b = {1, 2, 3, 250, 0, 7, 9};
  FileWriter w("test", Metric::IP, 5, 2);
  w.add("a", a);
  w.add("b", b);
  w.write(path("f.ws"));
  const Contents c = load(path("f.ws"));
  EXPECT_EQ(c.type, "test");
  EXPECT_EQ(c.metric, Metric::IP);
  EXPECT_EQ(c.dim, 5);
  EXPECT_EQ(c.count, 2u);
  EXPECT_EQ(c.a, a);
  EXPECT_EQ(c.b, b);
  FileReader r(path("f.ws"));
  EXPECT_TRUE(r.has("a"));
  EXPECT_FALSE(r.has("zz"));
  EXPECT_THROW(r.raw("zz"), std::invalid_argument);
  EXPECT_THROW(r.vec<float>("a", 11), std::invalid_argument);   // wrong entry count
  EXPECT_THROW(r.vec<double>("b"), std::invalid_argument);      // size not a multiple
  EXPECT_FALSE(fs::exists(path("f.ws") + ".tmp"));
}

TEST_F(FileFormat, GatheredSectionsEqualOneBuffer) {
  // A section written from parts (one per inverted list) is byte for byte the section
  // written from their concatenation: same offsets, sizes and checksums.
  std::vector<float> a(10);
  for (int i = 0; i < 10; ++i) a[std::size_t(i)] = float(i * i) - 3.f;
  std::vector<std::uint8_t> b = {9, 8, 7, 6, 5, 4, 3};
  FileWriter one("test", Metric::L2, 5, 2);
  one.add("a", a);
  one.add("b", b);
  one.write(path("one.ws"));
  FileWriter parts("test", Metric::L2, 5, 2);
  parts.add_parts("a", {{a.data(), 12}, {nullptr, 0}, {a.data() + 3, 28}});
  parts.add_parts("b", {{b.data(), 1}, {b.data() + 1, 6}});
  parts.write(path("parts.ws"));
  std::ifstream f1(path("one.ws"), std::ios::binary), f2(path("parts.ws"), std::ios::binary);
  const std::string s1((std::istreambuf_iterator<char>(f1)), std::istreambuf_iterator<char>());
  const std::string s2((std::istreambuf_iterator<char>(f2)), std::istreambuf_iterator<char>());
  EXPECT_EQ(s1, s2);
  const Contents c = load(path("parts.ws"));
  EXPECT_EQ(c.a, a);
  EXPECT_EQ(c.b, b);
}

TEST_F(FileFormat, MissingFilesAndDirectoriesAreClearErrors) {
  EXPECT_THROW(FileReader(path("nope.ws")), std::invalid_argument);
  EXPECT_THROW(FileReader(dir_.string()), std::invalid_argument);
  write(path("empty.ws"), {}, 0);
  EXPECT_THROW(FileReader(path("empty.ws")), std::invalid_argument);
}

TEST_F(FileFormat, EveryTruncationIsAClearError) {
  std::vector<float> a(10, 3.25f);
  std::vector<std::uint8_t> b(100, 17);
  FileWriter w("test", Metric::L2, 4, 1);
  w.add("a", a);
  w.add("b", b);
  w.write(path("f.ws"));
  const auto bytes = read(path("f.ws"));
  ASSERT_GT(bytes.size(), 200u);
  for (std::size_t n = 0; n < bytes.size(); ++n) {
    write(path("t.ws"), bytes, n);
    try {
      FileReader r(path("t.ws"));
      // a cut inside the last section's trailing alignment keeps every byte of data
      EXPECT_EQ(load(path("t.ws")), load(path("f.ws"))) << "truncated to " << n;
    } catch (const std::invalid_argument& e) {
      EXPECT_NE(std::string(e.what()).find(path("t.ws")), std::string::npos) << e.what();
    }
  }
  // the data ends at the last non-padding byte: cutting it must fail
  std::size_t last = bytes.size();
  while (last > 0 && bytes[last - 1] == 0) --last;
  write(path("t.ws"), bytes, last - 1);
  EXPECT_THROW(FileReader(path("t.ws")), std::invalid_argument);
}

TEST_F(FileFormat, EveryFlippedByteIsAClearErrorOrHarmless) {
  std::vector<float> a(10);
  for (int i = 0; i < 10; ++i) a[std::size_t(i)] = float(i) * 1.5f;
  std::vector<std::uint8_t> b(60);
  for (std::size_t i = 0; i < b.size(); ++i) b[i] = std::uint8_t(i * 7);
  FileWriter w("test", Metric::Cosine, 4, 3);
  w.add("a", a);
  w.add("b", b);
  w.write(path("f.ws"));
  const Contents good = load(path("f.ws"));
  const auto bytes = read(path("f.ws"));
  std::size_t rejected = 0;
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    for (int mask : {0x01, 0x80, 0xFF}) {
      auto bad = bytes;
      bad[i] = char(bad[i] ^ mask);
      write(path("x.ws"), bad, bad.size());
      try {
        EXPECT_EQ(load(path("x.ws")), good) << "byte " << i << " flipped by " << mask
                                            << " was read as other data";
      } catch (const std::invalid_argument&) {
        ++rejected;
      }
    }
  }
  // every byte of the header and of the data is checked: only alignment padding may pass
  std::size_t padding = 0;
  for (char c : bytes) padding += c == 0;
  EXPECT_GE(rejected, 3 * (bytes.size() - padding));
}

TEST_F(FileFormat, CorruptIndexFilesAreClearErrors) {
  HnswParams p;
  p.ef_construction = 32;
  HnswIndex idx(8, Metric::L2, p);
  std::mt19937 g(2);
  std::uniform_real_distribution<float> u(-1.f, 1.f);
  std::vector<float> x(300 * 8);
  for (auto& v : x) v = u(g);
  idx.add(x.data(), 300, nullptr);
  idx.save(path("h.ws"));
  auto ok = load_index(path("h.ws"));
  ASSERT_EQ(ok->size(), 300u);
  const auto bytes = read(path("h.ws"));
  for (std::size_t n : {std::size_t(0), std::size_t(7), std::size_t(64), bytes.size() / 3,
                        bytes.size() / 2, bytes.size() - 200}) {
    write(path("t.ws"), bytes, n);
    EXPECT_THROW(load_index(path("t.ws")), std::invalid_argument) << "truncated to " << n;
  }
  for (std::size_t i : {std::size_t(3), std::size_t(20), bytes.size() / 2, bytes.size() - 300}) {
    auto bad = bytes;
    bad[i] = char(bad[i] ^ 0x5A);
    write(path("x.ws"), bad, bad.size());
    if (bytes[i] == 0) continue;  // possibly alignment padding
    EXPECT_THROW(load_index(path("x.ws")), std::invalid_argument) << "byte " << i;
  }
}

}  // namespace
}  // namespace warpsearch::detail
