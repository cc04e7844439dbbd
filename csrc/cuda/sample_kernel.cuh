// The CUDA kernel of ead::sample, framework-free (no torch): templated on the
// logits dtype, launched by csrc/cuda/sample_cuda.cu (the torch op) and by
// csrc/cuda/standalone_check.cu (the CI compile check and a torch-free
// self-test). The algorithm, its formulas and why it is exact are in
// ead/sampling_math.h (the two-level draw); this file is how a GPU runs it.
//
// One launch, grid = batch x blocks_per_row, blocks of kBlock = 256 threads.
// Block g of a row owns chunks [g cpb, (g + 1) cpb) (cpb = chunks_per_block,
// chosen from the batch size by plan_launch so that B = 1 still fills the GPU):
//  * chunk_pass: one warp per chunk reads its 2048 entries once (16-byte
//    streaming loads, kUnroll in flight per lane), keeps a per-lane online max
//    and sums, and merges the lanes by a fixed butterfly: the chunk's ChunkState
//    depends on the chunk's logits only, not on B, the grid or cpb, so a row's
//    outputs are bitwise identical in any batch. The states go to the workspace.
//  * arrive_last: the blocks of a row take an atomic ticket; the last one to
//    arrive finishes the row (no second launch, no host synchronisation).
//  * finish_row, in the last block: merge_row (warp 0, fixed order), pick_chunk
//    (warp 0: Gumbel argmax over the chunks, or the first chunk holding the max
//    for greedy rows), pick_token (all 256 threads re-read the chosen chunk,
//    8 entries each, seeded by the exact score of each thread's largest entry and
//    filtered exactly: only a few entries compute logarithms), store_result.
// No random numbers are drawn in pass 1, so the kernel costs about one read of
// the logits plus one chunk per row.
//
// Arithmetic: every product and sum of the chunk sums is rounded once (written
// with __fmul_rn / __fadd_rn / __fsub_rn, which nvcc never contracts into an
// FMA, and the op is built with -fmad=false for the shared header's merge and
// finalisation), as the CPU's -ffp-contract=off. The terms use ex2.approx
// (fast_exp2): a few ulps on the sums, never a token except at the near-ties the
// header describes.
#pragma once
#include <cstddef>
#include <cstdint>

#if !defined(EAD_CUDA_EMULATION_ACTIVE)
#include <cuda_runtime.h>
#endif

#include "ead/cuda_helpers.cuh"
#include "ead/philox.h"
#include "ead/sample_args.h"
#include "ead/sampling_math.h"

// Work counters of the CPU emulation (csrc/cuda/emulation): how much of the
// chosen chunks the exact filters leave to score. No code on the GPU.
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

struct F32 {
  using storage = float;
  static constexpr int kVec = 4;
  static constexpr const char* name = "float32";
  __device__ __forceinline__ static float unpack(const uint4& v, int k) {
    return __uint_as_float(word_of(v, k));
  }
  __device__ __forceinline__ static storage neg_inf() { return __uint_as_float(0xff800000u); }
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
};

// ---------------------------------------------------------------------------
// Launch geometry.

// 256 threads: 8 warps, one chunk each in pass 1, and 8 entries a thread when
// the last block re-reads a chunk (kChunkSize / kBlock).
constexpr int kBlock = 256;
constexpr int kWarps = kBlock / 32;
// 16-byte loads in flight per lane in pass 1: 16 registers of logits, so that
// 3 blocks fit an SM (<= 80 registers a thread) with 48 KB of loads in flight per
// SM, above the ~20-25 KB that DRAM latency x per-SM bandwidth asks for.
constexpr int kUnroll = 4;
constexpr int kMinBlocksPerSM = 3;
// Entries a thread scores in the token pick.
constexpr int kPickPerThread = static_cast<int>(kChunkSize / kBlock);
// plan_launch shrinks chunks_per_block until the grid has this many blocks
// (2 per SM of an H100), so that small batches still spread over the GPU.
constexpr int64_t kTargetBlocks = 264;

static_assert(kChunkSize % (32 * 8 * kUnroll) == 0, "a chunk is whole unrolled vector rounds of a warp");
static_assert(kChunkSize == static_cast<int64_t>(kBlock) * kPickPerThread && kPickPerThread % 8 == 0,
              "the token pick gives every thread whole vectors and Philox pairs");

