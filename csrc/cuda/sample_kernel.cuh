// The CUDA kernel of ead::sample, framework-free (no torch): templated on the
// logits dtype and the block size, launched by csrc/cuda/sample_cuda.cu (the
// torch op) and by csrc/cuda/standalone_check.cu (the CI compile check and a
// torch-free self-test).
//
// Same semantics as the CPU kernel (csrc/cpu/sample_kernel_impl.h) and the
// formulas of ead/sampling_math.h: score_i = fl(x_i * s) + noise_i in log2 units,
// token = argmax (ties to the lowest index), noise from Philox4x32-10 keyed by
// (seed, offset, entry), online softmax sums merged associatively.
//
// Work split (see plan_launch): each row is cut into `splits` contiguous ranges
// of `chunk` entries; one block of kBlock threads sweeps one range, so the grid
// is batch * splits blocks. Within a block, thread t of warp w reads 16-byte
// vectors (4 fp32 or 8 bf16/fp16 entries), kUnroll of them in flight at once,
// and keeps per-lane sums against a max shared by its warp. At the end, lanes
// merge by warp shuffles, warps by one shared-memory round and a shuffle tree.
// With splits > 1 each block stores its partial RowState; the last block of the
// row to finish (an atomic counter per row) merges the partials in vocabulary
// order and writes the outputs. No host synchronisation anywhere.
//
// Noise is drawn only where a draw can win, exactly (see sampling_math.h):
//  * filter 1, per Philox group of 4 entries: the group is a candidate only if
//    some y + kNoiseMax reaches thr, a lower bound on the row's winning score
//    (the max of the best score found and of m + kNoiseMin, m the max of y read).
//    thr is shared: each tile, every warp publishes its bound, the block meets at
//    one barrier, and each warp takes the largest bound of the block and of the
//    row's other blocks (SharedThreshold), so that the few strong tokens of an LM
//    row rule out its bulk in every warp. Candidate groups are compacted into a per-warp queue in
//    shared memory (ballot + popc), and the Philox generator runs on 32 queued
//    groups at a time, one per lane: its cost follows the number of candidate
//    groups, not the number of warps that hold one.
//  * filter 2, per entry of a candidate group: the entry can reach thr only if
//    1 - u <= ln2 * 2^(y - thr) (as -log2(u) >= (1 - u) / ln2); it is tested with
//    a margin of `delta` log2 units, far above the float error of the test, and
//    only entries that pass compute the two logarithms.
// Skipped entries have scores strictly below thr <= the winning score, so the
// drawn token is the one a full evaluation gives, bit for bit.
//
// Arithmetic: the CPU kernel's, operation for operation (sweep_chunk in
// csrc/cpu/sample_kernel_impl.h), with the shared RowState of ead/sampling_math.h:
//  * score: y = fl(x * s), noise ead::gumbel_noise (shared), ties to the lowest index;
//  * softmax terms against the warp's running raw max M: a = max(fl(fl(x - M) * s), -126),
//    w = 2^a, S += w, T += fl(w * a); S1 += 2^max(fl(fl(x - M) * log2e), -126) (clamped at
//    the smallest normal float, as on the CPU; masked entries land there too);
//  * when M grows, the sums are moved to the new max with ead::rescale_sums, and warps,
//    blocks and splits are merged with ead::merge_states; finalize_row is the shared one.
// Every product and sum is rounded once: the operations are written with __fmul_rn /
// __fadd_rn / __fsub_rn, which nvcc never contracts into an FMA, and the op is compiled
// with -fmad=false as well (the shared header's merge and finalisation, and the CPU's
// -ffp-contract=off). So a = 0 exactly for the largest entry (S >= 1), and the reported
// log-prob (best_x - max_x) * s - log2 S of a sure token is <= 0.
// 2^a of the softmax terms uses the special-function unit (ex2.approx, relative error
// ~2^-22; the CPU uses Sleef's exp2): it moves the sums by a few ulps, never the token.
#pragma once
#include <cstddef>
#include <cstdint>

#if !defined(EAD_CUDA_EMULATION_ACTIVE)
#include <cuda_runtime.h>
#endif

#include "ead/cuda_helpers.cuh"
#include "ead/philox.h"
#include "ead/sampling_math.h"
#include "ead/schedule.h"

