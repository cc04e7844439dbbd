// A CPU emulation of the small part of CUDA the sampling kernel uses, so that
// the kernel's own code (sample_kernel.cuh) can be run and tested on a machine
// without a GPU: compile a translation unit with -DEAD_CUDA_EMULATION as C++20
// (g++ -x c++ -pthread) and include this header before the kernel header.
//
// Model: the blocks of a launch run one after another; the threads of a block
// are cooperative fibers (ucontext) on the calling thread, so every CUDA thread
// runs the kernel body as written, one at a time, switching only at the sync
// points: warp primitives (__shfl_*_sync, __ballot_sync, __syncwarp) are
// barriers over the 32 fibers of the warp plus an exchange buffer (they assume
// the full mask, which is all the kernel uses); __syncthreads is a barrier over
// the block. Early returns must be warp-uniform, and block-uniform before a
// __syncthreads, as on a GPU.
// __shared__ variables become function statics: one copy, which is right as
// blocks run one at a time. One OS thread, deterministic, light on a shared
// machine. Memory-model details (fences, L1 bypass) are not emulated: this
// checks the kernel's logic (indexing, filters, merges, tie rules, the
// last-block protocol), not its timing or races; compute-sanitizer
// (scripts/cuda_sanitizer_check.sh) checks those on a GPU.
//
// Test-only: never part of the built extension.
#pragma once
#if defined(__CUDACC__)
#error "cuda_emulation.h is for host compilers (EAD_CUDA_EMULATION builds), not nvcc"
#endif
#include <ucontext.h>

#include <array>
#include <atomic>
#include <bit>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <memory>
#include <vector>

#define EAD_CUDA_EMULATION_ACTIVE 1
#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __shared__ static
#define __launch_bounds__(...)

struct uint4 {
  unsigned x, y, z, w;
};
struct float4 {
  float x, y, z, w;
};
inline uint4 make_uint4(unsigned x, unsigned y, unsigned z, unsigned w) { return uint4{x, y, z, w}; }
inline float4 make_float4(float x, float y, float z, float w) { return float4{x, y, z, w}; }

namespace ead_emu {

struct Dim {
  unsigned x = 0, y = 0, z = 0;
};
// Work counters of the kernel (EAD_EMU_COUNT in sample_kernel.cuh): how much of
// the chosen chunks of tempered rows the exact filters leave to score.
struct Counters {
  uint64_t entries_picked = 0;  // entries of the chosen chunks (token pick of tempered rows)
  uint64_t pairs_drawn = 0;     // Philox calls after the seed scores (pairs passing filter 1)
  uint64_t entries_scored = 0;  // exact scores computed (seeds + entries passing both filters)
};
inline Counters& counters() {
  static Counters c;
  return c;
}

// The running fiber's indices (set by the scheduler before every switch).
inline Dim thread_idx;
inline Dim block_idx;

struct Barrier {
  unsigned count = 0;
  unsigned generation = 0;
};

struct Fiber {
  ucontext_t ctx;
  std::unique_ptr<char[]> stack;
  bool done = false;
};

struct Block {
  unsigned threads = 0;
  std::vector<Fiber> fibers;
  std::vector<Barrier> warp_bars;
  std::vector<std::array<uint64_t, 32>> warp_slots;
  Barrier block_bar;
  ucontext_t scheduler;
  unsigned current = 0;
  const std::function<void()>* body = nullptr;
};
inline Block* current_block = nullptr;
constexpr size_t kStackBytes = 256 * 1024;

inline void yield() {
  Block& b = *current_block;
  swapcontext(&b.fibers[b.current].ctx, &b.scheduler);
}

inline void wait(Barrier& bar, unsigned n) {
  const unsigned g = bar.generation;
  if (++bar.count == n) {
    bar.count = 0;
    ++bar.generation;
    return;
  }
  while (bar.generation == g) yield();
}

inline unsigned lane() { return thread_idx.x % 32; }
inline void warp_wait() { wait(current_block->warp_bars[thread_idx.x / 32], 32); }

template <typename T>
T exchange(T v, unsigned src_lane) {
  static_assert(sizeof(T) <= 8, "exchange of up to 8 bytes");
  auto& slots = current_block->warp_slots[thread_idx.x / 32];
  uint64_t bits = 0;
  std::memcpy(&bits, &v, sizeof(T));
  slots[lane()] = bits;
  warp_wait();
  T r;
  std::memcpy(&r, &slots[src_lane], sizeof(T));
  warp_wait();  // nobody overwrites a slot before everyone read
  return r;
}

inline void fiber_entry() {
  Block& b = *current_block;
  (*b.body)();
  b.fibers[b.current].done = true;
  // returning resumes uc_link: the scheduler
}

// (getcontext returns twice: kept out of launch() so none of its locals can be clobbered)
__attribute__((noinline)) inline void init_fiber(Fiber& f, ucontext_t* scheduler) {
  f.done = false;
  getcontext(&f.ctx);
  f.ctx.uc_stack.ss_sp = f.stack.get();
  f.ctx.uc_stack.ss_size = kStackBytes;
  f.ctx.uc_link = scheduler;
  makecontext(&f.ctx, fiber_entry, 0);
}

// Runs grid x block CUDA threads: blocks in sequence; within a block, fibers
// round-robin until all have returned.
inline void launch(unsigned grid, unsigned block, const std::function<void()>& body) {
  Block b;
  b.threads = block;
  b.fibers.resize(block);
  for (auto& f : b.fibers) f.stack = std::make_unique<char[]>(kStackBytes);
  b.body = &body;
  current_block = &b;
  for (unsigned blk = 0; blk < grid; ++blk) {
    b.warp_bars.assign((block + 31) / 32, Barrier{});
    b.warp_slots.assign((block + 31) / 32, std::array<uint64_t, 32>{});
    b.block_bar = Barrier{};
    for (unsigned t = 0; t < block; ++t) init_fiber(b.fibers[t], &b.scheduler);
    block_idx = Dim{blk, 0, 0};
    for (unsigned live = block; live > 0;) {
      live = 0;
      for (unsigned t = 0; t < block; ++t) {
        if (b.fibers[t].done) continue;
        b.current = t;
        thread_idx = Dim{t, 0, 0};
        swapcontext(&b.scheduler, &b.fibers[t].ctx);
        if (!b.fibers[t].done) ++live;
      }
    }
  }
  current_block = nullptr;
}

}  // namespace ead_emu