struct LaunchPlan {
  int64_t n_chunks;        // chunks per row (ead::num_chunks)
  int chunks_per_block;
  int blocks_per_row;
  int64_t blocks;          // grid size: batch x blocks_per_row
  size_t tickets_offset;   // byte offset of the tickets in the workspace (after the chunk states)
  size_t workspace_bytes;  // chunk states [batch, n_chunks] + tickets [batch]
};

// How the work is cut (host side). Only the grouping of chunks into blocks
// depends on the batch, never a chunk's arithmetic or the merge order, so the
// choice is free: 8 chunks a block (every warp busy) once the batch fills the
// GPU, fewer when it does not (B = 1, V = 151,936: 75 blocks of one chunk).
// `chunks_per_block` > 0 forces the grouping (the self-test checks that it
// leaves the outputs bitwise unchanged).
inline LaunchPlan plan_launch(int64_t batch, int64_t vocab, int chunks_per_block = 0) {
  LaunchPlan p{};
  p.n_chunks = num_chunks(vocab);
  int64_t cpb = chunks_per_block;
  if (cpb <= 0) {
    cpb = batch * p.n_chunks / kTargetBlocks;
    if (cpb > kWarps) cpb = kWarps;
  }
  if (cpb > p.n_chunks) cpb = p.n_chunks;
  if (cpb < 1) cpb = 1;
  p.chunks_per_block = static_cast<int>(cpb);
  p.blocks_per_row = static_cast<int>((p.n_chunks + cpb - 1) / cpb);
  p.blocks = batch * p.blocks_per_row;
  const size_t states = static_cast<size_t>(batch) * static_cast<size_t>(p.n_chunks) * sizeof(ChunkState);
  p.tickets_offset = (states + 15) / 16 * 16;
  p.workspace_bytes = p.tickets_offset + static_cast<size_t>(batch) * sizeof(unsigned int);
  return p;
}

// Fills the workspace fields of `a` from a device buffer of plan.workspace_bytes
// (16-byte aligned).
inline void attach_workspace(SampleArgs& a, const LaunchPlan& plan, void* workspace) {
  a.chunk_states = static_cast<ChunkState*>(workspace);
  a.tickets = reinterpret_cast<unsigned int*>(static_cast<char*>(workspace) + plan.tickets_offset);
  a.chunks_per_block = plan.chunks_per_block;
  a.blocks_per_row = plan.blocks_per_row;
}

// ---------------------------------------------------------------------------
// Device code.

// Vector j (entries [j kVec, (j + 1) kVec)) of a chunk of n entries; entries
// past n read as -inf. `aligned`: the row starts on a 16-byte boundary (then so
// does every vector, as chunks start at multiples of kChunkSize); otherwise the
// same entries are read one by one, so both paths feed the same arithmetic.
// kStream: pass 1 reads the logits once (evict-first); the token pick's re-read
// goes through L2, where the chunk may still be.
template <typename DT, bool kStream>
__device__ __forceinline__ uint4 load_vec(const typename DT::storage* chunk, int j, int n, bool aligned) {
  constexpr int kVec = DT::kVec;
  const int e0 = j * kVec;
  if (aligned && e0 + kVec <= n) {
    const uint4* p = reinterpret_cast<const uint4*>(chunk + e0);
    return kStream ? __ldcs(p) : __ldcg(p);
  }
  union {
    uint4 v;
    typename DT::storage s[kVec];
  } u;
#pragma unroll
  for (int k = 0; k < kVec; ++k) u.s[k] = (e0 + k < n) ? chunk[e0 + k] : DT::neg_inf();
  return u.v;
}

// Pairwise sum in a fixed order: a vector's terms are added as a tree before
// joining the lane's running sum, so a lane's sum takes ~8 roundings rather
// than 64 (a flat bulk of equal terms otherwise rounds the same way each time).
template <int kN>
__device__ __forceinline__ float tree_sum(float (&v)[kN]) {
#pragma unroll
  for (int h = kN / 2; h >= 1; h /= 2) {
#pragma unroll
    for (int i = 0; i < h; ++i) v[i] = __fadd_rn(v[i], v[i + h]);
  }
  return v[0];
}

