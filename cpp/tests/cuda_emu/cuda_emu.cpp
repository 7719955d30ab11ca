// SPDX-FileCopyrightText: 2026 warpsearch contributors
// SPDX-License-Identifier: Apache-2.0
// Fiber scheduler and runtime API of the CPU emulator (see cuda_runtime.h).
#include <ucontext.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <mutex>
#include <random>
#include <vector>

#include "cuda_runtime.h"

namespace ws_emu {
namespace {

constexpr std::size_t kStack = 256 * 1024;
constexpr std::size_t kStaticSmemGuess = 16 * 1024;  // unknown here: assume some static use
constexpr std::size_t kOptinMax = 227 * 1024;

struct Fiber {
  ucontext_t uc;
  ThreadCtx c;
  bool done = false;
  int waiting = 0;  // 1: at a block barrier, 2: at a warp barrier (for deadlock reports)
  long nblock = 0, nwarp = 0;  // barriers passed
  std::vector<char> stack;
};

struct WarpState {
  int live = 0, count = 0;
  std::uint64_t gen = 0;
  std::uint64_t slots[2][32] = {};
};

struct BlockState {
  std::vector<Fiber> fibers;
  ucontext_t sched;
  int live = 0, count = 0;
  std::uint64_t gen = 0;
  std::vector<WarpState> warps;
  std::vector<unsigned char> smem;
  bool progress = false;
  void (*body)(void*) = nullptr;
  void* arg = nullptr;
};

BlockState g_block;
Fiber* g_cur = nullptr;
std::mutex g_launch_mu;
std::map<const void*, int> g_func_smem;
std::map<void*, std::size_t> g_allocs;
std::mutex g_alloc_mu;
cudaError_t g_last = cudaSuccess;
std::mt19937 g_rng(12345);

[[noreturn]] void fatal(const char* what) {
  std::fprintf(stderr, "cuda emulator: %s\n", what);
  std::abort();
}

void yield() { swapcontext(&g_cur->uc, &g_block.sched); }

void trampoline() {
  g_block.body(g_block.arg);
  Fiber* f = g_cur;
  f->done = true;
  g_block.progress = true;
  // An exited thread no longer takes part in barriers.
  WarpState& w = g_block.warps[std::size_t(f->c.warp)];
  if (--w.live > 0 && w.count == w.live) { w.count = 0; ++w.gen; }
  if (--g_block.live > 0 && g_block.count == g_block.live) { g_block.count = 0; ++g_block.gen; }
  swapcontext(&f->uc, &g_block.sched);
}

WarpState& my_warp() { return g_block.warps[std::size_t(g_cur->c.warp)]; }

}  // namespace

ThreadCtx& ctx() {
  if (!g_cur) fatal("device code called outside a kernel");
  return g_cur->c;
}

void block_barrier() {
  const std::uint64_t g = g_block.gen;
  g_block.progress = true;
  if (++g_block.count == g_block.live) {
    g_block.count = 0;
    ++g_block.gen;
    return;
  }
  g_cur->waiting = 1;
  ++g_cur->nblock;
  while (g_block.gen == g) yield();
  g_cur->waiting = 0;
}

void warp_barrier() {
  WarpState& w = my_warp();
  const std::uint64_t g = w.gen;
  g_block.progress = true;
  if (++w.count == w.live) {
    w.count = 0;
    ++w.gen;
    return;
  }
  g_cur->waiting = 2;
  ++g_cur->nwarp;
  while (w.gen == g) yield();
  g_cur->waiting = 0;
}

std::uint64_t warp_exchange(std::uint64_t v, int src) {
  WarpState& w = my_warp();
  const int ph = g_cur->c.xphase;
  g_cur->c.xphase ^= 1;
  w.slots[ph][g_cur->c.lane] = v;
  warp_barrier();
  if (src < 0 || src >= 32) fatal("shuffle source lane out of range");
  return w.slots[ph][src];
}

unsigned warp_ballot(bool pred) {
  WarpState& w = my_warp();
  const int ph = g_cur->c.xphase;
  g_cur->c.xphase ^= 1;
  w.slots[ph][g_cur->c.lane] = pred ? 1u : 0u;
  warp_barrier();
  unsigned r = 0;
  for (int l = 0; l < 32; ++l) r |= unsigned(w.slots[ph][l] & 1u) << l;
  return r;
}

unsigned char* dyn_smem() { return g_block.smem.data(); }

cudaError_t run_grid(const void* fn, dim3 grid, dim3 block, std::size_t smem, void (*body)(void*),
                     void* arg) {
  std::lock_guard<std::mutex> lk(g_launch_mu);
  const unsigned nthreads = block.x * block.y * block.z;
  if (nthreads == 0 || nthreads > 1024 || grid.x == 0 || grid.y == 0 || grid.z == 0 ||
      grid.y > 65535 || grid.z > 65535) {
    g_last = cudaErrorInvalidConfiguration;
    return g_last;
  }
  auto it = g_func_smem.find(fn);
  const std::size_t allowed = it == g_func_smem.end() ? 48 * 1024 : std::size_t(it->second);
  if (smem > allowed || smem + kStaticSmemGuess > kOptinMax + 1024) {
    std::fprintf(stderr, "cuda emulator: %zu bytes of dynamic shared memory, limit %zu\n", smem, allowed);
    g_last = cudaErrorInvalidValue;
    return g_last;
  }
  BlockState& b = g_block;
  b.body = body;
  b.arg = arg;
  b.fibers.resize(nthreads);
  const unsigned nwarps = (nthreads + 31) / 32;
  for (unsigned bz = 0; bz < grid.z; ++bz)
    for (unsigned by = 0; by < grid.y; ++by)
      for (unsigned bx = 0; bx < grid.x; ++bx) {
        b.smem.assign(smem + 16, 0xA5);  // garbage, like real shared memory
        b.warps.assign(nwarps, WarpState{});
        b.live = int(nthreads);
        b.count = 0;
        for (unsigned t = 0; t < nthreads; ++t) {
          Fiber& f = b.fibers[t];
          f.done = false;
          f.waiting = 0;
          f.nblock = f.nwarp = 0;
          f.c = ThreadCtx{};
          f.c.tid = dim3(t % block.x, (t / block.x) % block.y, t / (block.x * block.y));
          f.c.bid = dim3(bx, by, bz);
          f.c.bdim = block;
          f.c.gdim = grid;
          f.c.lane = int(t % 32);
          f.c.warp = int(t / 32);
          b.warps[t / 32].live++;
          if (f.stack.empty()) f.stack.resize(kStack);
          getcontext(&f.uc);
          f.uc.uc_stack.ss_sp = f.stack.data();
          f.uc.uc_stack.ss_size = f.stack.size();
          f.uc.uc_link = &b.sched;
          makecontext(&f.uc, trampoline, 0);
        }
        std::vector<unsigned> order(nthreads);
        for (unsigned t = 0; t < nthreads; ++t) order[t] = t;
        int alive = int(nthreads);
        while (alive > 0) {
          std::shuffle(order.begin(), order.end(), g_rng);
          b.progress = false;
          alive = 0;
          for (unsigned t : order) {
            Fiber& f = b.fibers[t];
            if (f.done) continue;
            g_cur = &f;
            swapcontext(&b.sched, &f.uc);
            g_cur = nullptr;
            alive += !f.done;
          }
          if (alive > 0 && !b.progress) {
            for (unsigned t = 0; t < nthreads; ++t)
              if (!b.fibers[t].done)
                std::fprintf(stderr, "  thread %u (warp %d) waits at a %s barrier (%ld block, %ld warp)\n",
                             t, b.fibers[t].c.warp, b.fibers[t].waiting == 1 ? "block" : "warp",
                             b.fibers[t].nblock, b.fibers[t].nwarp);
            fatal("deadlock: threads wait at different barriers");
          }
        }
      }
  return cudaSuccess;
}

}  // namespace ws_emu