#define threadIdx (::ead_emu::thread_idx)
#define blockIdx (::ead_emu::block_idx)

inline float __uint_as_float(unsigned u) { return std::bit_cast<float>(u); }
inline float __int_as_float(int i) { return std::bit_cast<float>(i); }
inline unsigned __float_as_uint(float f) { return std::bit_cast<unsigned>(f); }
inline int __popc(unsigned v) { return __builtin_popcount(v); }
// Round-to-nearest arithmetic that nvcc never contracts into an FMA; the emulation
// build uses -ffp-contract=off, so plain operators round once each here too.
inline float __fmul_rn(float a, float b) { return a * b; }
inline float __fadd_rn(float a, float b) { return a + b; }
inline float __fsub_rn(float a, float b) { return a - b; }

template <typename T>
T __shfl_xor_sync(unsigned /*mask*/, T v, int lane_mask) {
  return ead_emu::exchange(v, (ead_emu::thread_idx.x % 32) ^ static_cast<unsigned>(lane_mask));
}
template <typename T>
T __shfl_sync(unsigned /*mask*/, T v, int src_lane) {
  return ead_emu::exchange(v, static_cast<unsigned>(src_lane) % 32);
}
template <typename T>
T __shfl_down_sync(unsigned /*mask*/, T v, unsigned delta) {
  const unsigned lane = ead_emu::thread_idx.x % 32;
  return ead_emu::exchange(v, lane + delta < 32 ? lane + delta : lane);
}
inline unsigned __ballot_sync(unsigned /*mask*/, bool pred) {
  auto& slots = ead_emu::current_block->warp_slots[ead_emu::thread_idx.x / 32];
  slots[ead_emu::lane()] = pred ? 1 : 0;
  ead_emu::warp_wait();
  unsigned m = 0;
  for (unsigned l = 0; l < 32; ++l) m |= static_cast<unsigned>(slots[l] != 0) << l;
  ead_emu::warp_wait();
  return m;
}
inline void __syncwarp(unsigned /*mask*/ = 0xffffffffu) { ead_emu::warp_wait(); }
inline void __syncthreads() {
  ead_emu::wait(ead_emu::current_block->block_bar, ead_emu::current_block->threads);
}
inline void __threadfence() { std::atomic_thread_fence(std::memory_order_seq_cst); }
inline unsigned atomicAdd(unsigned* p, unsigned v) { return std::atomic_ref<unsigned>(*p).fetch_add(v); }
inline unsigned atomicMax(unsigned* p, unsigned v) {
  std::atomic_ref<unsigned> a(*p);
  unsigned old = a.load();
  while (old < v && !a.compare_exchange_weak(old, v)) {
  }
  return old;
}
template <typename T>
T __ldcs(const T* p) {
  return *p;
}
template <typename T>
T __ldcg(const T* p) {
  return *p;
}

// Runtime API: host memory stands in for device memory.
using cudaError_t = int;
using cudaStream_t = void*;
constexpr cudaError_t cudaSuccess = 0;
enum cudaMemcpyKind { cudaMemcpyHostToDevice, cudaMemcpyDeviceToHost, cudaMemcpyDeviceToDevice };
inline const char* cudaGetErrorString(cudaError_t) { return "emulation error"; }
inline cudaError_t cudaGetDeviceCount(int* n) {
  *n = 1;
  return cudaSuccess;
}
inline cudaError_t cudaMalloc(void** p, size_t bytes) {
  *p = std::malloc(bytes ? bytes : 1);
  return *p ? cudaSuccess : 2;
}
template <typename T>
cudaError_t cudaMalloc(T** p, size_t bytes) {
  return cudaMalloc(reinterpret_cast<void**>(p), bytes);
}
inline cudaError_t cudaFree(void* p) {
  std::free(p);
  return cudaSuccess;
}
inline cudaError_t cudaMemcpy(void* dst, const void* src, size_t bytes, cudaMemcpyKind) {
  std::memcpy(dst, src, bytes);
  return cudaSuccess;
}
inline cudaError_t cudaMemsetAsync(void* p, int v, size_t bytes, cudaStream_t = nullptr) {
  std::memset(p, v, bytes);
  return cudaSuccess;
}
inline cudaError_t cudaDeviceSynchronize() { return cudaSuccess; }
inline cudaError_t cudaGetLastError() { return cudaSuccess; }