// Adds one vector's terms against the lane max m (sampling_math.h ChunkState:
// a = max(fl(fl(x - m) s), -126), S += 2^a, T += 2^a a, S1 at tau = 1).
template <typename DT, bool kTarget>
__device__ __forceinline__ void add_terms(const uint4& v, float m, float s, float& S, float& T, float& S1) {
  constexpr int kVec = DT::kVec;
  float w[kVec], wa[kVec], w1[kVec];
#pragma unroll
  for (int k = 0; k < kVec; ++k) {
    const float d = __fsub_rn(DT::unpack(v, k), m);
    const float a = fmaxf(__fmul_rn(d, s), -126.0f);
    w[k] = fast_exp2(a);
    wa[k] = __fmul_rn(w[k], a);
    w1[k] = kTarget ? fast_exp2(fmaxf(__fmul_rn(d, kLog2e), -126.0f)) : 0.0f;
  }
  S = __fadd_rn(S, tree_sum(w));
  T = __fadd_rn(T, tree_sum(wa));
  if (kTarget) S1 = __fadd_rn(S1, tree_sum(w1));
}

// Pass 1 of one chunk (n entries) by one warp: its ChunkState, in every lane.
// Lane l reads vectors l, l + 32, ... (coalesced) kUnroll at a time. Each lane
// sums against its own running max, moved with rescale_sums when it grows, so
// the loop has no shuffles and no barriers; the lanes then merge by the fixed
// butterfly. Everything depends on the chunk only (the batch invariance).
template <typename DT, bool kTarget>
__device__ __forceinline__ ChunkState chunk_pass(const typename DT::storage* chunk, int n, bool aligned, float s) {
  constexpr int kVec = DT::kVec;
  constexpr int kVecsPerLane = static_cast<int>(kChunkSize / (32 * kVec));
  const int lane = threadIdx.x & 31;
  float m = -INFINITY, S = 0.0f, T = 0.0f, S1 = 0.0f;
#pragma unroll 1
  for (int g = 0; g < kVecsPerLane; g += kUnroll) {
    uint4 raw[kUnroll];
#pragma unroll
    for (int u = 0; u < kUnroll; ++u) raw[u] = load_vec<DT, true>(chunk, lane + 32 * (g + u), n, aligned);
    float gm = -INFINITY;
#pragma unroll
    for (int u = 0; u < kUnroll; ++u) {
#pragma unroll
      for (int k = 0; k < kVec; ++k) gm = max_nan(gm, DT::unpack(raw[u], k));
    }
    if (gm > m) {
      // merge_states' rule; m = -inf (nothing finite read yet) has S = 0 and drops out.
      const float dx = __fsub_rn(m, gm);
      rescale_sums(__fmul_rn(dx, s), S, T, S, T);
      if (kTarget) {
        float unused;
        rescale_sums(__fmul_rn(dx, kLog2e), S1, 0.0f, S1, unused);
      }
      m = gm;
    } else if (gm != gm) {
      m = gm;  // a NaN flags the row: its sums no longer matter
    }
    // Nothing finite yet (a masked stretch or the chunk's padding), or NaN: no terms.
    if (!(m > -INFINITY)) continue;
#pragma unroll
    for (int u = 0; u < kUnroll; ++u) add_terms<DT, kTarget>(raw[u], m, s, S, T, S1);
  }
  return warp_merge(ChunkState{m, S, T, S1}, s);
}

// The row's logits and its chunk geometry, as every block of the row sees it.
template <typename DT>
struct RowView {
  const typename DT::storage* x;
  bool aligned;
  int64_t n_chunks;
  int64_t vocab;
  __device__ __forceinline__ int chunk_len(int64_t c) const { return static_cast<int>(chunk_length(vocab, c)); }
};

template <typename DT>
__device__ __forceinline__ RowView<DT> row_view(const SampleArgs& a, int64_t row) {
  RowView<DT> v;
  v.x = static_cast<const typename DT::storage*>(a.logits) + row * a.row_stride;
  v.aligned = (reinterpret_cast<uintptr_t>(v.x) & 15u) == 0;
  v.n_chunks = num_chunks(a.vocab);
  v.vocab = a.vocab;
  return v;
}

// Pass 1 of the block's chunks: warp w takes chunks first + w, first + w + 8, ...
// (one each at chunks_per_block <= 8) and stores their states in the workspace.
template <typename DT>
__device__ __forceinline__ void block_chunks(const SampleArgs& a, int64_t row, int group, const RowSetup& rs,
                                             const RowView<DT>& v) {
  const int warp = threadIdx.x >> 5;
  const int64_t first = static_cast<int64_t>(group) * a.chunks_per_block;
  int64_t end = first + a.chunks_per_block;
  if (end > v.n_chunks) end = v.n_chunks;
  for (int64_t c = first + warp; c < end; c += kWarps) {
    const typename DT::storage* chunk = v.x + c * kChunkSize;
    const int n = v.chunk_len(c);
    const ChunkState st = rs.target ? chunk_pass<DT, true>(chunk, n, v.aligned, rs.s)
                                    : chunk_pass<DT, false>(chunk, n, v.aligned, rs.s);
    if ((threadIdx.x & 31) == 0) a.chunk_states[row * v.n_chunks + c] = st;
  }
}

