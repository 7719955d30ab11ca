// SPDX-FileCopyrightText: 2026 warpsearch contributors
// SPDX-License-Identifier: Apache-2.0
// The storage layer: stores that view a mapped file section (verified once, on first
// use), copy-on-write into RAM, and indexes loaded mapped giving the results of a full
// load (including a file in the layout from before mapped sections).
#include <gtest/gtest.h>

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <unistd.h>
#include <vector>

#include "common/aligned.hpp"
#include "io/format.hpp"
#include "storage/mapped_file.hpp"
#include "storage/store.hpp"
#include "warpsearch/brute_force.hpp"
#include "warpsearch/errors.hpp"
#include "warpsearch/hnsw.hpp"
#include "warpsearch/index.hpp"
#include "warpsearch/ivf_pq.hpp"

namespace warpsearch::detail {
namespace {

namespace fs = std::filesystem;

class StorageTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("warpsearch_storage_tests_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string path(const std::string& name) const { return (dir_ / name).string(); }
  static void flip(const std::string& p, std::size_t at) {
    std::fstream f(p, std::ios::in | std::ios::out | std::ios::binary);
    f.seekg(std::streamoff(at));
    char c = 0;
    f.read(&c, 1);
    f.seekp(std::streamoff(at));
    c = char(c ^ 0x5A);
    f.write(&c, 1);
  }
  fs::path dir_;
};

std::vector<float> random_rows(std::size_t n, std::size_t d, unsigned seed) {
  std::mt19937 g(seed);
  std::normal_distribution<float> u(0.f, 1.f);
  std::vector<float> x(n * d);
  for (auto& v : x) v = u(g);
  return x;
}

TEST_F(StorageTest, MappedStoreViewsItsSectionAndCopiesOnWrite) {
  std::vector<float> a(1000);
  for (std::size_t i = 0; i < a.size(); ++i) a[i] = float(i) * 0.25f;
  std::vector<std::uint32_t> b = {7, 8, 9};
  FileWriter w("test", Metric::L2, 4, 250);
  w.add("a", a);
  w.add("b", b);
  w.write(path("f.ws"));

  FileReader r(path("f.ws"), /*lazy=*/true);
  Store<float> sa;
  Store<std::uint32_t> sb;
  r.load(sa, "a", 1000);
  r.load(sb, "b");
  const Store<float>& ca = sa;  // reads through the const interface never copy
  ASSERT_TRUE(ca.mapped());
  EXPECT_EQ(ca.size(), 1000u);
  EXPECT_EQ(ca.capacity(), 0u);  // no RAM
  EXPECT_EQ(ca.mapped_bytes(), 4000u);
  EXPECT_EQ(reinterpret_cast<std::uintptr_t>(ca.data()) % kAlign, 0u);  // sections are aligned
  EXPECT_EQ(ca.data(), reinterpret_cast<const float*>(r.raw("a").first));
  EXPECT_EQ(ca[999], 249.75f);
  EXPECT_EQ(std::vector<float>(ca.begin(), ca.end()), a);
  EXPECT_THROW(r.load(sa, "a", 999), std::invalid_argument);  // wrong size: clear error

  // Copy-on-write: the first change copies the section into RAM; the file is unchanged.
  sb[1] = 42;
  EXPECT_FALSE(sb.mapped());
  EXPECT_EQ(sb.to_vector(), (std::vector<std::uint32_t>{7, 42, 9}));
  FileReader again(path("f.ws"));
  EXPECT_EQ(again.vec<std::uint32_t>("b"), b);

  // An eager reader copies into RAM.
  Store<float> ram;
  again.load(ram, "a", 1000);
  EXPECT_FALSE(ram.mapped());
  EXPECT_EQ(ram.to_vector(), a);
}

TEST_F(StorageTest, DamagedSectionFailsOnFirstUseEveryTime) {
  std::vector<float> a(4096, 1.f), small = {1.f, 2.f};
  FileWriter w("test", Metric::L2, 4, 1);
  w.add("small", small);
  w.add("a", a);
  w.write(path("f.ws"));
  FileReader probe(path("f.ws"), true);
  const auto off = std::size_t(probe.raw("a").first - probe.file()->data());
  flip(path("f.ws"), off + 100);

  EXPECT_THROW(FileReader(path("f.ws")), CorruptFileError);  // eager: every section now
  FileReader r(path("f.ws"), true);  // lazy: opens
  EXPECT_EQ(r.vec<float>("small"), small);  // a sound section reads fine
  Store<float> st;
  r.load(st, "a", 4096);
  for (int i = 0; i < 2; ++i) EXPECT_THROW(st.ensure(), CorruptFileError);
  EXPECT_THROW(st.own(), CorruptFileError);
  EXPECT_THROW(r.vec<float>("a"), CorruptFileError);
  EXPECT_THROW(r.file()->verify_all(), CorruptFileError);
  EXPECT_TRUE(r.file()->verified(r.file()->find("small")));
}

TEST_F(StorageTest, IndexesLoadedMappedSearchLikeFullLoads) {
  const std::size_t n = 2000, d = 16, nq = 10, k = 8;
  const auto x = random_rows(n, d, 1), q = random_rows(nq, d, 2);
  std::vector<std::unique_ptr<Index>> built;
  built.push_back(std::make_unique<FlatIndex>(int(d), Metric::L2, Storage::FP32, Refine::None));
  built.push_back(std::make_unique<FlatIndex>(int(d), Metric::Cosine, Storage::SQ4, Refine::FP16));
  HnswParams hp;
  hp.ef_construction = 40;
  built.push_back(std::make_unique<HnswIndex>(int(d), Metric::IP, hp));
  IvfPqParams ip;
  ip.nlist = 8;
  ip.m = 4;
  ip.nbits = 4;
  ip.refine = Refine::SQ8;
  auto ivf = std::make_unique<IvfPqIndex>(int(d), Metric::L2, ip);
  ivf->train(x.data(), n, -1);
  built.push_back(std::move(ivf));
  for (auto& idx : built) {
    idx->add(x.data(), n, nullptr);
    const std::string p = path(idx->type_name() + ".ws");
    idx->save(p);
    auto full = load_index(p), mm = load_index(p, true);
    EXPECT_EQ(full->mapped_bytes(), 0u);
    EXPECT_GT(mm->mapped_bytes(), 0u) << idx->type_name();
    SearchParams sp;
    sp.k = int(k);
    sp.ef = 64;
    std::vector<float> D0(nq * k), D1(nq * k);
    std::vector<idx_t> I0(nq * k), I1(nq * k);
    full->search(q.data(), nq, sp, D0.data(), I0.data(), nullptr);
    mm->search(q.data(), nq, sp, D1.data(), I1.data(), nullptr);
    EXPECT_EQ(I0, I1) << idx->type_name();
    EXPECT_EQ(D0, D1) << idx->type_name();
    mm->verify();
    // A write copies the mapped parts into RAM; the results follow the full load's.
    const idx_t extra = 5000;
    full->add(q.data(), 1, &extra);
    mm->add(q.data(), 1, &extra);
    EXPECT_EQ(mm->mapped_bytes(), 0u);
    full->search(q.data(), nq, sp, D0.data(), I0.data(), nullptr);
    mm->search(q.data(), nq, sp, D1.data(), I1.data(), nullptr);
    EXPECT_EQ(I0, I1) << idx->type_name();
    EXPECT_EQ(I1[0], extra);
  }
}

TEST_F(StorageTest, FlatFileFromBeforeMappedLayoutsLoadsIntoRam) {
  // The layout of format version 1 before mapped sections: row-major 'vectors'.
  const std::size_t n = 37, d = 5;
  const auto x = random_rows(n, d, 3);
  std::vector<idx_t> ids(n);
  for (std::size_t i = 0; i < n; ++i) ids[i] = idx_t(100 + 3 * i);
  const std::vector<std::int64_t> meta{idx_t(100 + 3 * n), 0, 0};
  FileWriter w("flat", Metric::L2, int(d), n);
  w.add("ids", ids);
  w.add("meta", meta);
  w.add("vectors", x);
  w.write(path("old.ws"));
  auto mm = load_index(path("old.ws"), true);
  EXPECT_EQ(mm->mapped_bytes(), 0u);  // converted: panels are built in RAM
  ASSERT_EQ(mm->size(), n);
  SearchParams sp;
  sp.k = 1;
  for (std::size_t i = 0; i < n; ++i) {
    float D = -1;
    idx_t I = -1;
    mm->search(&x[i * d], 1, sp, &D, &I, nullptr);
    EXPECT_EQ(I, ids[i]);
    EXPECT_NEAR(D, 0.f, 1e-4f);  // |q|^2 + |x|^2 - 2 q.x in fp32
  }
  mm->save(path("new.ws"));  // saved again: the mapped layout
  EXPECT_GT(load_index(path("new.ws"), true)->mapped_bytes(), 0u);
}


// --- avector: the growable array of an index's big arrays ---

TEST(AVector, KeepsContentsThroughEveryGrowthPath) {
  // Small (heap) blocks, small to huge, huge to huge (pages moved), with values that
  // are zero and not zero, and shrinking then growing again.
  avector<std::uint32_t> v;
  std::vector<std::uint32_t> ref;
  std::mt19937 g(3);
  for (std::size_t n : {std::size_t(10), std::size_t(1000), std::size_t(3) << 20,
                        std::size_t(5) << 20, std::size_t(100), std::size_t(6) << 20}) {
    const std::uint32_t fill = (n % 3 == 0) ? 0u : 7u;
    v.resize(n, fill);
    ref.resize(n, fill);
    for (int i = 0; i < 64; ++i) {
      const std::size_t at = g() % n;
      v[at] = ref[at] = std::uint32_t(g());
    }
    ASSERT_EQ(v.size(), ref.size());
    ASSERT_EQ(std::memcmp(v.data(), ref.data(), n * sizeof(std::uint32_t)), 0) << n;
    EXPECT_EQ(reinterpret_cast<std::uintptr_t>(v.data()) % 64, 0u);
  }
  // Growing with zeros after a shrink writes the zeros (the elements were written).
  avector<float> f(std::size_t(4) << 20, 1.f);
  f.resize(10);
  f.resize(std::size_t(4) << 20, 0.f);
  EXPECT_EQ(f[10], 0.f);
  EXPECT_EQ(f[(std::size_t(4) << 20) - 1], 0.f);
  EXPECT_EQ(f[9], 1.f);
}

TEST(AVector, PushBackAndInsertFromItsOwnElements) {
  avector<std::int64_t> v;
  for (std::int64_t i = 0; i < 100000; ++i) v.push_back(i);
  v.push_back(v[5]);  // aliasing the array while it grows
  EXPECT_EQ(v.back(), 5);
  const std::size_t n = v.size();
  v.insert(v.begin() + 1, v.begin() + 10, v.begin() + 20);
  ASSERT_EQ(v.size(), n + 10);
  EXPECT_EQ(v[0], 0);
  EXPECT_EQ(v[1], 10);
  EXPECT_EQ(v[10], 19);
  EXPECT_EQ(v[11], 1);
  avector<std::int64_t> c(v);
  EXPECT_EQ(std::memcmp(c.data(), v.data(), v.size() * sizeof(std::int64_t)), 0);
  avector<std::int64_t> m(std::move(c));
  EXPECT_EQ(m.size(), v.size());
  EXPECT_EQ(c.size(), 0u);
}

#if defined(__linux__)
long status_kib(const char* key) {
  FILE* f = std::fopen("/proc/self/status", "r");
  char line[256];
  long v = -1;
  while (f && std::fgets(line, sizeof line, f))
    if (std::strncmp(line, key, std::strlen(key)) == 0) v = std::atol(line + std::strlen(key));
  if (f) std::fclose(f);
  return v;
}

TEST(AVector, GrowingNeverHoldsTheOldAndNewArraysNorTouchesSpareCapacity) {
  // 64 MiB written, then grown by half with zeros: the peak stays near 64 MiB (a copy
  // would peak at 160 MiB: the old array plus the new one, zero-filled).
  avector<float> v(std::size_t(16) << 20, 1.f);
  const long before = status_kib("VmRSS:");
  {
    std::ofstream reset("/proc/self/clear_refs");  // resets VmHWM to the current RSS
    reset << "5";
  }
  if (status_kib("VmHWM:") > before + 16 * 1024) GTEST_SKIP() << "VmHWM cannot be reset here";
  v.resize(std::size_t(24) << 20, 0.f);
  const long peak = status_kib("VmHWM:"), after = status_kib("VmRSS:");
  EXPECT_LT(peak - before, 16 * 1024) << "growth peaked " << (peak - before) << " KiB above";
  EXPECT_LT(after - before, 16 * 1024);
  EXPECT_EQ(v[(std::size_t(16) << 20) - 1], 1.f);
  EXPECT_EQ(v[(std::size_t(24) << 20) - 1], 0.f);
}
#endif

}  // namespace
}  // namespace warpsearch::detail