// Work counters of the CPU emulation (csrc/cuda/emulation): how many Philox
// groups and entries pass the noise filters. No code on the GPU.
#if defined(EAD_CUDA_EMULATION_ACTIVE)
#define EAD_EMU_COUNT(counter, n) (::ead_emu::counters().counter += static_cast<uint64_t>(n))
#else
#define EAD_EMU_COUNT(counter, n) ((void)0)
#endif

namespace ead::cuda {

// ---------------------------------------------------------------------------
// Logits dtypes: storage type, entries per 16-byte vector, conversion to fp32.
// bf16 and fp16 are handled as raw 16-bit words (the torch launcher passes
// c10::BFloat16 / c10::Half data, same layout).

// 32-bit word i of a 16-byte vector (i a compile-time constant after unrolling).
__device__ __forceinline__ uint32_t word_of(const uint4& v, int i) {
  return i == 0 ? v.x : i == 1 ? v.y : i == 2 ? v.z : v.w;
}

__device__ __forceinline__ uint4 splat(uint32_t w) { return make_uint4(w, w, w, w); }

struct F32 {
  using storage = float;
  static constexpr int kVec = 4;
  static constexpr const char* name = "float32";
  __device__ __forceinline__ static float unpack(const uint4& v, int k) {
    return __uint_as_float(word_of(v, k));
  }
  __device__ __forceinline__ static storage neg_inf() { return __uint_as_float(0xff800000u); }
  __device__ __forceinline__ static uint4 neg_inf_vec() {
    return splat(0xff800000u);
  }
};

struct BF16 {
  using storage = uint16_t;
  static constexpr int kVec = 8;
  static constexpr const char* name = "bfloat16";
  __device__ __forceinline__ static float unpack(const uint4& v, int k) {
    const uint32_t w = word_of(v, k >> 1);
    // Little-endian: entry 2j is the low half of word j. bf16 -> fp32 is exact.
    return __uint_as_float((k & 1) ? (w & 0xffff0000u) : (w << 16));
  }
  __device__ __forceinline__ static storage neg_inf() { return 0xff80u; }
  __device__ __forceinline__ static uint4 neg_inf_vec() {
    return splat(0xff80ff80u);
  }
};

struct F16 {
  using storage = uint16_t;
  static constexpr int kVec = 8;
  static constexpr const char* name = "float16";
  __device__ __forceinline__ static float unpack(const uint4& v, int k) {
    const uint32_t w = word_of(v, k >> 1);
    const unsigned short h = static_cast<unsigned short>((k & 1) ? (w >> 16) : (w & 0xffffu));
#if defined(__CUDA_ARCH__)
    float f;
    asm("cvt.f32.f16 %0, %1;" : "=f"(f) : "h"(h));  // exact
    return f;
#else
    // Host (emulation) decoding of an IEEE binary16, exact.
    const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
    const uint32_t exp = (h >> 10) & 0x1fu, man = h & 0x3ffu;
    if (exp == 0x1f) return __uint_as_float(sign | 0x7f800000u | (man << 13));  // inf / NaN
    if (exp != 0) return __uint_as_float(sign | ((exp + 112u) << 23) | (man << 13));
    const float sub = static_cast<float>(man) * 5.9604644775390625e-08f;  // man * 2^-24
    return sign ? -sub : sub;
#endif
  }
  __device__ __forceinline__ static storage neg_inf() { return 0xfc00u; }
  __device__ __forceinline__ static uint4 neg_inf_vec() {
    return splat(0xfc00fc00u);
  }
};

// ---------------------------------------------------------------------------
// Launch parameters (plain pointers; every pointer is device memory).

struct SampleParams {
  const void* logits;        // [batch, vocab], rows `row_stride` elements apart, last dim contiguous
  int64_t batch;
  int64_t vocab;
  int64_t row_stride;        // elements
  const float* temperature;  // [batch] or nullptr when positions are given
  const int64_t* positions;  // [batch] or nullptr
  ScheduleParams schedule;   // used with positions
  const int64_t* seeds;      // [batch]
  const int64_t* offsets;    // [batch]
  bool want_target;
  int64_t* tokens;           // [batch]
  float* logprobs;           // [batch]
  float* target_logprobs;    // [batch] or nullptr
  float* entropy;            // [batch] or nullptr
  RowState* partials;        // [batch * splits] when splits > 1 (workspace)
  unsigned int* counters;    // [batch] when splits > 1 (workspace, zeroed by launch_sample)
  unsigned int* row_thr;     // [batch] when splits > 1: shared threshold (ordered bits, 0 = none; zeroed too)
  int64_t chunk;             // entries per block (a multiple of the tile)
  int splits;                // blocks per row
};

// Block size and loads in flight. 256 threads (8 warps) with 4 x 16-byte loads
// each: one block iteration ("tile") reads 16 KB of logits (4096 fp32 or 8192
// bf16/fp16 entries), all in registers before any noise is drawn, so that the
// block first agrees on its noise threshold (one barrier a tile, see sweep). At
// the ~80 registers the kernel needs, 3 blocks fit an SM: 48 KB of loads in flight
// per SM, above the ~20-25 KB that the DRAM latency times the per-SM bandwidth
// asks for (H100: 3 TB/s / 132 SMs x ~1 us). (Measured on an H100: 8 loads a
// thread at 2 blocks per SM ran bf16 rows 25 % slower, fp32 rows 12 % faster.)
constexpr int kBlock = 256;
constexpr int kUnroll = 4;
// Register budget: 3 resident blocks per SM (<= 80 registers a thread), what
// the kernel needs without spilling on sm_80 and sm_90.
constexpr int kMinBlocksPerSM = 3;
// A block sweeps at least this many tiles: its fixed costs (the block
// reduction, ~1 us, and with split rows the partial-state store, fence and
// atomic) are then paid once per 32 KB rather than per 16 KB.
constexpr int kMinTilesPerBlock = 2;
// At most this many blocks share a row. The last block's warp 0 merges the
// partials, two per lane, so kMaxSplits <= 64.
constexpr int kMaxSplits = 64;

template <typename DT>
constexpr int64_t tile_entries() {
  return static_cast<int64_t>(kBlock) * DT::kVec * kUnroll;
}

struct LaunchPlan {
  int block;          // threads per block
  int splits;         // blocks per row
  int64_t chunk;      // entries per block
  int64_t blocks;     // grid size: batch * splits
  size_t workspace_bytes;  // partial states + counters (0 when splits == 1)
  size_t counters_offset;  // byte offset of the counters (then the row thresholds) in the workspace
};

// How the work is cut (host side): block size fixed (above), split count from
// V and the dtype, grid = B x splits.
//
// The split count depends on V and the dtype only, never on B: every row is
// reduced by the same tree (same ranges, same warps, same merge order) whatever
// the batch, so a row's outputs are bitwise identical in any batch (batch
// invariance, which RL needs: a row sampled in a batch of 1 or of 1024 reports
// the same log-prob). B then only sets the grid, B x splits blocks.
//
// A block sweeps `chunk` entries, a whole number of 16 KB tiles, at least
// kMinTilesPerBlock of them, and a row uses at most kMaxSplits blocks:
//   chunk  = tile x max(kMinTilesPerBlock, ceil(tiles(V) / kMaxSplits))
//   splits = ceil(V / chunk)
// V = 151,936 (Qwen): 10 blocks per row in bf16/fp16 (chunk 16,384), 19 in fp32
// (chunk 8,192); V = 32,000 (Llama 2): 2 in bf16, 4 in fp32; V = 256,000: 16 /
// 32. So B = 1 spreads its row over 10-19 SMs, each with two 16 KB tiles; from B
// of about 16 on, B x splits exceeds the 132 SMs x 3 resident blocks.
// Rows that fit one chunk (V <= 16,384 bf16 / 8,192 fp32) take one block each
// and no workspace. Very large vocabularies grow the chunk, not the split count.
template <typename DT>
inline LaunchPlan plan_launch(int64_t batch, int64_t vocab) {
  const int64_t tile = tile_entries<DT>();
  const int64_t tiles = (vocab + tile - 1) / tile;
  int64_t tiles_per_block = (tiles + kMaxSplits - 1) / kMaxSplits;
  if (tiles_per_block < kMinTilesPerBlock) tiles_per_block = kMinTilesPerBlock;
  LaunchPlan p{};
  p.block = kBlock;
  p.chunk = tile * tiles_per_block;
  p.splits = static_cast<int>((vocab + p.chunk - 1) / p.chunk);
  if (p.splits < 1) p.splits = 1;
  p.blocks = batch * p.splits;
  if (p.splits > 1) {
    const size_t states = static_cast<size_t>(batch) * p.splits * sizeof(RowState);
    p.counters_offset = (states + 15) / 16 * 16;
    p.workspace_bytes = p.counters_offset + 2 * static_cast<size_t>(batch) * sizeof(unsigned int);
  }
  return p;
}

// ---------------------------------------------------------------------------
// Device code.

// Per-row set-up, as setup_row in the CPU kernel: temperature (given, or from
// position + schedule), inverse scale, greedy and target modes, bad-row flag.
struct DeviceRowSetup {
  float s;
  bool greedy;
  bool target;
  bool bad;
};

__device__ __forceinline__ DeviceRowSetup device_setup_row(const SampleParams& p, int64_t r) {
  float tau;
  bool bad = false;
  if (p.positions != nullptr) {
    const int64_t t = p.positions[r];
    bad = t < 0;
    tau = bad ? 1.0f : schedule_temperature(t, p.schedule);
  } else {
    tau = p.temperature[r];
  }
  if (!(tau >= 0.0f && tau < INFINITY)) {  // negative, NaN or inf
    bad = true;
    tau = 1.0f;
  }
  const float s = inverse_scale(tau);
  if (!(s < INFINITY)) bad = true;  // tau so small that 1/tau overflows
  return DeviceRowSetup{s, tau == 0.0f, p.want_target && s != kLog2e, bad};
}

// One 16-byte vector (entries [j * kVec, j * kVec + kVec) of the block's range of
// n entries starting at `base`); entries past n read as -inf. `aligned`: the row
// starts on a 16-byte boundary (then so does every vector, as ranges start at
// multiples of the tile); otherwise the vector is read entry by entry.
template <typename DT>
__device__ __forceinline__ uint4 load_vec(const typename DT::storage* base, int64_t j, int64_t n,
                                          bool aligned) {
  constexpr int kVec = DT::kVec;
  const int64_t e0 = j * kVec;
  if (aligned && e0 + kVec <= n) {
    // Streaming load: the logits are read once (evict-first in L1 and L2).
    return __ldcs(reinterpret_cast<const uint4*>(base + e0));
  }
  union {
    uint4 v;
    typename DT::storage s[kVec];
  } u;
#pragma unroll
  for (int k = 0; k < kVec; ++k) u.s[k] = (e0 + k < n) ? base[e0 + k] : DT::neg_inf();
  return u.v;
}

// Per-warp compaction queue of candidate Philox groups (4 logits + group index).
template <typename DT>
struct WarpQueue {
  // A warp adds at most 32 * (kVec / 4) groups per vector load and drains
  // whenever 32 or more are queued, so it never holds more than this.
  static constexpr int kCap = 32 * (DT::kVec / 4 + 1);
  float4 x[kCap];
  uint32_t group[kCap];
};

// The noise threshold shared by the warps of a block (shared memory) and by the
// blocks of a split row (the workspace): a float as monotone unsigned bits, so that
// atomicMax keeps the largest. 0 (what the memset leaves) decodes to -inf. Any value
// published is a lower bound on the row's winning score (some entry's y + kNoiseMin,
// or a score drawn), so every reader may filter with it, whenever it arrives: the
// filters stay exact and the draw is the same whatever the timing. Without it each
// warp filters with the bound of the entries it has read itself, which for LM rows
// (a few strong tokens in a bulk far below) is far too low: most warps never see the
// strong tokens of their row and drew the noise of nearly every entry.
__device__ __forceinline__ unsigned ordered_bits(float f) {
  const unsigned u = __float_as_uint(f);
  return (u & 0x80000000u) ? ~u : (u | 0x80000000u);
}
__device__ __forceinline__ float from_ordered_bits(unsigned o) {
  if (o == 0u) return -INFINITY;
  return __uint_as_float((o & 0x80000000u) ? (o & 0x7fffffffu) : ~o);
}

struct SharedThreshold {
  unsigned* block;  // shared memory, one per block
  unsigned* row;    // global, one per row; nullptr when the row is not split
};

// Lane-private running state of a warp's sweep. run_mx (and m) are shared by the
// warp (max over everything the warp has read) so lane sums add up without rescaling.
struct LaneState {
  float run_mx;  // max raw logit read by the warp (warp-uniform): the RowState's max_x
  float m;       // fl(run_mx * s) (warp-uniform) == max of y read so far (rounding is monotone)
  float S, T, S1;  // sums of sampling_math.h against run_mx
  float best, best_x;
  int64_t best_idx;
  float thr;     // lower bound on the row's winning score (warp-uniform)
  bool nan;      // a NaN logit was read (warp-uniform)
};

// Lane 0 publishes the warp's threshold (shared and, for split rows, global). Not
// tracked per warp (a register the loads need): a few atomics a tile.
__device__ __forceinline__ void publish_threshold(const LaneState& st, const SharedThreshold& sh) {
  if ((threadIdx.x & 31) == 0 && st.thr > -INFINITY) {
    const unsigned o = ordered_bits(st.thr);
    atomicMax(sh.block, o);
    if (sh.row != nullptr) atomicMax(sh.row, o);
  }
}

// Draws the noise of `count` (<= 32) queued groups starting at `first`, one per
// lane, for the entries that pass filter 2, and updates the lane's best.
template <typename DT>
__device__ __forceinline__ void drain_queue(const WarpQueue<DT>& q, int first, int count, LaneState& st,
                                            float s, uint64_t seed, uint64_t offset) {
  const int lane = threadIdx.x & 31;
  if (lane < count) {
    const float4 gx = q.x[first + lane];
    const uint32_t g = q.group[first + lane];
    const Philox4x32Out r = noise_words(seed, offset, g);
    EAD_EMU_COUNT(groups_drawn, 1);
    const float xs[4] = {gx.x, gx.y, gx.z, gx.w};
#pragma unroll
    for (int k = 0; k < 4; ++k) {
      const float y = __fmul_rn(xs[k], s);
      // Filter 2 (see the file comment), on the complement e = 1 - u of the CPU's test:
      // e <= ln2 2^(y - thr + delta). The CPU forms 2^(y - thr) as w * 2^(m - thr) from its
      // softmax term; here it is taken from y directly (one ex2 per queued entry). Both are
      // exact filters (delta is far above the float error of either form), so both leave
      // the draw unchanged. -inf y never passes (2^-inf = 0 < e), nor does thr = -inf (NaN).
      const float delta = __fadd_rn(0.05f, __fmul_rn(4e-6f, __fadd_rn(fabsf(y), fabsf(st.thr))));
      const float e = complement_from_bits(r.x[k]);
      if (e <= __fmul_rn(kLn2, fast_exp2(__fadd_rn(__fsub_rn(y, st.thr), delta)))) {
        EAD_EMU_COUNT(entries_noised, 1);
        const float score = __fadd_rn(y, gumbel_noise(r.x[k]));
        const int64_t idx = 4 * static_cast<int64_t>(g) + k;
        if (beats(score, idx, st.best, st.best_idx)) {
          st.best = score;
          st.best_x = xs[k];
          st.best_idx = idx;
        }
      }
    }
  }
  st.thr = fmaxf(st.thr, warp_max(st.best));
}

// Sweeps entries [0, n) of `base` (entry 0 is vocabulary index `begin`): the
// warp-level part of the kernel. kGreedy: argmax of x, no noise.
template <typename DT, bool kGreedy>
__device__ __forceinline__ void sweep(const typename DT::storage* base, int64_t begin, int64_t n, bool aligned,
                                      float s, bool target, uint64_t seed, uint64_t offset, WarpQueue<DT>& q,
                                      LaneState& st, const SharedThreshold& sh) {
  constexpr int kVec = DT::kVec;
  constexpr int kGroups = kVec / 4;
  const int lane = threadIdx.x & 31;
  const unsigned lanes_below = (1u << lane) - 1u;
  // 32-bit vector indices (a block's range is < 2^31 entries, V <= INT32_MAX): 64-bit
  // ones cost the registers that kept the kernel from spilling at 80.
  const int nvec = static_cast<int>((n + kVec - 1) / kVec);
  int queued = 0;  // warp-uniform

  for (int j0 = 0; j0 < nvec; j0 += kUnroll * kBlock) {
    uint4 raw[kUnroll];
#pragma unroll
    for (int u = 0; u < kUnroll; ++u) {
      const int j = j0 + u * kBlock + static_cast<int>(threadIdx.x);
      raw[u] = j < nvec ? load_vec<DT>(base, j, n, aligned) : DT::neg_inf_vec();
    }
    // Tile max (NaN-propagating), shared by the warp.
    float lmx = -INFINITY;
#pragma unroll
    for (int u = 0; u < kUnroll; ++u) {
#pragma unroll
      for (int k = 0; k < kVec; ++k) lmx = max_nan(lmx, DT::unpack(raw[u], k));
    }
    const float tmx = warp_max_nan(lmx);
    // A NaN flags the row (its statistics do not matter); the warp keeps looping without
    // work, as the barrier below must be reached by every warp of the block.
    if (tmx != tmx) st.nan = true;
    if (!st.nan && tmx > st.run_mx) {
      // Move the lane's sums to the new max, by merge_states' rule (shared).
      const float dx = __fsub_rn(st.run_mx, tmx);  // -inf while nothing finite was read (S == 0)
      rescale_sums(__fmul_rn(dx, s), st.S, st.T, st.S, st.T);
      if (target) {
        float unused;
        rescale_sums(__fmul_rn(dx, kLog2e), st.S1, 0.0f, st.S1, unused);
      }
      st.run_mx = tmx;
      st.m = __fmul_rn(tmx, s);
      if (!kGreedy) st.thr = fmaxf(st.thr, __fadd_rn(st.m, kNoiseMin));
    }
    if (!kGreedy) {
      // Every warp publishes its bound from this tile, the block waits for all of them
      // and for what the row's other blocks have published meanwhile (they run at the
      // same time), and then filters with the largest: the bound of the strongest
      // entries of the block, and usually of the row, before any noise is drawn.
      if (!st.nan) publish_threshold(st, sh);
      __syncthreads();
      unsigned shared_thr = 0;
      if (lane == 0) {
        shared_thr = *static_cast<volatile unsigned*>(sh.block);
        if (sh.row != nullptr) {
          const unsigned r = __ldcg(sh.row);
          shared_thr = r > shared_thr ? r : shared_thr;
        }
      }
      st.thr = fmaxf(st.thr, from_ordered_bits(__shfl_sync(kFullMask, shared_thr, 0)));
    }
    if (st.nan) continue;
    // Nothing finite read yet: no mass, no candidate. (A tempered row whose every y = x * s
    // read so far is -inf, x * s overflowing negatively, has no possible winner either: the
    // row is flagged when that holds for all of it, as on the CPU. Greedy rows compare x.)
    if (!(st.run_mx > -INFINITY) || (!kGreedy && !(st.m > -INFINITY))) continue;

    // One rolled iteration per loaded vector (the loads above are all in flight already):
    // unrolled, the candidate compaction and the queue drain (Philox and the logarithms,
    // the kernel's largest code) would be copied kUnroll times, and the copies overflowed
    // the instruction cache (ncu on H100: 37 % of warp stalls were "no instruction").
#pragma unroll 1
    for (int u = 0; u < kUnroll; ++u) {
      const int j = j0 + u * kBlock + static_cast<int>(threadIdx.x);
      // raw[u] by a select chain: a run-time index would put raw in local memory.
      uint4 v = raw[0];
#pragma unroll
      for (int uu = 1; uu < kUnroll; ++uu) v = u == uu ? raw[uu] : v;
      float y[kVec];
#pragma unroll
      for (int k = 0; k < kVec; ++k) {
        const float x = DT::unpack(v, k);
        y[k] = __fmul_rn(x, s);
        // Softmax terms as the CPU's sweep_chunk: a = (x - max) * s clamped at -126.
        const float d = __fsub_rn(x, st.run_mx);
        const float a = fmaxf(__fmul_rn(d, s), -126.0f);
        const float w = fast_exp2(a);
        st.S = __fadd_rn(st.S, w);
        st.T = __fadd_rn(st.T, __fmul_rn(w, a));
        if (target) st.S1 = __fadd_rn(st.S1, fast_exp2(fmaxf(__fmul_rn(d, kLog2e), -126.0f)));
        // (Each lane adds its terms one by one: kMinTilesPerBlock x kUnroll x kVec = 64
        // (bf16/fp16) or 32 (fp32) of them up to V ~ 1M, the chunk growing only beyond;
        // lanes, warps and splits then merge as trees. A per-vector tree sum, like the
        // CPU's per-block one, would cost registers the loads need.)
        if (kGreedy) {
          const int64_t idx = begin + j * kVec + k;
          if (x > st.best) {  // increasing index within a lane: strict keeps the first
            st.best = x;
            st.best_x = x;
            st.best_idx = idx;
          }
        }
      }
      if (!kGreedy) {
        EAD_EMU_COUNT(groups_seen, (j < nvec) ? kGroups : 0);
        // Filter 1 and compaction of the candidate groups of this vector.
#pragma unroll
        for (int g = 0; g < kGroups; ++g) {
          const float ymax = fmaxf(fmaxf(y[4 * g], y[4 * g + 1]), fmaxf(y[4 * g + 2], y[4 * g + 3]));
          const bool cand = j < nvec && __fadd_rn(ymax, kNoiseMax) >= st.thr;
          const unsigned mask = __ballot_sync(kFullMask, cand);
          if (cand) {
            const int pos = queued + __popc(mask & lanes_below);
            q.x[pos] = make_float4(DT::unpack(v, 4 * g), DT::unpack(v, 4 * g + 1),
                                   DT::unpack(v, 4 * g + 2), DT::unpack(v, 4 * g + 3));
            q.group[pos] = static_cast<uint32_t>((begin + j * kVec) / 4 + g);
          }
          queued += __popc(mask);
        }
        if (queued >= 32) {
          __syncwarp();
          do {
            queued -= 32;
            drain_queue<DT>(q, queued, 32, st, s, seed, offset);
          } while (queued >= 32);
          __syncwarp();  // the drained slots are refilled next
        }
      }
    }
  }
  if (!kGreedy && queued > 0) {
    __syncwarp();
    drain_queue<DT>(q, 0, queued, st, s, seed, offset);
  }
}

// Reduces the lanes of a warp into one RowState (valid in every lane).
__device__ __forceinline__ RowState warp_state(const LaneState& st) {
  RowState r;
  // run_mx is warp-uniform and every lane's sums are taken against it: they add up.
  // Nothing finite read: max_x = -inf, S = 0, the identity of merge_states.
  r.max_x = st.nan ? NAN : st.run_mx;
  r.S = warp_sum(st.S);
  r.T = warp_sum(st.T);
  r.S1 = warp_sum(st.S1);
  float best = st.best, best_x = st.best_x;
  long long idx = st.best_idx;
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) {
    const float ob = __shfl_xor_sync(kFullMask, best, o);
    const float ox = __shfl_xor_sync(kFullMask, best_x, o);
    const long long oi = __shfl_xor_sync(kFullMask, idx, o);
    if (beats(ob, oi, best, idx)) {
      best = ob;
      best_x = ox;
      idx = oi;
    }
  }
  r.best = best;
  r.best_x = best_x;
  r.best_idx = idx;
  return r;
}

