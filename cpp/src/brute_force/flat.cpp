// SPDX-FileCopyrightText: 2026 warpsearch contributors
// SPDX-License-Identifier: Apache-2.0
// FlatIndex: storage, writes, files and the GPU copy (search is in flat_search.cpp).
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <mutex>
#include <shared_mutex>
#include <unordered_map>
#include <vector>

#include "brute_force/flat_impl.hpp"
#include "common/bitset.hpp"
#include "common/vector_ops.hpp"
#include "io/format.hpp"
#include "simd/distance.hpp"
#include "warpsearch/brute_force.hpp"
#include "warpsearch/errors.hpp"
#include "warpsearch/threads.hpp"

namespace warpsearch {

FlatIndex::FlatIndex(int dim, Metric metric, Storage storage, Refine refine) : Index(dim, metric) {
  WS_EXPECTS(storage != Storage::FP32 || refine == Refine::None,
             "refine='", refine_name(refine), "' needs a compressed storage (fp32 vectors are exact)");
  WS_EXPECTS(storage != Storage::FP16 || (refine != Refine::FP16 && refine != Refine::SQ8),
             "refine='", refine_name(refine), "' is no more exact than storage='fp16'");
  s_ = std::make_unique<detail::FlatStorage>(std::size_t(dim), storage, refine);
}

Storage FlatIndex::storage() const { return s_->storage; }
Refine FlatIndex::refine() const { return s_->refine; }
std::size_t FlatIndex::bytes_per_vector() const { return s_->bytes_per_vector(); }

namespace {

// The codec that encodes x after this add: trained on the first data, widened (with
// every stored row re-encoded by the caller) when x falls outside its range.
detail::VectorCodec next_codec(const detail::VectorCodec& c, const float* x, std::size_t n,
                               const char* what, bool* reencode) {
  *reencode = false;
  if (c.kind() == Storage::FP16) detail::expect_half_range(x, n, c.dim(), what);
  if (!c.needs_training()) return c;
  if (!c.trained()) {
    detail::VectorCodec t = c;
    t.train(x, n);
    return t;
  }
  if (c.covers(x, n)) return c;
  *reencode = true;
  return c.widened(x, n);
}

std::vector<std::uint8_t> reencode(const detail::VectorCodec& from, const detail::VectorCodec& to,
                                   const detail::Store<std::uint8_t>& src, std::size_t n,
                                   std::size_t cap) {
  std::vector<std::uint8_t> out(cap * to.bytes(), 0);
  std::vector<float> tmp(from.dim());
  for (std::size_t r = 0; r < n; ++r) {
    from.decode(&src[r * from.bytes()], tmp.data());
    to.encode(tmp.data(), &out[r * to.bytes()]);
  }
  return out;
}

}  // namespace

void FlatIndex::train(const float* x, std::size_t n) {
  validate_add(x, n, nullptr);
  WS_EXPECTS(n > 0, "train needs at least one vector");
  std::vector<float> buf;
  x = detail::metric_rows(x, n, std::size_t(dim_), metric_, buf);
  std::unique_lock lk(s_->mu);
  auto& s = *s_;
  s.own_all();  // a mapped index is copied into RAM before its first change
  const bool fits = (!s.fp32() && s.codec.needs_training()) || (s.has_refine() && s.rcodec.needs_training());
  if (!fits) return;  // fp32 / fp16 keep the vectors as they are: nothing to fit
  WS_EXPECTS(s.n == 0, "train the storage quantizer before adding vectors (the index holds ", s.n, ")");
  if (!s.fp32()) s.codec.train(x, n);
  if (s.has_refine()) s.rcodec.train(x, n);
}

FlatIndex::~FlatIndex() = default;

std::size_t FlatIndex::size() const {
  std::shared_lock lk(s_->mu);
  return s_->n;
}

void FlatIndex::add(const float* x, std::size_t n, const idx_t* ids) {
  validate_add(x, n, ids);
  if (n == 0) return;
  const std::size_t d = s_->d;
  std::vector<float> normed;
  x = detail::metric_rows(x, n, d, metric_, normed);
  std::unique_lock lk(s_->mu);
  auto& s = *s_;
  s.own_all();  // a mapped index is copied into RAM before its first change
  std::size_t fresh = 0;
  for (std::size_t i = 0; i < n; ++i) fresh += ids == nullptr || !s.rows().count(ids[i]);
  // Everything that may fail (a value out of range, bad_alloc) happens before any change.
  bool re = false, rre = false;
  detail::VectorCodec c = s.fp32() ? s.codec : next_codec(s.codec, x, n, "storage='fp16'", &re);
  detail::VectorCodec r = s.has_refine() ? next_codec(s.rcodec, x, n, "refine='fp16'", &rre) : s.rcodec;
  std::vector<std::uint8_t> codes, rcodes;
  if (re) codes = reencode(s.codec, c, s.codes, s.n, s.cap);
  if (rre) rcodes = reencode(s.rcodec, r, s.rcodes, s.n, s.cap);
  s.reserve_rows(s.n + fresh);
  if (s.ids.capacity() < s.n + fresh)  // grow geometrically: many small adds stay linear
    s.ids.reserve(std::max(s.n + fresh, s.ids.capacity() + s.ids.capacity() / 2));
  if (re) {
    codes.resize(s.codes.size(), 0);
    s.codes.swap(codes);
  }
  if (rre) {
    rcodes.resize(s.rcodes.size(), 0);
    s.rcodes.swap(rcodes);
  }
  s.codec = c;
  s.rcodec = r;
  std::vector<float> tmp(d);
  if (re)  // norms of the re-encoded rows (sq8/sq4: binary codes never re-encode)
    for (std::size_t row = 0; row < s.n; ++row) {
      s.codec.decode(s.code(row), tmp.data());
      s.norms[row] = detail::kernels().ip(tmp.data(), tmp.data(), d);
    }
  for (std::size_t i = 0; i < n; ++i) {
    const idx_t id = ids ? ids[i] : next_id_ + idx_t(i);
    auto it = s.rows().find(id);
    std::size_t row;
    if (it != s.rows().end()) {
      row = it->second;
    } else {
      row = s.n++;
      s.ids.push_back(id);
      s.rows().emplace(id, row);
    }
    s.put_row(row, x + i * d, tmp.data());
  }
  advance_next_id(ids, n);
}

std::size_t FlatIndex::remove(const idx_t* ids, std::size_t n) {
  std::unique_lock lk(s_->mu);
  auto& s = *s_;
  s.own_all();  // a mapped index is copied into RAM before its first change
  std::size_t removed = 0;
  for (std::size_t i = 0; i < n; ++i) {
    auto it = s.rows().find(ids[i]);
    if (it == s.rows().end()) continue;
    const std::size_t row = it->second, last = s.n - 1;
    s.rows().erase(it);
    if (row != last) {  // move the last row into the hole
      s.move_row(last, row);
      s.ids[row] = s.ids[last];
      s.rows()[s.ids[row]] = row;
    }
    s.clear_row(last);
    s.ids.pop_back();
    --s.n;
    ++removed;
  }
  return removed;
}

void FlatIndex::save(const std::string& path) const {
  std::shared_lock lk(s_->mu);
  const auto& s = *s_;
  s.ensure_all();
  // Sections hold the in-memory layouts (so that load_index(mmap=True) maps them):
  // fp32 panels and norms padded to whole panels, binary codes as packed fast-scan
  // blocks. Files from before the mapped layouts have row-major 'vectors' or binary
  // 'codes' instead; load_from reads both.
  const std::size_t npad = (s.n + detail::kPanel - 1) / detail::kPanel * detail::kPanel;
  std::vector<std::int64_t> meta{next_id_, std::int64_t(s.storage), std::int64_t(s.refine)};
  detail::FileWriter w("flat", metric_, dim_, s.n);
  w.add("ids", s.ids.data(), s.n * sizeof(idx_t));
  w.add("meta", meta);
  std::vector<float> cpar = s.codec.params(), rpar = s.rcodec.params();
  std::vector<float> norms(s.norms.begin(), s.norms.begin() + std::min(npad, s.norms.size()));
  norms.resize(npad, 0.f);
  const std::vector<float> bounds{s.bs_min, s.bs_max, s.norm_min};
  if (s.fp32()) {
    w.add("panels", s.panels.data(), npad * s.d * sizeof(float));
  } else if (s.binary()) {
    const std::size_t nblk = (s.n + detail::kFsBlock - 1) / detail::kFsBlock;
    w.add("packed", s.packed.data(), nblk * s.block_bytes());
    w.add("bscale", s.bscale.data(), s.n * sizeof(float));
    w.add("codec", cpar);
  } else {
    w.add("codes", s.codes.data(), s.n * s.cb());
    w.add("codec", cpar);
  }
  w.add("norms", norms);
  w.add("bounds", bounds);
  if (s.has_refine()) {
    w.add("rcodes", s.rcodes.data(), s.n * s.rb());
    w.add("rcodec", rpar);
  }
  w.write(path);
}

std::unique_ptr<FlatIndex> FlatIndex::load_from(const void* reader) {
  const auto& r = *static_cast<const detail::FileReader*>(reader);
  const std::size_t n = std::size_t(r.count()), d = std::size_t(r.dim());
  auto meta = r.vec<std::int64_t>("meta");
  const std::string bad = "corrupt index file '" + r.path() + "': ";
  WS_EXPECTS(meta.size() == 1 || meta.size() == 3, bad, "section 'meta' has ", meta.size(), " entries");
  if (meta.size() == 1) meta.insert(meta.end(), {0, 0});  // files from before storage options
  WS_EXPECTS(meta[1] >= 0 && meta[1] <= std::int64_t(Storage::Binary) && meta[2] >= 0 &&
                 meta[2] <= std::int64_t(Refine::FP32),
             bad, "unknown storage or refine mode");
  auto idx = std::make_unique<FlatIndex>(r.dim(), r.metric(), Storage(meta[1]), Refine(meta[2]));
  auto& s = *idx->s_;
  const std::size_t npad = (n + detail::kPanel - 1) / detail::kPanel * detail::kPanel;
  // In RAM: room for the rows reserve_rows(n) gives (a whole fast-scan block).
  const std::size_t cap = (n + detail::kFsBlock - 1) / detail::kFsBlock * detail::kFsBlock;
  s.n = n;
  r.load(s.ids, "ids", n);
  const auto set_params = [&](const char* pname, detail::VectorCodec& c) {
    try {
      c.set_params(r.vec<float>(pname));
    } catch (const std::invalid_argument& e) {
      WS_EXPECTS(false, bad, "section '", pname, "': ", e.what());
    }
    WS_EXPECTS(n == 0 || c.trained(), bad, "section '", pname, "' is empty");
  };
  // The mapped layouts (see save); older files are converted into RAM row by row.
  const bool current = r.has("bounds");
  if (current) {
    const auto bounds = r.vec<float>("bounds", 3);
    s.bs_min = bounds[0];
    s.bs_max = bounds[1];
    s.norm_min = bounds[2];
    r.load(s.norms, "norms", npad, cap);
    if (s.fp32()) {
      r.load(s.panels, "panels", npad * d, cap * d);
    } else if (s.binary()) {
      set_params("codec", s.codec);
      r.load(s.packed, "packed", cap / detail::kFsBlock * s.block_bytes());
      r.load(s.bscale, "bscale", n, cap);
    } else {
      set_params("codec", s.codec);
      r.load(s.codes, "codes", n * s.cb(), cap * s.cb());
    }
    if (s.has_refine()) {
      set_params("rcodec", s.rcodec);
      r.load(s.rcodes, "rcodes", n * s.rb(), cap * s.rb());
    }
    s.cap = 0;
    if (!r.lazy()) s.reserve_rows(n);  // in RAM: room for the rows as after any add
  } else {
    s.ids.own();  // a file from before the mapped layouts: all in RAM
    s.reserve_rows(n);
    std::vector<float> tmp(d);
    if (s.fp32()) {
      const auto rows = r.vec<float>("vectors", n * d);
      for (std::size_t i = 0; i < n; ++i) s.put_row(i, &rows[i * d], tmp.data());
    } else {
      const auto bytes = r.vec<std::uint8_t>("codes", n * s.codec.bytes());
      set_params("codec", s.codec);
      if (s.binary()) {
        for (std::size_t i = 0; i < n; ++i) s.put_record(i, &bytes[i * s.cb()]);
      } else if (n) {
        std::memcpy(s.codes.data(), bytes.data(), bytes.size());
      }
      const auto norms = r.vec<float>("norms", n);
      std::copy(norms.begin(), norms.end(), s.norms.begin());
      for (float v : norms) s.norm_min = std::min(s.norm_min, v);
    }
    if (s.has_refine()) {
      const auto bytes = r.vec<std::uint8_t>("rcodes", n * s.rcodec.bytes());
      set_params("rcodec", s.rcodec);
      if (n) std::memcpy(s.rcodes.data(), bytes.data(), bytes.size());
    }
  }
  // The id map: built now in RAM (a duplicate id is an error of the load), on first
  // need when mapped.
  s.rows_ready_.store(false);
  if (!r.lazy()) {
    try {
      s.ensure_rows();
    } catch (const CorruptFileError& e) {
      throw CorruptFileError(bad + e.what());
    }
  }
  idx->next_id_ = meta[0];
  return idx;
}

std::size_t FlatIndex::memory_usage() const {
  std::shared_lock lk(s_->mu);
  return s_->panels.capacity() * sizeof(float) + s_->codes.capacity() + s_->rcodes.capacity() +
         s_->packed.capacity() + s_->bscale.capacity() * sizeof(float) +
         s_->norms.capacity() * sizeof(float) +
         s_->ids.capacity() * sizeof(idx_t) + s_->rows_bytes();
}

void FlatIndex::verify() const {
  std::shared_lock lk(s_->mu);
  s_->ensure_all();
  s_->ensure_rows();
}

std::size_t FlatIndex::mapped_bytes() const {
  std::shared_lock lk(s_->mu);
  return s_->mapped_bytes();
}

bool FlatIndex::contains(idx_t id) const {
  std::shared_lock lk(s_->mu);
  s_->ensure_all();
  return s_->rows().count(id) != 0;
}

std::vector<idx_t> FlatIndex::ids() const {
  std::shared_lock lk(s_->mu);
  s_->ensure_all();
  return std::vector<idx_t>(s_->ids.begin(), s_->ids.begin() + std::ptrdiff_t(s_->n));
}

std::vector<bool> FlatIndex::reconstruct(const idx_t* ids, std::size_t n, float* out) const {
  std::shared_lock lk(s_->mu);
  s_->ensure_all();
  std::vector<bool> found(n, false);
  for (std::size_t i = 0; i < n; ++i) {
    auto it = s_->rows().find(ids[i]);
    if (it == s_->rows().end()) continue;
    s_->get_row(it->second, out + i * s_->d);
    found[i] = true;
  }
  return found;
}

std::unique_ptr<GpuFlatData> FlatIndex::to_device(int device) const {
  auto dev = std::make_unique<GpuFlatData>(device);
  std::shared_lock lk(s_->mu);
  s_->ensure_all();
  const auto& s = *s_;
  std::vector<float> rows(s.n * s.d);  // panels -> row-major (cosine rows are stored normalized)
  for (std::size_t r = 0; r < s.n; ++r) s.get_row(r, &rows[r * s.d]);
  dev->upload(rows.data(), s.n, s.d, metric_, s.ids.data());
  return dev;
}

void FlatIndex::search_gpu(const GpuFlatData& dev, const float* q, std::size_t nq, const SearchParams& params,
                           float* D, idx_t* I, SearchStats* stats, MemSpace space) const {
  WS_EXPECTS(params.k > 0, "k must be > 0, got ", params.k);
  std::shared_lock lk(s_->mu);
  const auto& s = *s_;
  s.ensure_all();
  WS_EXPECTS_CURRENT_COPY(dev.size() == s.n && dev.dim() == s.d);
  Bitset allow_bits;
  if (params.filter.active())
    allow_bits = make_allow(
        params.filter, s.n, [&](std::size_t r) { return s.ids[r]; },
        [&](idx_t id) -> std::int64_t {
          auto it = s.rows().find(id);
          return it == s.rows().end() ? -1 : std::int64_t(it->second);
        });
  GpuSearchStats st;
  dev.search(q, nq, params.k, allow_bits.empty() ? nullptr : allow_bits.data(), D, I, space, &st);
  if (stats) {
    stats->distance_evals += st.distance_evals;
    stats->allowed = st.allowed;
    stats->plan = 1;
  }
}

}  // namespace warpsearch
