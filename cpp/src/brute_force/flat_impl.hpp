// SPDX-FileCopyrightText: 2026 warpsearch contributors
// SPDX-License-Identifier: Apache-2.0
#pragma once
// Private state of FlatIndex. fp32 vectors live in panels of kPanel (dimension-major
// inside a panel) for the micro-kernel; fp16/sq8/sq4 keep one code record per row
// (quantization/vector_codec.hpp), decoded panel by panel at search time. Binary codes
// are kept in the 4-bit fast-scan layout (simd/fastscan.hpp): each group of 4
// dimensions is one 4-bit sub-code, so a query scores them from 16-entry tables held
// in SIMD registers; their scales are a separate array. An optional second record per
// row (the refine copy) re-ranks the candidates.
#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>
#include <mutex>
#include <shared_mutex>
#include <unordered_map>
#include <vector>

#include "quantization/vector_codec.hpp"
#include "simd/distance.hpp"
#include "simd/fastscan.hpp"
#include "storage/store.hpp"
#include "warpsearch/errors.hpp"
#include "warpsearch/quantization.hpp"
#include "warpsearch/types.hpp"

namespace warpsearch::detail {

inline Storage refine_storage(Refine r) {
  return r == Refine::SQ8 ? Storage::SQ8 : r == Refine::FP16 ? Storage::FP16 : Storage::FP32;
}

struct FlatStorage {
  std::size_t d = 0;
  std::size_t n = 0;
  std::size_t cap = 0;        // rows allocated (a multiple of kPanel)
  Storage storage = Storage::FP32;
  Refine refine = Refine::None;
  VectorCodec codec;          // storage != FP32
  VectorCodec rcodec;         // refine != None
  // In RAM or mapped from an index file (storage/store.hpp). A mapped index holds the
  // rows its file holds (cap = 0) until a write copies it into RAM (own_all).
  Store<float> panels;  // FP32: cap * d
  Store<std::uint8_t> codes, rcodes;  // cap * codec.bytes() (not binary), cap * rcodec.bytes()
  std::size_t bm = 0, bm_pad = 0;   // binary: 4-dimension groups; padded to the fast-scan group
  Store<std::uint8_t> packed;  // binary: cap / 32 blocks of bm_pad * 16 bytes
  Store<float> bscale;         // binary: the scale of each row's code
  // Binary: bounds over every row ever written (still bounds after removals), used to
  // turn a distance threshold into a fast-scan threshold.
  float bs_min = INFINITY, bs_max = 0.f, norm_min = INFINITY;
  // Squared norms for L2: of the stored (decoded) vector; of the exact vector for binary
  // codes, whose distance is an estimate anyway.
  Store<float> norms;  // padded to whole panels: the search reads 16 at a time
  Store<idx_t> ids;
  mutable std::shared_mutex mu;

  // id -> row, built on first need (an id lookup): a mapped index that is only
  // searched never reads all its ids. Call with mu held (shared is enough).
  const std::unordered_map<idx_t, std::size_t>& rows() const {
    ensure_rows();
    return rows_;
  }
  std::unordered_map<idx_t, std::size_t>& rows() {
    ensure_rows();
    return rows_;
  }
  void ensure_rows() const {
    if (rows_ready_.load(std::memory_order_acquire)) return;
    std::lock_guard lk(rows_mu_);
    if (rows_ready_.load(std::memory_order_relaxed)) return;
    ids.ensure();
    std::unordered_map<idx_t, std::size_t> m;
    m.reserve(n);
    for (std::size_t i = 0; i < n; ++i)
      if (!m.emplace(ids[i], i).second)
        throw CorruptFileError(concat("corrupt index: duplicate id ", ids[i]));
    rows_.swap(m);
    rows_ready_.store(true, std::memory_order_release);
  }
  std::size_t rows_bytes() const {
    return rows_ready_.load() ? rows_.size() * (sizeof(idx_t) + sizeof(std::size_t) + 16) : 0;
  }
  // Rows in RAM with room for cap rows (before any write of a mapped index).
  void own_all() {
    if (!mapped()) return;
    for (auto* st : {&panels, &bscale, &norms}) st->own();
    for (auto* st : {&codes, &rcodes, &packed}) st->own();
    ids.own();
    cap = 0;
    reserve_rows(n);
  }
  bool mapped() const {
    return panels.mapped() || codes.mapped() || rcodes.mapped() || packed.mapped() ||
           bscale.mapped() || norms.mapped() || ids.mapped();
  }
  std::size_t mapped_bytes() const {
    return panels.mapped_bytes() + codes.mapped_bytes() + rcodes.mapped_bytes() +
           packed.mapped_bytes() + bscale.mapped_bytes() + norms.mapped_bytes() + ids.mapped_bytes();
  }
  // Verifies the file sections a search reads (once each; no-op in RAM).
  void ensure_all() const {
    panels.ensure(); codes.ensure(); rcodes.ensure(); packed.ensure();
    bscale.ensure(); norms.ensure(); ids.ensure();
  }

  mutable std::unordered_map<idx_t, std::size_t> rows_;
  mutable std::atomic<bool> rows_ready_{true};
  mutable std::mutex rows_mu_;

  FlatStorage(std::size_t dim, Storage st, Refine rf)
      : d(dim), storage(st), refine(rf), codec(st, dim), rcodec(refine_storage(rf), dim) {
    bm = (d + 3) / 4;
    bm_pad = fastscan_m_pad(bm);
  }

