// SPDX-FileCopyrightText: 2026 warpsearch contributors
// SPDX-License-Identifier: Apache-2.0
#include "storage/mapped_file.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "common/crc32c.hpp"
#include "warpsearch/errors.hpp"

namespace warpsearch::detail {

MappedFile::MappedFile(const std::string& path) : path_(path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  WS_EXPECTS(fd >= 0, "cannot open index file '", path, "' (", std::strerror(errno), ")");
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    const bool dir = S_ISDIR(st.st_mode);
    ::close(fd);
    WS_EXPECTS(!dir, "'", path, "' is a directory, not an index file");
    WS_EXPECTS(false, "cannot read index file '", path, "'");
  }
  size_ = std::size_t(st.st_size);
  if (size_ > 0) {
    void* p = ::mmap(nullptr, size_, PROT_READ, MAP_SHARED, fd, 0);
    const int err = errno;
    ::close(fd);
    WS_EXPECTS(p != MAP_FAILED, "cannot map index file '", path, "' (", std::strerror(err), ")");
    data_ = static_cast<const std::uint8_t*>(p);
  } else {
    ::close(fd);
  }
}

MappedFile::~MappedFile() {
  if (data_) ::munmap(const_cast<std::uint8_t*>(data_), size_);
}

void MappedFile::set_sections(std::vector<Section> secs) {
  secs_ = std::move(secs);
  state_ = std::make_unique<std::atomic<std::uint8_t>[]>(secs_.size());
  for (std::size_t i = 0; i < secs_.size(); ++i) state_[i].store(kUnchecked);
}

int MappedFile::find(const std::string& name) const {
  for (std::size_t i = 0; i < secs_.size(); ++i)
    if (secs_[i].name == name) return int(i);
  return -1;
}

void MappedFile::verify(int i) const {
  auto& st = state_[std::size_t(i)];
  std::uint8_t v = st.load(std::memory_order_acquire);
  if (v == kUnchecked) {
    std::lock_guard lk(mu_);  // one thread reads a section; the others wait for its verdict
    v = st.load(std::memory_order_acquire);
    if (v == kUnchecked) {
      const Section& s = secs_[std::size_t(i)];
      const std::uint8_t* p = data_ + s.offset;
      // The mapping reads at random (one page per fault, no read-ahead): a section
      // checked from a file not in memory is read in order instead, then the random
      // advice is restored.
      advise_pages(p, std::size_t(s.bytes), MADV_SEQUENTIAL);
      v = crc32c(p, std::size_t(s.bytes)) == s.crc ? kGood : kBad;
      release(p, std::size_t(s.bytes));
      advise_pages(p, std::size_t(s.bytes), MADV_RANDOM);
      st.store(v, std::memory_order_release);
    }
  }
  if (v == kBad)
    throw CorruptFileError(concat("not a valid warpsearch index file '", path_, "': section '",
                                  secs_[std::size_t(i)].name, "' checksum mismatch (corrupted)"));
}

void MappedFile::verify_all() const {
  for (std::size_t i = 0; i < secs_.size(); ++i) verify(int(i));
}

void MappedFile::advise_random() const {
  if (data_) ::madvise(const_cast<std::uint8_t*>(data_), size_, MADV_RANDOM);
}

void advise_pages(const void* p, std::size_t bytes, int advice) {
  static const std::size_t page = std::size_t(::sysconf(_SC_PAGESIZE));
  const auto a = reinterpret_cast<std::uintptr_t>(p);
  const std::uintptr_t lo = a / page * page, hi = (a + bytes + page - 1) / page * page;
  if (hi > lo) ::madvise(reinterpret_cast<void*>(lo), hi - lo, advice);
}

void MappedFile::release(const void* p, std::size_t bytes) const {
  // Whole pages inside the range only: a page shared with a neighbouring section may be
  // in use. MADV_DONTNEED on a shared read-only file mapping only unmaps the pages; the
  // next read maps them again from the page cache.
  const std::size_t page = std::size_t(::sysconf(_SC_PAGESIZE));
  const auto a = reinterpret_cast<std::uintptr_t>(p);
  const std::uintptr_t lo = (a + page - 1) / page * page, hi = (a + bytes) / page * page;
  if (hi > lo) ::madvise(reinterpret_cast<void*>(lo), hi - lo, MADV_DONTNEED);
}

}  // namespace warpsearch::detail