__device__ __forceinline__ void write_result(const SampleParams& p, int64_t row, const RowState& st, float s,
                                             bool bad) {
  const RowResult res = finalize_row(st, s, bad, p.want_target);
  p.tokens[row] = res.token;
  p.logprobs[row] = res.logprob;
  if (p.target_logprobs != nullptr) p.target_logprobs[row] = res.target_logprob;
  if (p.entropy != nullptr) p.entropy[row] = res.entropy;
}

__device__ __forceinline__ RowState load_state_cg(const RowState* src) {
  // L2 loads (bypass L1): the partials were written by other blocks.
  RowState r;
  r.max_x = __ldcg(&src->max_x);
  r.S = __ldcg(&src->S);
  r.T = __ldcg(&src->T);
  r.S1 = __ldcg(&src->S1);
  r.best = __ldcg(&src->best);
  r.best_x = __ldcg(&src->best_x);
  r.best_idx = __ldcg(reinterpret_cast<const long long*>(&src->best_idx));
  return r;
}

// One block per (row, split): blockIdx.x = row * splits + split.
template <typename DT, int kThreads>
__global__ void __launch_bounds__(kThreads, kMinBlocksPerSM) sample_kernel(const SampleParams p) {
  static_assert(kThreads == kBlock, "the tile and the plan assume kBlock threads");
  constexpr int kWarps = kThreads / 32;
  __shared__ WarpQueue<DT> queues[kWarps];
  __shared__ RowState warp_states[kWarps];
  __shared__ unsigned block_thr;

  const int64_t row = blockIdx.x / p.splits;
  const int split = static_cast<int>(blockIdx.x % p.splits);
  const int warp = threadIdx.x >> 5;
  const int lane = threadIdx.x & 31;
  const DeviceRowSetup rs = device_setup_row(p, row);
  if (rs.bad) {  // bad temperature / position: no block reads the row; split 0 flags it
    if (split == 0 && threadIdx.x == 0) write_result(p, row, empty_state(), rs.s, true);
    return;
  }

  const int64_t begin = static_cast<int64_t>(split) * p.chunk;
  const int64_t end = begin + p.chunk < p.vocab ? begin + p.chunk : p.vocab;
  const auto* row_ptr = static_cast<const typename DT::storage*>(p.logits) + row * p.row_stride;
  const bool aligned = (reinterpret_cast<uintptr_t>(row_ptr) & 15u) == 0;
  const uint64_t seed = static_cast<uint64_t>(p.seeds[row]);
  const uint64_t offset = static_cast<uint64_t>(p.offsets[row]);

  // run_mx, m, S, T, S1, best, best_x, best_idx, thr, nan
  LaneState st{-INFINITY, -INFINITY, 0.0f, 0.0f, 0.0f, -INFINITY, 0.0f, -1, -INFINITY, false};
  if (threadIdx.x == 0) block_thr = 0u;
  __syncthreads();
  const SharedThreshold sh{&block_thr, p.row_thr != nullptr ? p.row_thr + row : nullptr};
  if (rs.greedy) {
    sweep<DT, true>(row_ptr + begin, begin, end - begin, aligned, rs.s, false, seed, offset, queues[warp], st, sh);
  } else {
    sweep<DT, false>(row_ptr + begin, begin, end - begin, aligned, rs.s, rs.target, seed, offset, queues[warp],
                     st, sh);
  }

  // Block reduction: lanes by shuffles, then the warps' states in one round. From here
  // on only warp 0 works: the other warps leave at once rather than wait at a barrier
  // for the split merge (ncu on H100: 16 % of warp stalls were that barrier).
  const RowState ws = warp_state(st);
  if (lane == 0) warp_states[warp] = ws;
  __syncthreads();
  if (warp != 0) return;
  const RowState w = lane < kWarps ? warp_states[lane] : empty_state();
  const RowState block_state = warp_merge_ordered<kWarps>(w, rs.s);

  if (p.splits == 1) {
    if (lane == 0) write_result(p, row, block_state, rs.s, false);
    return;
  }

  // Split row: publish the partial; the last block of the row to arrive merges them.
  unsigned prev = 0;
  if (lane == 0) {
    p.partials[row * p.splits + split] = block_state;
    __threadfence();  // the partial is visible before the count that announces it
    prev = atomicAdd(&p.counters[row], 1u);
  }
  prev = __shfl_sync(kFullMask, prev, 0);
  if (prev != static_cast<unsigned>(p.splits - 1)) return;
  __threadfence();  // acquire: the other blocks' partials are read after their counts
  // Lane l merges partials l and l + 32 (kMaxSplits <= 64), then the lanes merge in
  // vocabulary order by a shuffle tree.
  const RowState* parts = p.partials + row * p.splits;
  RowState part = lane < p.splits ? load_state_cg(parts + lane) : empty_state();
  if (lane + 32 < p.splits) part = merge_states_by_index(part, load_state_cg(parts + lane + 32), rs.s);
  part = warp_merge_ordered<32>(part, rs.s);
  if (lane == 0) write_result(p, row, part, rs.s, false);
}

