// SPDX-FileCopyrightText: 2026 warpsearch contributors
// SPDX-License-Identifier: Apache-2.0
#pragma once
// A read-only memory mapping of a whole index file with its section table. Each
// section's CRC-32C is verified once, on demand (verify): a lazily opened index
// verifies a section the first time it reads it, a full load verifies all of them
// before it copies anything. Pages read by a verification are dropped from this
// process's resident set right after (they stay in the page cache), so checking a
// section does not make it resident; only what searches read is.
//
// The mapping is MAP_SHARED, PROT_READ: the file is never written through it. save()
// replaces a file by rename, so saving over a mapped file leaves the mapping on the old
// contents. Truncating or rewriting a mapped file in place is outside the contract: a
// read past the new end raises SIGBUS in the kernel, which no library can turn into an
// exception.
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace warpsearch::detail {

// madvise(advice) over the whole pages that hold [p, p + bytes) of a mapping (advisory:
// errors are ignored).
void advise_pages(const void* p, std::size_t bytes, int advice);

class MappedFile {
 public:
  struct Section {
    std::string name;
    std::uint64_t offset = 0, bytes = 0;
    std::uint32_t crc = 0;
  };
  // Maps path (std::invalid_argument when it cannot be opened or mapped).
  explicit MappedFile(const std::string& path);
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  const std::uint8_t* data() const { return data_; }
  std::size_t size() const { return size_; }
  const std::string& path() const { return path_; }

  // The section table (set once by the reader that parsed the header).
  void set_sections(std::vector<Section> secs);
  const std::vector<Section>& sections() const { return secs_; }
  // Index of a section by name, or -1.
  int find(const std::string& name) const;
  // Checks section i's CRC once; a mismatch throws CorruptFileError (every time).
  void verify(int i) const;
  void verify_all() const;
  bool verified(int i) const { return state_[std::size_t(i)].load(std::memory_order_acquire) == kGood; }
  // Drops the pages of [p, p + bytes) from the resident set (advisory).
  void release(const void* p, std::size_t bytes) const;
  // Reads will be scattered (a graph walk, probed lists): the kernel then maps only
  // the page a read faults on, not the pages around it (advisory).
  void advise_random() const;

 private:
  enum : std::uint8_t { kUnchecked = 0, kGood = 1, kBad = 2 };
  std::string path_;
  const std::uint8_t* data_ = nullptr;
  std::size_t size_ = 0;
  std::vector<Section> secs_;
  std::unique_ptr<std::atomic<std::uint8_t>[]> state_;
  mutable std::mutex mu_;
};

}  // namespace warpsearch::detail