  bool fp32() const { return storage == Storage::FP32; }
  bool binary() const { return storage == Storage::Binary; }
  std::size_t block_bytes() const { return bm_pad * 16; }
  // Binary: a row's code record (VectorCodec layout: bits, then the scale) from and to
  // the packed layout. Bit i of the record is bit i % 4 of sub-code i / 4.
  void put_record(std::size_t row, const std::uint8_t* rec) {
    std::uint8_t* blk = &packed[(row / kFsBlock) * block_bytes()];
    const std::size_t v = row % kFsBlock, byte = v & 15, shift = v < 16 ? 0 : 4;
    for (std::size_t g = 0; g < bm; ++g) {
      const std::uint8_t nib = (rec[g >> 1] >> ((g & 1) * 4)) & 15;
      std::uint8_t& b = blk[g * 16 + byte];
      b = std::uint8_t((b & ~(15u << shift)) | (unsigned(nib) << shift));
    }
    bscale[row] = VectorCodec::binary_scale(rec, codec.words());
    bs_min = std::min(bs_min, bscale[row]);
    bs_max = std::max(bs_max, bscale[row]);
  }
  void get_record(std::size_t row, std::uint8_t* rec) const {
    std::memset(rec, 0, codec.bytes());
    for (std::size_t g = 0; g < bm; ++g)
      rec[g >> 1] |= std::uint8_t(fastscan_code(packed.data(), bm, row, g) << ((g & 1) * 4));
    std::memcpy(rec + 8 * codec.words(), &bscale[row], sizeof(float));
  }
  bool has_refine() const { return refine != Refine::None; }
  std::size_t cb() const { return fp32() ? 0 : codec.bytes(); }
  std::size_t rb() const { return has_refine() ? rcodec.bytes() : 0; }

  float* slot(std::size_t row, std::size_t p) {
    return &panels[(row / kPanel) * kPanel * d + p * kPanel + row % kPanel];
  }
  const float* slot(std::size_t row, std::size_t p) const {
    return &panels[(row / kPanel) * kPanel * d + p * kPanel + row % kPanel];
  }
  const std::uint8_t* code(std::size_t row) const { return &codes[row * cb()]; }
  const std::uint8_t* rcode(std::size_t row) const { return &rcodes[row * rb()]; }

  // Writes row from v (normalized for cosine); scratch holds d floats.
  void put_row(std::size_t row, const float* v, float* scratch) {
    double s = 0;
    if (fp32()) {
      for (std::size_t p = 0; p < d; ++p) *slot(row, p) = v[p];
      for (std::size_t p = 0; p < d; ++p) s += double(v[p]) * v[p];
    } else if (binary()) {  // the exact norm: binary distances are estimates anyway
      std::vector<std::uint8_t> rec(cb());
      codec.encode(v, rec.data());
      put_record(row, rec.data());
      for (std::size_t p = 0; p < d; ++p) s += double(v[p]) * v[p];
      norm_min = std::min(norm_min, float(s));
    } else {
      codec.encode(v, &codes[row * cb()]);
      codec.decode(&codes[row * cb()], scratch);
      for (std::size_t p = 0; p < d; ++p) s += double(scratch[p]) * scratch[p];
    }
    norms[row] = float(s);
    if (has_refine()) rcodec.encode(v, &rcodes[row * rb()]);
  }
  // The most accurate copy of a row: fp32, else the refine copy, else the decoded code.
  void get_row(std::size_t row, float* out) const {
    if (fp32()) {
      for (std::size_t p = 0; p < d; ++p) out[p] = *slot(row, p);
    } else if (has_refine()) {
      rcodec.decode(rcode(row), out);
    } else if (binary()) {
      std::vector<std::uint8_t> rec(cb());
      get_record(row, rec.data());
      codec.decode(rec.data(), out);
    } else {
      codec.decode(code(row), out);
    }
  }
  void move_row(std::size_t from, std::size_t to) {
    if (fp32()) {
      for (std::size_t p = 0; p < d; ++p) *slot(to, p) = *slot(from, p);
    } else if (binary()) {
      std::vector<std::uint8_t> rec(cb());
      get_record(from, rec.data());
      put_record(to, rec.data());
    } else {
      std::memcpy(&codes[to * cb()], code(from), cb());
    }
    if (has_refine()) std::memcpy(&rcodes[to * rb()], rcode(from), rb());
    norms[to] = norms[from];
  }
  void clear_row(std::size_t row) {
    if (fp32()) {
      for (std::size_t p = 0; p < d; ++p) *slot(row, p) = 0.f;
    } else if (binary()) {
      const std::vector<std::uint8_t> zero(cb(), 0);
      put_record(row, zero.data());
    } else {
      std::memset(&codes[row * cb()], 0, cb());
    }
    if (has_refine()) std::memset(&rcodes[row * rb()], 0, rb());
    norms[row] = 0.f;
  }
  void reserve_rows(std::size_t rows_needed) {
    if (rows_needed <= cap) return;
    std::size_t want = (rows_needed + kFsBlock - 1) / kFsBlock * kFsBlock;  // kPanel divides it
    want = std::max(want, (cap * 3 / 2) / kFsBlock * kFsBlock);
    if (fp32()) panels.resize(want * d, 0.f);
    if (binary()) {
      packed.resize(want / kFsBlock * block_bytes(), 0);
      bscale.resize(want, 0.f);
    } else {
      codes.resize(want * cb(), 0);
    }
    rcodes.resize(want * rb(), 0);
    norms.resize(want, 0.f);
    cap = want;
  }
  std::size_t bytes_per_vector() const {
    if (binary()) return bm_pad / 2 + sizeof(float) + rb();
    return fp32() ? 4 * d : cb() + rb();
  }
};

}  // namespace warpsearch::detail