// Launches the op on `stream`: zeroes the counters (when splits > 1) and runs one
// kernel; asynchronous, no host synchronisation, capturable in a CUDA graph. The
// caller fills p.partials / p.counters from a workspace of plan.workspace_bytes.
template <typename DT>
inline cudaError_t launch_sample(const SampleParams& p, const LaunchPlan& plan, cudaStream_t stream) {
  if (p.batch == 0) return cudaSuccess;
  if (plan.splits > 1) {
    // counters and row thresholds, adjacent
    const cudaError_t e = cudaMemsetAsync(p.counters, 0, 2 * static_cast<size_t>(p.batch) * sizeof(unsigned int), stream);
    if (e != cudaSuccess) return e;
  }
#if defined(EAD_CUDA_EMULATION_ACTIVE)
  (void)stream;
  ead_emu::launch(static_cast<unsigned>(plan.blocks), kBlock, [p] { sample_kernel<DT, kBlock>(p); });
#else
  sample_kernel<DT, kBlock><<<static_cast<unsigned>(plan.blocks), kBlock, 0, stream>>>(p);
#endif
  return cudaGetLastError();
}

// Fills the plan-dependent fields of p from a device workspace of
// plan.workspace_bytes (may be nullptr when the plan needs none).
inline void attach_workspace(SampleParams& p, const LaunchPlan& plan, void* workspace) {
  p.chunk = plan.chunk;
  p.splits = plan.splits;
  if (plan.splits > 1) {
    p.partials = static_cast<RowState*>(workspace);
    p.counters = reinterpret_cast<unsigned int*>(static_cast<char*>(workspace) + plan.counters_offset);
    p.row_thr = p.counters + p.batch;
  } else {
    p.partials = nullptr;
    p.counters = nullptr;
    p.row_thr = nullptr;
  }
}

}  // namespace ead::cuda
