// SPDX-FileCopyrightText: 2026 warpsearch contributors
// SPDX-License-Identifier: Apache-2.0
#pragma once
// Private state of IvfPqIndex: coarse centroids, PQ codebook, inverted lists and the
// refine store. The public operations are in ivf_pq_index.cpp, search in
// ivf_pq_search.cpp, files and the memory model in ivf_pq_io.cpp.
#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstring>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <vector>

#include "ivf_pq/id_map.hpp"
#include "ivf_pq/probe_gaps.hpp"
#include "quantization/nearest.hpp"
#include "quantization/rotation.hpp"
#include "storage/store.hpp"
#include "warpsearch/ivf_pq.hpp"
#include "warpsearch/quantization.hpp"

namespace warpsearch::detail {

inline constexpr long kFix16Max = 16383;  // largest 16-bit table entry (sums fit int16)

// In RAM or mapped from an index file (storage/store.hpp): a mapped list views its part
// of the file's 'ids', 'codes' and 'refine' sections until a write copies it into RAM.
struct InvList {
  Store<idx_t> ids;
  Store<std::uint8_t> codes;   // 4-bit: packed fast-scan blocks; 8-bit: size x m
  Store<std::uint8_t> refine;  // size x refine_bytes
  std::size_t size() const { return ids.size(); }
  bool mapped() const { return ids.mapped() || codes.mapped() || refine.mapped(); }
};

// Location of a vector in the map: list in the high 32 bits, position in the low 32.
inline std::uint64_t pack_loc(std::size_t list, std::size_t pos) {
  return (std::uint64_t(list) << 32) | std::uint64_t(pos);
}
inline std::size_t loc_list(std::uint64_t loc) { return std::size_t(loc >> 32); }
inline std::size_t loc_pos(std::uint64_t loc) { return std::size_t(loc & 0xffffffffu); }

// Growth of per-list buffers: exact for one big add, geometric (1/8) for many small ones,
// so that capacity stays within ~12% of the size.
template <typename T>
void grow_to(std::vector<T>& v, std::size_t need) {
  if (need <= v.capacity()) return;
  v.reserve(std::max(need, v.capacity() + v.capacity() / 8));
}
template <typename T>
void grow_to(Store<T>& v, std::size_t need) {
  grow_to(v.vec(), need);
}

struct IvfPqState {
  IvfPqParams p;
  Metric metric = Metric::L2;
  std::size_t d = 0, m = 0, ksub = 0, dsub = 0;
  std::size_t m_pad = 0;         // 4-bit: sub-quantizers of a packed block
  std::size_t refine_bytes = 0;  // bytes of one refine record
  IvfSearchParams defaults;

  bool trained = false;
  std::uint64_t generation = 0;  // bumped by every train()
  std::vector<float> centroids;        // nlist x d: residual bases (cell means)
  std::vector<float> probe_centroids;  // IP/cosine: unit centroids that define the cells
  CentroidPanels coarse;
  ProbeGaps gaps;  // adaptive probing (empty: fixed; files before it have none)
  ProductQuantizer pq;
  // OPQ: the codebooks see R r for a residual r; rot_centroids = R c (empty without).
  Rotation rot;
  std::vector<float> rot_centroids;
  std::vector<float> cbt;  // codebook transposed for the LUT kernels: [(j*dsub+t)*ksub + i]
  std::vector<float> sq_min, sq_scale;  // refine sq8: x ~ min + scale * code
  // 4-bit L2: the LUT of a query in cell l is P_l + Q (+ its coarse distance), with
  // P_l[j][i] = |C_ji|^2 + 2 c_l,j . C_ji and Q[j][i] = -2 q_j . C_ji shared by all
  // probes. ptab holds P_l - pmin (row minima, summed in psum_min) and prange the row
  // ranges, which bound the range of P_l + Q: the uint8 tables need no per-probe
  // reductions.
  std::vector<float> ptab, pmin, prange, psum_min;
  // ptab in 16-bit fixed point (steps of punit, the largest row range over 16383): the
  // per-(query, cell) tables are then combined 16 entries per instruction.
  std::vector<std::int16_t> ptab16;
  float punit = 1.f;
  // Row weights of the uint8 tables (see kFsShiftRows), from the spread of each
  // sub-quantizer's codewords: with OPQ the leading sub-spaces are much wider than the
  // last ones, and one unit for every row would leave the narrow rows a few levels.
  // Empty when every row shares one unit. fs_cap: the largest table entry.
  std::vector<std::uint8_t> rshift, gdelta;
  float fs_cap = 0.f;
  const std::uint8_t* rshift_ptr() const { return rshift.empty() ? nullptr : rshift.data(); }
  const std::uint8_t* gdelta_ptr() const { return gdelta.empty() ? nullptr : gdelta.data(); }
  std::vector<InvList> lists;
  // Per cell: the largest distance from the cell's residual base (centroids) of a vector
  // stored in it, as the final distances see the vector (its refine record, else its PQ
  // reconstruction). Grown by append, kept by erase (still a bound), recomputed on load.
  // Filtered search bounds a cell's distances to a query with it (see searcher_widen.cpp).
  std::vector<float> radius;
  // id -> location, built on first need (an id lookup: explicit ids in add, remove,
  // contains, reconstruct, id-list filters). An index filled with default ids and only
  // searched never pays its 16+ bytes per vector.
  mutable IdMap map;
  mutable std::atomic<bool> map_ready{false};
  mutable std::mutex map_mu;
  std::size_t n = 0;
  mutable std::shared_mutex mu;