// Shared memory of a block: the last-block flag, the chosen chunk and the row
// max broadcast by warp 0, and one slot per warp for each of the token pick's
// two block reductions (separate, so the second needs no barrier before it).
struct BlockShared {
  bool last;
  int chunk;
  float row_max;
  Candidate best[2][kWarps];
};

// Every block of the row calls it once, after pass 1 (block-uniform result).
// Returns true in the last block to arrive, which then sees every chunk state of
// the row: the writers' fences order their states before the ticket (release),
// the last block's fence orders its reads after it (acquire). A one-block row
// needs only the barrier.
__device__ __forceinline__ bool arrive_last(const SampleArgs& a, int64_t row, BlockShared& sh) {
  if (a.blocks_per_row == 1) {
    __syncthreads();
    return true;
  }
  __threadfence();
  __syncthreads();
  if (threadIdx.x == 0) sh.last = atomicAdd(&a.tickets[row], 1u) == static_cast<unsigned>(a.blocks_per_row - 1);
  __syncthreads();
  if (!sh.last) return false;
  __threadfence();
  return true;
}

// Other blocks wrote the states: read them from L2 (bypassing a stale L1).
__device__ __forceinline__ ChunkState load_state(const ChunkState* p) {
  const float4 v = __ldcg(reinterpret_cast<const float4*>(p));
  return ChunkState{v.x, v.y, v.z, v.w};
}

// Step 2 of the file comment, by one warp: lane l merges chunks l, l + 32, ...
// in order, then the lanes merge by the butterfly; the order depends only on
// the number of chunks, so the row's statistics are reproducible. Every lane
// gets the merged state.
__device__ __forceinline__ ChunkState merge_row(const ChunkState* states, int64_t n_chunks, float s) {
  ChunkState st = empty_state();
  for (int64_t c = threadIdx.x & 31; c < n_chunks; c += 32) st = merge_states(st, load_state(states + c), s);
  return warp_merge(st, s);
}

// Step 1 of the draw, by one warp (sampling_math.h): the chunk of the largest
// chunk_score, ties to the lowest index (each lane scores its chunks, then an
// order-free reduction); greedy rows take the first chunk whose max is the row
// max (score 0 for those, so the same reduction keeps the lowest). -1 if none.
__device__ __forceinline__ int pick_chunk(const ChunkState* states, int64_t n_chunks, const ChunkState& row,
                                          const RowSetup& rs, uint64_t seed, uint64_t offset) {
  Candidate best{-INFINITY, -1, 0.0f};
  for (int64_t c = threadIdx.x & 31; c < n_chunks; c += 32) {
    const ChunkState cs = load_state(states + c);
    const int ci = static_cast<int>(c);
    if (rs.greedy) {
      if (best.index < 0 && cs.max_x == row.max_x) best = Candidate{0.0, ci, 0.0f};
      continue;
    }
    const double sc = chunk_score(cs, row.max_x, rs.s, seed, offset, static_cast<uint32_t>(ci));
    if (sc > -INFINITY && beats(sc, ci, best.score, best.index)) best = Candidate{sc, ci, 0.0f};
  }
  return warp_best(best).index;
}

// The block's best candidate, in every thread (slots: one per warp).
__device__ __forceinline__ Candidate block_best(Candidate c, Candidate (&slots)[kWarps]) {
  c = warp_best(c);
  if ((threadIdx.x & 31) == 0) slots[threadIdx.x >> 5] = c;
  __syncthreads();
  Candidate b = slots[0];
#pragma unroll
  for (int w = 1; w < kWarps; ++w) {
    if (beats(slots[w].score, slots[w].index, b.score, b.index)) b = slots[w];
  }
  return b;
}

