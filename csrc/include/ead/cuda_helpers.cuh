// Device-side helpers of the CUDA sampling kernel (framework-free, nvcc only):
// fast special-function intrinsics, NaN-propagating max, warp shuffles of the
// mergeable RowState and an order-free merge rule for interleaved ranges.
//
// Nothing here changes the shared math of sampling_math.h: the noise of an
// entry that may win is still ead::gumbel_noise (accurate log2f, as the CPU's
// Sleef log2 and the reference's NumPy log2, all within 1 ulp), so the drawn
// tokens agree with the CPU up to float near-ties. The fast intrinsics serve
// only the softmax sums (whose rounding the tests tolerate) and the exact noise
// filter, which carries a margin far above their error.
#pragma once
#if !defined(__CUDACC__) && !defined(EAD_CUDA_EMULATION_ACTIVE)
#error "ead/cuda_helpers.cuh is for nvcc (or the CPU emulation of csrc/cuda/emulation)"
#endif
#include <cstdint>

#include "ead/macros.h"
#include "ead/sampling_math.h"

namespace ead::cuda {

constexpr unsigned kFullMask = 0xffffffffu;

// 2^x on the special-function unit (ex2.approx.ftz.f32: relative error about
// 2^-22, subnormal results flushed to 0). Used for the softmax sums, where the
// CPU uses Sleef's exp2 (1 ulp): sums agree to a few ulps, tokens are unaffected.
__device__ __forceinline__ float fast_exp2(float x) {
#if defined(__CUDA_ARCH__)
  float y;
  asm("ex2.approx.ftz.f32 %0, %1;" : "=f"(y) : "f"(x));
  return y;
#else
  return exp2f(x);
#endif
}

// max(a, b) that returns NaN when either input is NaN (fmaxf ignores NaN).
__device__ __forceinline__ float max_nan(float a, float b) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
  float r;
  asm("max.NaN.f32 %0, %1, %2;" : "=f"(r) : "f"(a), "f"(b));
  return r;
#else
  return (a != a || b != b) ? __int_as_float(0x7fffffff) : fmaxf(a, b);
#endif
}

__device__ __forceinline__ float warp_max_nan(float v) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) v = max_nan(v, __shfl_xor_sync(kFullMask, v, o));
  return v;
}

__device__ __forceinline__ float warp_max(float v) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(kFullMask, v, o));
  return v;
}

__device__ __forceinline__ float warp_sum(float v) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(kFullMask, v, o);
  return v;
}

// Does candidate (score b, index ib) beat (a, ia)? Higher score wins; on equal
// scores the lower index wins (index -1: no candidate). Order-free, so it can
// merge lanes and warps whose entries interleave in the vocabulary.
__device__ __forceinline__ bool beats(float b, int64_t ib, float a, int64_t ia) {
  return b > a || (b == a && ib >= 0 && (ia < 0 || ib < ia));
}

// merge_states (sampling_math.h) with the order-free tie rule above: max and sums
// are merge_states' own; the winner is the highest score, ties to the lowest
// index. For ranges in vocabulary order it gives the same winner as
// merge_states; it also serves ranges that interleave (the warps of a block).
__device__ __forceinline__ RowState merge_states_by_index(const RowState& a, const RowState& b, float s) {
  RowState r = merge_states(a, b, s);
  if (beats(b.best, b.best_idx, a.best, a.best_idx)) {
    r.best = b.best;
    r.best_x = b.best_x;
    r.best_idx = b.best_idx;
  } else {
    r.best = a.best;
    r.best_x = a.best_x;
    r.best_idx = a.best_idx;
  }
  return r;
}

__device__ __forceinline__ RowState shfl_down_state(const RowState& s, int delta) {
  RowState r;
  r.max_x = __shfl_down_sync(kFullMask, s.max_x, delta);
  r.S = __shfl_down_sync(kFullMask, s.S, delta);
  r.T = __shfl_down_sync(kFullMask, s.T, delta);
  r.S1 = __shfl_down_sync(kFullMask, s.S1, delta);
  r.best = __shfl_down_sync(kFullMask, s.best, delta);
  r.best_x = __shfl_down_sync(kFullMask, s.best_x, delta);
  r.best_idx = __shfl_down_sync(kFullMask, static_cast<long long>(s.best_idx), delta);
  return r;
}

// Merges the states held by lanes [0, kLanes) of a warp, lane i's range before
// lane i+1's: lane 0 returns merge(s_0, ..., s_{kLanes-1}) (a fixed tree, so the
// rounding of the sums is reproducible). Lanes without a range hold
// empty_state(), the identity of the merge. All 32 lanes must call it. `scale`:
// the row's inverse scale s of merge_states.
template <int kLanes>
__device__ __forceinline__ RowState warp_merge_ordered(RowState s, float scale) {
  static_assert(kLanes >= 1 && kLanes <= 32, "one warp");
#pragma unroll
  for (int o = 1; o < kLanes; o <<= 1) {
    const RowState other = shfl_down_state(s, o);
    // Lane i merges lane i + o (a later range); results of lanes that are not a
    // multiple of 2o are never read again.
    if ((threadIdx.x & 31) + o < 32) s = merge_states_by_index(s, other, scale);
  }
  return s;
}

}  // namespace ead::cuda