using namespace ws_emu;

namespace {
int g_device = 0;
int device_count() {
  const char* e = std::getenv("WS_EMU_DEVICES");
  return e ? std::atoi(e) : 1;
}
}  // namespace

cudaError_t cudaGetDeviceCount(int* n) {
  *n = device_count();
  return *n > 0 ? cudaSuccess : cudaErrorNoDevice;
}
cudaError_t cudaSetDevice(int d) {
  if (d < 0 || d >= device_count()) return cudaErrorInvalidDevice;
  g_device = d;
  return cudaSuccess;
}
cudaError_t cudaGetDevice(int* d) {
  *d = g_device;
  return cudaSuccess;
}
cudaError_t cudaGetDeviceProperties(cudaDeviceProp* p, int d) {
  if (d < 0 || d >= device_count()) return cudaErrorInvalidDevice;
  std::memset(p, 0, sizeof(*p));
  std::snprintf(p->name, sizeof(p->name), "warpsearch CUDA emulator");
  p->totalGlobalMem = std::size_t(8) << 30;
  p->sharedMemPerBlock = 48 * 1024;
  p->sharedMemPerBlockOptin = 227 * 1024;
  p->sharedMemPerMultiprocessor = 228 * 1024;
  p->multiProcessorCount = 4;
  p->maxThreadsPerBlock = 1024;
  p->maxGridSize[0] = 2147483647;
  p->maxGridSize[1] = p->maxGridSize[2] = 65535;
  p->major = 9;
  p->l2CacheSize = 50 << 20;
  return cudaSuccess;
}
cudaError_t cudaDeviceGetAttribute(int* v, cudaDeviceAttr a, int d) {
  cudaDeviceProp p;
  if (cudaGetDeviceProperties(&p, d) != cudaSuccess) return cudaErrorInvalidDevice;
  *v = a == cudaDevAttrMultiProcessorCount ? p.multiProcessorCount : int(p.sharedMemPerBlockOptin);
  return cudaSuccess;
}
cudaError_t cudaMalloc(void** p, std::size_t bytes) {
  void* m = std::aligned_alloc(256, (std::max<std::size_t>(bytes, 1) + 255) / 256 * 256);
  if (!m) return cudaErrorMemoryAllocation;
  std::memset(m, 0x5A, bytes);  // never zero: unwritten outputs must show
  std::lock_guard<std::mutex> lk(g_alloc_mu);
  g_allocs[m] = bytes;
  *p = m;
  return cudaSuccess;
}
cudaError_t cudaFree(void* p) {
  if (!p) return cudaSuccess;
  std::lock_guard<std::mutex> lk(g_alloc_mu);
  auto it = g_allocs.find(p);
  if (it == g_allocs.end()) fatal("cudaFree of a pointer cudaMalloc did not return");
  g_allocs.erase(it);
  std::free(p);
  return cudaSuccess;
}
cudaError_t cudaMemcpy(void* dst, const void* src, std::size_t bytes, cudaMemcpyKind) {
  if (bytes) std::memmove(dst, src, bytes);
  return cudaSuccess;
}
cudaError_t cudaMemcpyAsync(void* dst, const void* src, std::size_t bytes, cudaMemcpyKind k,
                            cudaStream_t) {
  return cudaMemcpy(dst, src, bytes, k);
}
cudaError_t cudaMemset(void* p, int v, std::size_t bytes) {
  if (bytes) std::memset(p, v, bytes);
  return cudaSuccess;
}
cudaError_t cudaMemsetAsync(void* p, int v, std::size_t bytes, cudaStream_t) {
  return cudaMemset(p, v, bytes);
}
cudaError_t cudaMemGetInfo(std::size_t* free_b, std::size_t* total_b) {
  *free_b = std::size_t(6) << 30;
  *total_b = std::size_t(8) << 30;
  return cudaSuccess;
}
cudaError_t cudaStreamCreate(cudaStream_t* s) {
  *s = reinterpret_cast<cudaStream_t>(new char(0));
  return cudaSuccess;
}
cudaError_t cudaStreamCreateWithFlags(cudaStream_t* s, unsigned) { return cudaStreamCreate(s); }
cudaError_t cudaStreamDestroy(cudaStream_t s) {
  delete reinterpret_cast<char*>(s);
  return cudaSuccess;
}
cudaError_t cudaStreamSynchronize(cudaStream_t) { return cudaSuccess; }
cudaError_t cudaDeviceSynchronize() { return cudaSuccess; }
cudaError_t cudaGetLastError() {
  const cudaError_t e = g_last;
  g_last = cudaSuccess;
  return e;
}
cudaError_t cudaPeekAtLastError() { return g_last; }
const char* cudaGetErrorName(cudaError_t e) {
  switch (e) {
    case cudaSuccess: return "cudaSuccess";
    case cudaErrorInvalidValue: return "cudaErrorInvalidValue";
    case cudaErrorMemoryAllocation: return "cudaErrorMemoryAllocation";
    case cudaErrorInvalidConfiguration: return "cudaErrorInvalidConfiguration";
    case cudaErrorNoDevice: return "cudaErrorNoDevice";
    case cudaErrorInvalidDevice: return "cudaErrorInvalidDevice";
    default: return "cudaErrorUnknown";
  }
}
const char* cudaGetErrorString(cudaError_t e) { return cudaGetErrorName(e); }
cudaError_t cudaPointerGetAttributes(cudaPointerAttributes* a, const void* p) {
  std::lock_guard<std::mutex> lk(g_alloc_mu);
  std::memset(a, 0, sizeof(*a));
  auto it = g_allocs.upper_bound(const_cast<void*>(p));
  if (it != g_allocs.begin()) {
    --it;
    const char* base = static_cast<const char*>(it->first);
    if (static_cast<const char*>(p) < base + it->second) {
      a->type = cudaMemoryTypeDevice;
      a->devicePointer = const_cast<void*>(p);
    }
  }
  return cudaSuccess;
}
cudaError_t ws_emu_func_set_attribute(const void* fn, cudaFuncAttribute a, int v) {
  if (a != cudaFuncAttributeMaxDynamicSharedMemorySize) return cudaErrorInvalidValue;
  if (v < 0 || std::size_t(v) > kOptinMax) return cudaErrorInvalidValue;
  std::lock_guard<std::mutex> lk(g_launch_mu);
  g_func_smem[fn] = v;
  return cudaSuccess;
}