// Step 2 of the draw over chunk [begin, begin + n) of the row, by the whole
// block: thread t holds entries 8t .. 8t + 7. Returns the token and its raw
// logit in every thread.
//  * greedy: the first entry equal to the row max (the row's first argmax, as
//    the chunk is the first holding it);
//  * tempered: argmax of entry_score. Each thread first scores its largest y
//    exactly (first on ties); the block's best of those, thr, is a score that is
//    reached, so an entry that cannot reach max(thr, the thread's best) cannot
//    win and is skipped (may_reach_by_value before the Philox call, may_reach_by_noise
//    before the logarithms). The winner is that of a full evaluation, bit for bit.
template <typename DT>
__device__ __forceinline__ Candidate pick_token(const typename DT::storage* chunk, int64_t begin, int n,
                                                bool aligned, const RowSetup& rs, float row_max, uint64_t seed,
                                                uint64_t offset, BlockShared& sh) {
  constexpr int kVec = DT::kVec;
  constexpr int kPer = kPickPerThread;
  const int first = static_cast<int>(threadIdx.x) * kPer;  // chunk-local index of x[0]
  const int base = static_cast<int>(begin) + first;         // its vocabulary index (V <= INT32_MAX)
  float x[kPer];
#pragma unroll
  for (int j = 0; j < kPer / kVec; ++j) {
    const uint4 raw = load_vec<DT, false>(chunk, static_cast<int>(threadIdx.x) * (kPer / kVec) + j, n, aligned);
#pragma unroll
    for (int k = 0; k < kVec; ++k) x[j * kVec + k] = DT::unpack(raw, k);
  }

  if (rs.greedy) {
    Candidate c{0.0, -1, 0.0f};
#pragma unroll
    for (int k = kPer - 1; k >= 0; --k) {
      if (first + k < n && x[k] == row_max) c = Candidate{0.0, base + k, x[k]};
    }
    return block_best(c, sh.best[0]);
  }

  // y = x s is recomputed where needed rather than kept: 8 registers fewer at
  // the peak (the double logarithms), which kept the kernel from spilling.
  const float s = rs.s;
  int kb = 0;
  float xb = x[0];
#pragma unroll
  for (int k = 1; k < kPer; ++k) {
    if (__fmul_rn(x[k], s) > __fmul_rn(xb, s)) {
      kb = k;
      xb = x[k];
    }
  }
  // Padding lies past the valid entries and reads -inf, so kb is valid whenever
  // the thread holds a valid entry. An all -inf chunk (possible only when x s
  // underflows there but not at the row max) gives its first entry, score -inf.
  Candidate mine{-INFINITY, -1, 0.0f};
  if (first < n) {
    const float yb = __fmul_rn(xb, s);
    mine.index = base + kb;
    mine.x = xb;
    if (yb > -INFINITY) {
      mine.score = entry_score(yb, entry_word(seed, offset, static_cast<uint32_t>(mine.index)));
      EAD_EMU_COUNT(entries_scored, 1);
    }
  }
  EAD_EMU_COUNT(entries_picked, first < n ? (n - first < kPer ? n - first : kPer) : 0);
  double thr = block_best(mine, sh.best[0]).score;
  if (mine.score > thr) thr = mine.score;

#pragma unroll 1
  for (int p = 0; p < kPer / 2; ++p) {
    // x[2p], x[2p + 1] by a select chain (a run-time index would put x in local
    // memory).
    float x0 = x[0], x1 = x[1];
#pragma unroll
    for (int q = 1; q < kPer / 2; ++q) {
      if (q == p) {
        x0 = x[2 * q];
        x1 = x[2 * q + 1];
      }
    }
    const float y0 = __fmul_rn(x0, s), y1 = __fmul_rn(x1, s);
    const bool t0 = 2 * p != kb && first + 2 * p < n && may_reach_by_value(y0, thr);
    const bool t1 = 2 * p + 1 != kb && first + 2 * p + 1 < n && may_reach_by_value(y1, thr);
    if (!t0 && !t1) continue;
    const Philox4x32Out words = pair_words(seed, offset, kLevelToken, static_cast<uint32_t>(base + 2 * p) >> 1);
    EAD_EMU_COUNT(pairs_drawn, 1);
#pragma unroll
    for (int h = 0; h < 2; ++h) {
      const float yh = h == 0 ? y0 : y1;
      const uint64_t w = word_of_pair(words, h);
      if (!(h == 0 ? t0 : t1) || !may_reach_by_value(yh, thr) || !may_reach_by_noise(yh, thr, w)) continue;
      const double sc = entry_score(yh, w);
      EAD_EMU_COUNT(entries_scored, 1);
      const int idx = base + 2 * p + h;
      if (beats(sc, idx, mine.score, mine.index)) mine = Candidate{sc, idx, h == 0 ? x0 : x1};
      if (sc > thr) thr = sc;
    }
  }
  return block_best(mine, sh.best[1]);
}

