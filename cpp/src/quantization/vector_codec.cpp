// SPDX-FileCopyrightText: 2026 warpsearch contributors
// SPDX-License-Identifier: Apache-2.0
#include "quantization/vector_codec.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "simd/distance.hpp"
#include "simd/fastscan.hpp"
#include "warpsearch/errors.hpp"

namespace warpsearch::detail {

namespace {
constexpr float kHalfMax = 65504.f;

// Widens [lo, hi] per dimension to the n rows and clears integral when a value is not
// an integer.
void extend_range(const float* x, std::size_t n, std::size_t d, std::vector<float>& lo,
                  std::vector<float>& hi, bool& integral) {
  for (std::size_t i = 0; i < n; ++i)
    for (std::size_t j = 0; j < d; ++j) {
      const float v = x[i * d + j];
      lo[j] = std::min(lo[j], v);
      hi[j] = std::max(hi[j], v);
      integral = integral && v == std::nearbyint(v);
    }
}

}  // namespace

void expect_half_range(const float* x, std::size_t n, std::size_t d, const char* what) {
  for (std::size_t i = 0; i < n * d; ++i)
    WS_EXPECTS(std::abs(x[i]) <= kHalfMax, "vector ", i / d,
               " has a value outside the float16 range (|x| <= 65504) of ", what);
}

VectorCodec::VectorCodec(Storage kind, std::size_t d) : kind_(kind), d_(d) {
  switch (kind) {
    case Storage::FP32: bytes_ = 4 * d; break;
    case Storage::FP16: bytes_ = 2 * d; break;
    case Storage::SQ8: bytes_ = d; break;
    case Storage::SQ4: bytes_ = (d + 1) / 2; break;
    case Storage::Binary: bytes_ = 8 * words() + 8; break;  // bits, then the float scale
    default: WS_EXPECTS(false, "unknown storage ", std::uint32_t(kind));
  }
}

bool VectorCodec::needs_training() const {
  return kind_ == Storage::SQ8 || kind_ == Storage::SQ4 || kind_ == Storage::Binary;
}

void VectorCodec::fit_range(const std::vector<float>& lo, const std::vector<float>& hi, bool integral,
                            bool headroom_lo, bool headroom_hi, const std::vector<float>* old_lo,
                            const std::vector<float>* old_hi) {
  const float top = float(levels());
  lo_.assign(d_, 0.f);
  step_.assign(d_, 0.f);
  for (std::size_t j = 0; j < d_; ++j) {
    float a = lo[j], b = hi[j];
    if (integral && b - a <= top) {  // unit grid: lossless codes
      lo_[j] = a;
      step_[j] = 1.f;
      continue;
    }
    const float span = b - a;
    if (headroom_lo && old_lo && a < (*old_lo)[j]) a -= span / 8;
    if (headroom_hi && old_hi && b > (*old_hi)[j]) b += span / 8;
    lo_[j] = a;
    step_[j] = (b - a) / top;
  }
  grid_ = integral;
  trained_ = true;
}

void VectorCodec::train(const float* x, std::size_t n) {
  if (!needs_training() || n == 0) return;
  if (kind_ == Storage::Binary) {
    std::vector<double> c(d_, 0.0);
    for (std::size_t i = 0; i < n; ++i)
      for (std::size_t j = 0; j < d_; ++j) c[j] += x[i * d_ + j];
    lo_.resize(d_);
    for (std::size_t j = 0; j < d_; ++j) lo_[j] = float(c[j] / double(n));
    trained_ = true;
    return;
  }
  std::vector<float> lo(d_, INFINITY), hi(d_, -INFINITY);
  bool integral = true;
  extend_range(x, n, d_, lo, hi, integral);
  fit_range(lo, hi, integral, false, false, nullptr, nullptr);
}

bool VectorCodec::covers(const float* x, std::size_t n) const {
  if (kind_ != Storage::SQ8 && kind_ != Storage::SQ4) return true;
  if (!trained_) return false;
  const float top = float(levels());
  for (std::size_t i = 0; i < n; ++i)
    for (std::size_t j = 0; j < d_; ++j) {
      const float v = x[i * d_ + j];
      if (grid_ && step_[j] == 1.f && v != std::nearbyint(v)) return false;
      // Values within half a step of the range round to its end codes anyway.
      const float half = step_[j] * 0.5f;
      if (v < lo_[j] - half || v > lo_[j] + step_[j] * top + half) return false;
    }
  return true;
}

VectorCodec VectorCodec::widened(const float* x, std::size_t n) const {
  VectorCodec out = *this;
  if ((kind_ != Storage::SQ8 && kind_ != Storage::SQ4) || !trained_) {
    out.train(x, n);
    return out;
  }
  const float top = float(levels());
  std::vector<float> olo(lo_), ohi(d_), lo(lo_), hi(d_);
  bool integral = grid_;
  for (std::size_t j = 0; j < d_; ++j) ohi[j] = hi[j] = lo_[j] + step_[j] * top;
  extend_range(x, n, d_, lo, hi, integral);
  out.fit_range(lo, hi, integral, true, true, &olo, &ohi);
  return out;
}

void VectorCodec::encode(const float* x, std::uint8_t* out) const {
  switch (kind_) {
    case Storage::FP32: std::memcpy(out, x, d_ * sizeof(float)); return;
    case Storage::FP16:
      for (std::size_t j = 0; j < d_; ++j) {
        const std::uint16_t h = float_to_half(x[j]);
        std::memcpy(out + 2 * j, &h, 2);
      }
      return;
    case Storage::SQ8:
    case Storage::SQ4: {
      const float top = float(levels());
      if (kind_ == Storage::SQ4) std::memset(out, 0, bytes_);
      for (std::size_t j = 0; j < d_; ++j) {
        float t = step_[j] > 0 ? (x[j] - lo_[j]) / step_[j] : 0.f;
        t = t < 0.f ? 0.f : (t > top ? top : t);
        const auto q = std::uint8_t(t + 0.5f);
        if (kind_ == Storage::SQ8)
          out[j] = q;
        else
          out[j >> 1] |= std::uint8_t(q << ((j & 1) * 4));
      }
      return;
    }
    case Storage::Binary: {
      std::vector<std::uint64_t> bits(words(), 0);
      double a = 0;
      for (std::size_t j = 0; j < d_; ++j) {
        const float r = x[j] - lo_[j];
        if (r > 0.f) bits[j >> 6] |= std::uint64_t(1) << (j & 63);
        a += std::abs(r);
      }
      std::memcpy(out, bits.data(), 8 * words());
      const float s[2] = {float(a / double(d_)), 0.f};
      std::memcpy(out + 8 * words(), s, sizeof s);
      return;
    }
  }
}

float VectorCodec::binary_scale(const std::uint8_t* c, std::size_t words) {
  float a;
  std::memcpy(&a, c + 8 * words, sizeof a);
  return a;
}

void VectorCodec::decode(const std::uint8_t* c, float* out) const {
  const auto& K = kernels();
  switch (kind_) {
    case Storage::FP32: std::memcpy(out, c, d_ * sizeof(float)); return;
    case Storage::FP16: {
      // The kernel reads uint16 lanes: copy when the record is not 2-byte aligned.
      if (reinterpret_cast<std::uintptr_t>(c) % 2 == 0) {
        K.f16_to_f32(reinterpret_cast<const std::uint16_t*>(c), d_, out);
      } else {
        std::vector<std::uint16_t> h(d_);
        std::memcpy(h.data(), c, 2 * d_);
        K.f16_to_f32(h.data(), d_, out);
      }
      return;
    }
    case Storage::SQ8: K.sq_decode(c, 8, lo_.data(), step_.data(), d_, out); return;
    case Storage::SQ4: K.sq_decode(c, 4, lo_.data(), step_.data(), d_, out); return;
    case Storage::Binary: {
      const float a = binary_scale(c, words());
      for (std::size_t j = 0; j < d_; ++j) {
        const bool b = (c[j >> 3] >> (j & 7)) & 1;  // little-endian words: bit j is byte j/8
        out[j] = lo_[j] + (b ? a : -a);
      }
      return;
    }
  }
}

std::vector<float> VectorCodec::params() const {
  if (!needs_training() || !trained_) return {};
  std::vector<float> p(lo_);
  if (kind_ != Storage::Binary) {
    p.insert(p.end(), step_.begin(), step_.end());
    p.push_back(grid_ ? 1.f : 0.f);
  }
  return p;
}

void VectorCodec::set_params(const std::vector<float>& p) {
  if (!needs_training() || p.empty()) {
    WS_EXPECTS(p.empty() || !needs_training(), "bad codec parameters");
    trained_ = false;
    return;
  }
  const std::size_t want = kind_ == Storage::Binary ? d_ : 2 * d_ + 1;
  WS_EXPECTS(p.size() == want, "codec parameters have ", p.size(), " values, expected ", want);
  for (float v : p) WS_EXPECTS(std::isfinite(v), "codec parameters are not finite");
  lo_.assign(p.begin(), p.begin() + std::ptrdiff_t(d_));
  if (kind_ != Storage::Binary) {
    step_.assign(p.begin() + std::ptrdiff_t(d_), p.begin() + std::ptrdiff_t(2 * d_));
    for (float v : step_) WS_EXPECTS(v >= 0.f, "codec parameters have a negative step");
    grid_ = p[2 * d_] != 0.f;
  }
  trained_ = true;
}

}  // namespace warpsearch::detail
