// SPDX-FileCopyrightText: 2026 warpsearch contributors
// SPDX-License-Identifier: Apache-2.0
#include "io/format.hpp"

#include <cerrno>
#include <cstdio>
#include <fstream>

#include "common/crc32c.hpp"

namespace warpsearch::detail {
namespace {

constexpr std::size_t kNameLen = 24;
constexpr std::size_t kFixedHeader = 8 + 4 + 4 + 16 + 4 + 4 + 8 + 4 + 4;  // 56 bytes
constexpr std::size_t kEntry = kNameLen + 8 + 8 + 4 + 4;                   // 48 bytes

std::size_t align_up(std::size_t x) { return (x + kAlign - 1) / kAlign * kAlign; }

template <typename T>
void put(std::vector<std::uint8_t>& b, T v) {
  auto* p = reinterpret_cast<const std::uint8_t*>(&v);
  b.insert(b.end(), p, p + sizeof(T));
}
void put_str(std::vector<std::uint8_t>& b, const std::string& s, std::size_t len) {
  for (std::size_t i = 0; i < len; ++i) b.push_back(i < s.size() ? std::uint8_t(s[i]) : 0);
}
template <typename T>
T get(const std::uint8_t* p) {
  T v;
  std::memcpy(&v, p, sizeof(T));
  return v;
}
std::string get_str(const std::uint8_t* p, std::size_t len) {
  std::size_t n = 0;
  while (n < len && p[n]) ++n;
  return std::string(reinterpret_cast<const char*>(p), n);
}

}  // namespace

FileWriter::FileWriter(std::string type, Metric metric, int dim, std::uint64_t count)
    : type_(std::move(type)), metric_(metric), dim_(dim), count_(count) {}

void FileWriter::add(const std::string& name, const void* data, std::size_t bytes) {
  add_parts(name, {Part{data, bytes}});
}

void FileWriter::add_parts(const std::string& name, std::vector<Part> parts) {
  WS_ASSERT(name.size() < kNameLen);
  std::size_t bytes = 0;
  for (const auto& p : parts) bytes += p.bytes;
  secs_.push_back({name, std::move(parts), bytes});
}

void FileWriter::write(const std::string& path) const {
  std::vector<std::uint8_t> h;
  h.insert(h.end(), kMagic, kMagic + 8);
  std::size_t header_bytes = kFixedHeader + kEntry * secs_.size() + 4;
  put<std::uint32_t>(h, kFormatVersion);
  put<std::uint32_t>(h, std::uint32_t(header_bytes));
  put_str(h, type_, 16);
  put<std::uint32_t>(h, std::uint32_t(metric_));
  put<std::uint32_t>(h, std::uint32_t(dim_));
  put<std::uint64_t>(h, count_);
  put<std::uint32_t>(h, std::uint32_t(secs_.size()));
  put<std::uint32_t>(h, 0);
  std::size_t off = align_up(header_bytes);
  std::vector<std::size_t> offsets;
  for (const auto& s : secs_) {
    offsets.push_back(off);
    put_str(h, s.name, kNameLen);
    put<std::uint64_t>(h, off);
    put<std::uint64_t>(h, s.bytes);
    std::uint32_t crc = 0;
    for (const auto& p : s.parts)
      if (p.bytes) crc = crc32c(p.data, p.bytes, crc);
    put<std::uint32_t>(h, crc);
    put<std::uint32_t>(h, 0);
    off = align_up(off + s.bytes);
  }
  put<std::uint32_t>(h, crc32c(h.data(), h.size()));
  WS_ASSERT(h.size() == header_bytes);

  const std::string tmp = path + ".tmp";
  {
    std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
    WS_EXPECTS(f.good(), "cannot open '", tmp, "' for writing");
    static const char zeros[kAlign] = {};
    f.write(reinterpret_cast<const char*>(h.data()), std::streamsize(h.size()));
    std::size_t pos = h.size();
    for (std::size_t i = 0; i < secs_.size(); ++i) {
      f.write(zeros, std::streamsize(offsets[i] - pos));
      for (const auto& p : secs_[i].parts)
        if (p.bytes) f.write(static_cast<const char*>(p.data), std::streamsize(p.bytes));
      pos = offsets[i] + secs_[i].bytes;
    }
    f.flush();
    WS_EXPECTS(f.good(), "failed writing '", tmp, "' (disk full?)");
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    std::remove(tmp.c_str());
    WS_EXPECTS(false, "cannot rename '", tmp, "' to '", path, "' (errno ", errno, ")");
  }
}

FileReader::FileReader(const std::string& path, bool lazy) : path_(path), lazy_(lazy) {
  file_ = std::make_shared<MappedFile>(path);
  const std::uint8_t* buf = file_->data();
  const std::size_t size = file_->size();
  const std::string bad = "not a valid warpsearch index file '" + path + "': ";
  WS_EXPECTS(size >= kFixedHeader + 4, bad, "too short (", size, " bytes)");
  WS_EXPECTS(std::memcmp(buf, kMagic, 8) == 0, bad, "bad magic");
  const std::uint8_t* p = buf + 8;
  auto version = get<std::uint32_t>(p);
  WS_EXPECTS(version == kFormatVersion, bad, "unsupported format version ", version);
  auto header_bytes = get<std::uint32_t>(p + 4);
  WS_EXPECTS(header_bytes >= kFixedHeader + 4 && header_bytes <= size, bad, "truncated header");
  auto stored = get<std::uint32_t>(buf + header_bytes - 4);
  if (stored != crc32c(buf, header_bytes - 4))
    throw CorruptFileError(bad + "header checksum mismatch");
  type_ = get_str(p + 8, 16);
  auto m = get<std::uint32_t>(p + 24);
  WS_EXPECTS(m <= 2, bad, "unknown metric code ", m);
  metric_ = Metric(m);
  dim_ = int(get<std::uint32_t>(p + 28));
  count_ = get<std::uint64_t>(p + 32);
  auto nsec = get<std::uint32_t>(p + 40);
  WS_EXPECTS(kFixedHeader + std::size_t(nsec) * kEntry + 4 == header_bytes, bad,
             "inconsistent section table");
  const std::uint8_t* e = buf + kFixedHeader;
  std::vector<MappedFile::Section> secs;
  for (std::uint32_t i = 0; i < nsec; ++i, e += kEntry) {
    MappedFile::Section s{get_str(e, kNameLen), get<std::uint64_t>(e + kNameLen),
                          get<std::uint64_t>(e + kNameLen + 8), get<std::uint32_t>(e + kNameLen + 16)};
    if (!(s.offset <= size && s.bytes <= size - s.offset))
      throw CorruptFileError(bad + "section '" + s.name + "' runs past the end of the file (truncated?)");
    secs.push_back(s);
  }
  file_->set_sections(std::move(secs));
  if (!lazy_) file_->verify_all();
}

bool FileReader::has(const std::string& name) const { return file_->find(name) >= 0; }

std::pair<const std::uint8_t*, std::size_t> FileReader::raw(const std::string& name) const {
  const int i = file_->find(name);
  WS_EXPECTS(i >= 0, "corrupt index file '", path_, "': missing section '", name, "'");
  const auto& s = file_->sections()[std::size_t(i)];
  return {file_->data() + s.offset, std::size_t(s.bytes)};
}

}  // namespace warpsearch::detail