// Steps 2-5 of the brief in the row's last block: merge, flag, pick the chunk
// (warp 0, then broadcast), pick the token (whole block), write. Rows with a bad
// temperature or position read nothing and are flagged here, by the same block
// that would otherwise finish them, so nothing else races on their outputs.
template <typename DT>
__device__ __forceinline__ void finish_row(const SampleArgs& a, int64_t row, const RowSetup& rs,
                                           const RowView<DT>& v, BlockShared& sh) {
  if (rs.bad) {
    if (threadIdx.x == 0) store_result(a, row, invalid_result());
    return;
  }
  const uint64_t seed = static_cast<uint64_t>(a.seeds[row]);
  const uint64_t offset = static_cast<uint64_t>(a.offsets[row]);
  const ChunkState* states = a.chunk_states + row * v.n_chunks;
  ChunkState merged = empty_state();  // valid in warp 0 (thread 0 writes the result)
  if (threadIdx.x < 32) {
    merged = merge_row(states, v.n_chunks, rs.s);
    const int chunk = row_is_invalid(merged, rs) ? -1 : pick_chunk(states, v.n_chunks, merged, rs, seed, offset);
    if (threadIdx.x == 0) {
      sh.chunk = chunk;
      sh.row_max = merged.max_x;
    }
  }
  __syncthreads();
  const int chunk = sh.chunk;
  if (chunk < 0) {  // flagged row (a valid row always has a chunk with mass: its max's)
    if (threadIdx.x == 0) store_result(a, row, invalid_result());
    return;
  }
  const int64_t begin = static_cast<int64_t>(chunk) * kChunkSize;
  const Candidate t =
      pick_token<DT>(v.x + begin, begin, v.chunk_len(chunk), v.aligned, rs, sh.row_max, seed, offset, sh);
  if (threadIdx.x == 0) store_result(a, row, finalize_row(merged, rs, t.index, t.x, a.want_target));
}

// One block per (row, chunk group): blockIdx.x = row x blocks_per_row + group.
template <typename DT>
__global__ void __launch_bounds__(kBlock, kMinBlocksPerSM) sample_kernel(const SampleArgs a) {
  __shared__ BlockShared sh;
  const int64_t row = static_cast<int64_t>(blockIdx.x) / a.blocks_per_row;
  const int group = static_cast<int>(static_cast<int64_t>(blockIdx.x) % a.blocks_per_row);
  const RowSetup rs = setup_row(a, row);
  const RowView<DT> v = row_view<DT>(a, row);
  if (!rs.bad) block_chunks<DT>(a, row, group, rs, v);
  if (!arrive_last(a, row, sh)) return;
  finish_row<DT>(a, row, rs, v, sh);
}

template <typename DT>
inline void launch_typed(const SampleArgs& a, const LaunchPlan& plan, cudaStream_t stream) {
#if defined(EAD_CUDA_EMULATION_ACTIVE)
  (void)stream;
  ead_emu::launch(static_cast<unsigned>(plan.blocks), kBlock, [a] { sample_kernel<DT>(a); });
#else
  sample_kernel<DT><<<static_cast<unsigned>(plan.blocks), kBlock, 0, stream>>>(a);
#endif
}

// Launches the op on `stream`: zeroes the tickets (when rows span several
// blocks) and runs the kernel. Asynchronous, no host synchronisation, so it can
// be captured in a CUDA graph (the memset becomes a graph node). `a` carries the
// workspace (attach_workspace).
inline cudaError_t launch_sample(const SampleArgs& a, const LaunchPlan& plan, cudaStream_t stream) {
  if (a.batch == 0) return cudaSuccess;
  if (plan.blocks_per_row > 1) {
    const cudaError_t e = cudaMemsetAsync(a.tickets, 0, static_cast<size_t>(a.batch) * sizeof(unsigned int), stream);
    if (e != cudaSuccess) return e;
  }
  switch (a.dtype) {
    case LogitsDtype::kFloat32:
      launch_typed<F32>(a, plan, stream);
      break;
    case LogitsDtype::kBFloat16:
      launch_typed<BF16>(a, plan, stream);
      break;
    case LogitsDtype::kFloat16:
      launch_typed<F16>(a, plan, stream);
      break;
  }
  return cudaGetLastError();
}

}  // namespace ead::cuda