  IvfPqState(int dim, Metric mt, const IvfPqParams& params);

  bool ip() const { return metric != Metric::L2; }
  bool fast_scan() const { return p.nbits == 4; }
  bool cell_tables() const { return fast_scan() && !ip(); }
  // Training considers the OPQ rotation: forced, or auto up to kAutoOpqMaxDim (the
  // O(d^3) eigen-decomposition and a second PQ training add about 1 s at d = 384, 3 s at
  // d = 768 and 5 s at d = 1024 on one core).
  static constexpr std::size_t kAutoOpqMaxDim = 1024;
  bool tries_opq() const { return d > 1 && (p.opq == 1 || (p.opq == -1 && d <= kAutoOpqMaxDim)); }
  std::size_t code_bytes_per_vector() const { return fast_scan() ? 0 : m; }

  // Derived tables once the codebooks are known (training and loading).
  void finish_training();
  void row_weights();
  void encode_refine(const float* x, std::uint8_t* out) const;
  void decode_refine(const std::uint8_t* rec, float* out) const;
  // Unpacked code (m bytes) of a stored vector.
  void get_code(std::size_t list, std::size_t pos, std::uint8_t* code) const;
  // The vectors the codebooks see: R x with a rotation, else x itself (rows of d).
  const float* pq_space(const float* x, std::size_t n, std::vector<float>& buf) const;
  // Base vectors of the cells in the codebooks' space.
  const float* pq_centroids() const { return rot.empty() ? centroids.data() : rot_centroids.data(); }
  void reconstruct(std::size_t list, std::size_t pos, float* out) const;
  // Appends one vector (code: m bytes, one per sub-code) to a list; returns its position.
  std::size_t append(std::size_t list, idx_t id, const std::uint8_t* code, const std::uint8_t* rec);
  // Distance of stored vector pos of a list from the list's residual base (see radius).
  float stored_radius(std::size_t list, std::size_t pos) const;
  // radius from the stored vectors (after a load).
  void compute_radii();
  // Removes position pos of a list, moving the list's last vector into it.
  void erase(std::size_t list, std::size_t pos);
  // Builds the id map if it is not built yet. Call with the index lock held (shared is
  // enough: writers hold it exclusively). A duplicate id throws CorruptFileError.
  void ensure_map() const;
  // Mapped lists (load_index with mmap): verified on first use (ensure_all), copied into
  // RAM before the first write (own_all).
  mutable std::atomic<bool> lists_ok{true};
  mutable std::mutex lists_mu;
  void ensure_all() const;
  void own_all();
  std::size_t mapped_bytes() const;
};

// Mean of the points of each cell (cells by nearest centroid of cp); empty cells keep
// the value already in means.
void cell_means(const float* x, std::size_t n, std::size_t d, const CentroidPanels& cp, bool ip,
                float* means);

}  // namespace warpsearch::detail
