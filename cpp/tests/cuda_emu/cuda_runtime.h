// SPDX-FileCopyrightText: 2026 warpsearch contributors
// SPDX-License-Identifier: Apache-2.0
#pragma once
// A CPU emulator of the small part of CUDA that warpsearch's kernels use, for
// testing them on machines without a GPU (cmake -DWARPSEARCH_CUDA_EMULATOR=ON).
// Each thread block runs as one fiber per CUDA thread, blocks one after another;
// fibers switch only at barriers, shuffles and votes, in a shuffled order, so a
// missing __syncthreads or __syncwarp shows up as a wrong result. Shared memory
// is static storage (one block at a time). Never part of a release build.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <tuple>
#include <type_traits>
#include <utility>

#define WS_CUDA_EMULATOR 1
#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __launch_bounds__(...)
#define __shared__ static
#define __align__(n) __attribute__((aligned(n)))

struct dim3 {
  unsigned x = 1, y = 1, z = 1;
  constexpr dim3(unsigned x_ = 1, unsigned y_ = 1, unsigned z_ = 1) : x(x_), y(y_), z(z_) {}
};

struct alignas(16) float4 {
  float x, y, z, w;
};
struct alignas(8) float2 {
  float x, y;
};
inline float4 make_float4(float x, float y, float z, float w) { return float4{x, y, z, w}; }

using cudaError_t = int;
enum : int {
  cudaSuccess = 0,
  cudaErrorInvalidValue = 1,
  cudaErrorMemoryAllocation = 2,
  cudaErrorInvalidConfiguration = 9,
  cudaErrorNoDevice = 100,
  cudaErrorInvalidDevice = 101,
  cudaErrorLaunchFailure = 719,
};
struct CUstream_st;
using cudaStream_t = CUstream_st*;
enum cudaMemcpyKind {
  cudaMemcpyHostToHost = 0,
  cudaMemcpyHostToDevice = 1,
  cudaMemcpyDeviceToHost = 2,
  cudaMemcpyDeviceToDevice = 3,
  cudaMemcpyDefault = 4
};
enum cudaFuncAttribute { cudaFuncAttributeMaxDynamicSharedMemorySize = 8 };
enum cudaDeviceAttr { cudaDevAttrMultiProcessorCount = 16, cudaDevAttrMaxSharedMemoryPerBlockOptin = 97 };
enum cudaMemoryType {
  cudaMemoryTypeUnregistered = 0,
  cudaMemoryTypeHost = 1,
  cudaMemoryTypeDevice = 2,
  cudaMemoryTypeManaged = 3
};
constexpr unsigned cudaStreamDefault = 0, cudaStreamNonBlocking = 1;

struct cudaDeviceProp {
  char name[256];
  std::size_t totalGlobalMem;
  std::size_t sharedMemPerBlock;
  std::size_t sharedMemPerBlockOptin;
  std::size_t sharedMemPerMultiprocessor;
  int multiProcessorCount;
  int maxThreadsPerBlock;
  int maxGridSize[3];
  int major, minor;
  int l2CacheSize;
};
struct cudaPointerAttributes {
  cudaMemoryType type;
  int device;
  void* devicePointer;
  void* hostPointer;
};

cudaError_t cudaGetDeviceCount(int* n);
cudaError_t cudaSetDevice(int d);
cudaError_t cudaGetDevice(int* d);
cudaError_t cudaGetDeviceProperties(cudaDeviceProp* p, int d);
cudaError_t cudaDeviceGetAttribute(int* v, cudaDeviceAttr a, int d);
cudaError_t cudaMalloc(void** p, std::size_t bytes);
template <typename T>
cudaError_t cudaMalloc(T** p, std::size_t bytes) {
  return cudaMalloc(reinterpret_cast<void**>(p), bytes);
}
cudaError_t cudaFree(void* p);
cudaError_t cudaMemcpy(void* dst, const void* src, std::size_t bytes, cudaMemcpyKind k);
cudaError_t cudaMemcpyAsync(void* dst, const void* src, std::size_t bytes, cudaMemcpyKind k,
                            cudaStream_t s = nullptr);
