// SPDX-FileCopyrightText: 2026 warpsearch contributors
// SPDX-License-Identifier: Apache-2.0
#pragma once
// Private state of FlatIndex. fp32 vectors live in panels of kPanel (dimension-major
// inside a panel) for the micro-kernel; every other storage keeps one code record per
// row (quantization/vector_codec.hpp), decoded panel by panel at search time. An
// optional second record per row (the refine copy) re-ranks the candidates.
#include <algorithm>
#include <cstring>
#include <shared_mutex>
#include <unordered_map>
#include <vector>

#include "quantization/vector_codec.hpp"
#include "simd/distance.hpp"
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
  std::vector<float> panels;  // FP32: cap * d
  std::vector<std::uint8_t> codes, rcodes;  // cap * codec.bytes(), cap * rcodec.bytes()
  // Squared norms for L2: of the stored (decoded) vector; of the exact vector for binary
  // codes, whose distance is an estimate anyway.
  std::vector<float> norms;
  std::vector<idx_t> ids;
  std::unordered_map<idx_t, std::size_t> rows;
  mutable std::shared_mutex mu;

  FlatStorage(std::size_t dim, Storage st, Refine rf)
      : d(dim), storage(st), refine(rf), codec(st, dim), rcodec(refine_storage(rf), dim) {}

  bool fp32() const { return storage == Storage::FP32; }
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
    } else {
      codec.encode(v, &codes[row * cb()]);
      const float* w = v;
      if (storage != Storage::Binary) {
        codec.decode(&codes[row * cb()], scratch);
        w = scratch;
      }
      for (std::size_t p = 0; p < d; ++p) s += double(w[p]) * w[p];
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
    } else {
      codec.decode(code(row), out);
    }
  }
  void move_row(std::size_t from, std::size_t to) {
    if (fp32()) {
      for (std::size_t p = 0; p < d; ++p) *slot(to, p) = *slot(from, p);
    } else {
      std::memcpy(&codes[to * cb()], code(from), cb());
    }
    if (has_refine()) std::memcpy(&rcodes[to * rb()], rcode(from), rb());
    norms[to] = norms[from];
  }
  void clear_row(std::size_t row) {
    if (fp32()) {
      for (std::size_t p = 0; p < d; ++p) *slot(row, p) = 0.f;
    } else {
      std::memset(&codes[row * cb()], 0, cb());
    }
    if (has_refine()) std::memset(&rcodes[row * rb()], 0, rb());
    norms[row] = 0.f;
  }
  void reserve_rows(std::size_t rows_needed) {
    if (rows_needed <= cap) return;
    std::size_t want = (rows_needed + kPanel - 1) / kPanel * kPanel;
    want = std::max(want, (cap * 3 / 2) / kPanel * kPanel);
    if (fp32()) panels.resize(want * d, 0.f);
    codes.resize(want * cb(), 0);
    rcodes.resize(want * rb(), 0);
    norms.resize(want, 0.f);
    cap = want;
  }
  std::size_t bytes_per_vector() const { return fp32() ? 4 * d : cb() + rb(); }
};

}  // namespace warpsearch::detail
