// Device-side helpers of the CUDA sampling kernel (framework-free, nvcc only):
// the fast 2^x of the softmax terms, a NaN-propagating max, and warp shuffles of
// the shared ChunkState and of a draw candidate.
//
// Nothing here changes the shared math of sampling_math.h: the scores that pick
// the chunk and the token are the header's (double log2 / log1p), so the drawn
// tokens agree with the CPU up to the near-ties of its file comment. The fast
// intrinsic serves only the chunk sums, whose rounding the tests tolerate.
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
// 2^-22, subnormal results flushed to 0; exact at integers, so the largest entry
// of a range adds exactly 1). The pass-1 terms are clamped at 2^-126, the
// smallest normal, so the flush never applies. The CPU uses Sleef's exp2 (1 ulp):
// sums agree to a few ulps, which moves chunk scores by ~1e-7 relative.
__device__ __forceinline__ float fast_exp2(float x) {
#if defined(__CUDA_ARCH__)
  float y;
  asm("ex2.approx.ftz.f32 %0, %1;" : "=f"(y) : "f"(x));
  return y;
#else
  return exp2f(x);
#endif
}

// max(a, b) that returns NaN when either input is NaN (fmaxf ignores NaN): a NaN
// logit must reach the chunk's max_x, which flags the row.
__device__ __forceinline__ float max_nan(float a, float b) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
  float r;
  asm("max.NaN.f32 %0, %1, %2;" : "=f"(r) : "f"(a), "f"(b));
  return r;
#else
  return (a != a || b != b) ? __int_as_float(0x7fffffff) : fmaxf(a, b);
#endif
}

__device__ __forceinline__ ChunkState shfl_xor_state(const ChunkState& s, int lane_mask) {
  return ChunkState{__shfl_xor_sync(kFullMask, s.max_x, lane_mask), __shfl_xor_sync(kFullMask, s.S, lane_mask),
                    __shfl_xor_sync(kFullMask, s.T, lane_mask), __shfl_xor_sync(kFullMask, s.S1, lane_mask)};
}

// Merges the 32 lanes' states by a fixed xor butterfly: the rounding of the sums
// depends only on which lane holds what, never on timing, and since merge_states
// is exactly commutative (max and one float addition per sum) every lane ends
// with the same bits, so no broadcast is needed. All 32 lanes must call it;
// empty_state() is the identity.
__device__ __forceinline__ ChunkState warp_merge(ChunkState s, float scale) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) s = merge_states(s, shfl_xor_state(s, o), scale);
  return s;
}

// A draw candidate: (score, index) ordered by ead::beats (index -1: none), with
// the raw logit carried along, as finalize_row needs the winner's x.
struct Candidate {
  double score;
  int index;  // vocabulary index (V <= INT32_MAX is checked by the op)
  float x;
};

// The warp's best candidate in every lane. beats is order-free, so the
// butterfly's pairing cannot change the winner.
__device__ __forceinline__ Candidate warp_best(Candidate c) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) {
    const Candidate other{__shfl_xor_sync(kFullMask, c.score, o), __shfl_xor_sync(kFullMask, c.index, o),
                          __shfl_xor_sync(kFullMask, c.x, o)};
    if (beats(other.score, other.index, c.score, c.index)) c = other;
  }
  return c;
}

}  // namespace ead::cuda