cudaError_t cudaMemset(void* p, int v, std::size_t bytes);
cudaError_t cudaMemsetAsync(void* p, int v, std::size_t bytes, cudaStream_t s = nullptr);
cudaError_t cudaMemGetInfo(std::size_t* free_b, std::size_t* total_b);
cudaError_t cudaStreamCreate(cudaStream_t* s);
cudaError_t cudaStreamCreateWithFlags(cudaStream_t* s, unsigned flags);
cudaError_t cudaStreamDestroy(cudaStream_t s);
cudaError_t cudaStreamSynchronize(cudaStream_t s);
cudaError_t cudaDeviceSynchronize();
cudaError_t cudaGetLastError();
cudaError_t cudaPeekAtLastError();
const char* cudaGetErrorName(cudaError_t e);
const char* cudaGetErrorString(cudaError_t e);
cudaError_t cudaPointerGetAttributes(cudaPointerAttributes* a, const void* p);
cudaError_t ws_emu_func_set_attribute(const void* fn, cudaFuncAttribute a, int v);
template <typename F>
cudaError_t cudaFuncSetAttribute(F* fn, cudaFuncAttribute a, int v) {
  return ws_emu_func_set_attribute(reinterpret_cast<const void*>(fn), a, v);
}

namespace ws_emu {
struct ThreadCtx {
  dim3 tid, bid, bdim, gdim;
  int lane = 0, warp = 0, xphase = 0;
};
ThreadCtx& ctx();
void block_barrier();
void warp_barrier();
std::uint64_t warp_exchange(std::uint64_t v, int src_lane);
unsigned warp_ballot(bool pred);
unsigned char* dyn_smem();
// Runs body() once per CUDA thread of every block; returns a cudaError_t.
cudaError_t run_grid(const void* fn, dim3 grid, dim3 block, std::size_t smem, void (*body)(void*),
                     void* arg);

template <typename T>
T exch(T v, int src) {
  static_assert(sizeof(T) <= 8 && std::is_trivially_copyable_v<T>);
  std::uint64_t u = 0;
  std::memcpy(&u, &v, sizeof(T));
  u = warp_exchange(u, src);
  T r;
  std::memcpy(&r, &u, sizeof(T));
  return r;
}
inline int seg_base(int width) { return ctx().lane & ~(width - 1); }
}  // namespace ws_emu

#define threadIdx (::ws_emu::ctx().tid)
#define blockIdx (::ws_emu::ctx().bid)
#define blockDim (::ws_emu::ctx().bdim)
#define gridDim (::ws_emu::ctx().gdim)
constexpr int warpSize = 32;

inline void __syncthreads() { ws_emu::block_barrier(); }
inline void __syncwarp(unsigned = 0xffffffffu) { ws_emu::warp_barrier(); }
inline void __threadfence() {}
inline void __threadfence_block() {}

template <typename T>
T __shfl_sync(unsigned, T v, int src, int width = 32) {
  return ws_emu::exch(v, ws_emu::seg_base(width) + (src & (width - 1)));
}
template <typename T>
T __shfl_xor_sync(unsigned, T v, int m, int width = 32) {
  const int lane = ws_emu::ctx().lane, base = ws_emu::seg_base(width);
  int s = lane ^ m;
  if (s < base || s >= base + width) s = lane;
  return ws_emu::exch(v, s);
}
template <typename T>
T __shfl_down_sync(unsigned, T v, unsigned d, int width = 32) {
  const int lane = ws_emu::ctx().lane, base = ws_emu::seg_base(width);
  int s = lane + int(d);
  if (s >= base + width) s = lane;
  return ws_emu::exch(v, s);
}
template <typename T>
T __shfl_up_sync(unsigned, T v, unsigned d, int width = 32) {
  const int lane = ws_emu::ctx().lane, base = ws_emu::seg_base(width);
  int s = lane - int(d);
  if (s < base) s = lane;
  return ws_emu::exch(v, s);
}
inline unsigned __ballot_sync(unsigned, int pred) { return ws_emu::warp_ballot(pred != 0); }
inline int __any_sync(unsigned m, int pred) { return __ballot_sync(m, pred) != 0; }
inline int __all_sync(unsigned m, int pred) { return __ballot_sync(m, pred) == 0xffffffffu; }

inline int __popc(unsigned x) { return __builtin_popcount(x); }
inline int __popcll(unsigned long long x) { return __builtin_popcountll(x); }
inline int __ffs(int x) { return __builtin_ffs(x); }
inline int __ffsll(long long x) { return __builtin_ffsll(x); }
inline int __clz(int x) { return x == 0 ? 32 : __builtin_clz(unsigned(x)); }
inline unsigned __float_as_uint(float f) { unsigned u; std::memcpy(&u, &f, 4); return u; }
inline float __uint_as_float(unsigned u) { float f; std::memcpy(&f, &u, 4); return f; }
inline int __float_as_int(float f) { int u; std::memcpy(&u, &f, 4); return u; }
inline float __int_as_float(int u) { float f; std::memcpy(&f, &u, 4); return f; }
template <typename T>
T __ldg(const T* p) { return *p; }
inline float rsqrtf(float x) { return 1.0f / std::sqrt(x); }
inline float __fdividef(float a, float b) { return a / b; }
inline float __fmaf_rn(float a, float b, float c) { return std::fma(a, b, c); }

// Fibers never run concurrently, so plain read-modify-write is atomic here.
inline int atomicAdd(int* p, int v) { int o = *p; *p = o + v; return o; }
inline unsigned atomicAdd(unsigned* p, unsigned v) { unsigned o = *p; *p = o + v; return o; }
inline unsigned long long atomicAdd(unsigned long long* p, unsigned long long v) {
  unsigned long long o = *p; *p = o + v; return o;
}
inline float atomicAdd(float* p, float v) { float o = *p; *p = o + v; return o; }
inline unsigned atomicCAS(unsigned* p, unsigned c, unsigned v) { unsigned o = *p; if (o == c) *p = v; return o; }
inline int atomicCAS(int* p, int c, int v) { int o = *p; if (o == c) *p = v; return o; }
inline unsigned atomicMin(unsigned* p, unsigned v) { unsigned o = *p; if (v < o) *p = v; return o; }
inline int atomicMin(int* p, int v) { int o = *p; if (v < o) *p = v; return o; }
inline unsigned atomicMax(unsigned* p, unsigned v) { unsigned o = *p; if (v > o) *p = v; return o; }
inline int atomicMax(int* p, int v) { int o = *p; if (v > o) *p = v; return o; }
inline unsigned long long atomicMax(unsigned long long* p, unsigned long long v) {
  unsigned long long o = *p; if (v > o) *p = v; return o;
}
inline unsigned atomicExch(unsigned* p, unsigned v) { unsigned o = *p; *p = v; return o; }
inline unsigned atomicOr(unsigned* p, unsigned v) { unsigned o = *p; *p = o | v; return o; }

namespace ws_emu {
template <typename... P>
struct LaunchArgs {
  void (*fn)(P...);
  std::tuple<std::decay_t<P>...> args;
  static void call(void* self) {
    auto* a = static_cast<LaunchArgs*>(self);
    std::apply(a->fn, a->args);  // each thread gets its own copies of the parameters
  }
};
template <typename... P, typename... A>
cudaError_t launch(void (*fn)(P...), dim3 grid, dim3 block, std::size_t smem, A&&... a) {
  LaunchArgs<P...> la{fn, std::tuple<std::decay_t<P>...>(std::forward<A>(a)...)};
  return run_grid(reinterpret_cast<const void*>(fn), grid, block, smem, &LaunchArgs<P...>::call, &la);
}
}  // namespace ws_emu
