// The CPU sampling kernel, written once with at::vec and compiled once per CPU
// capability: each sample_kernel_<cap>.cpp defines CPU_CAPABILITY and includes
// this file (the pattern of ATen's native/cpu kernels).
//
// The two-level draw of ead/sampling_math.h in two parallel loops:
//  1. pass 1 over (row, chunk) items (at::parallel_for, so a single row still
//     spreads over every core): each chunk is read from memory once for its max
//     (bf16 / fp16: converted to fp32 into an L1-resident buffer on the way), then
//     summed from L1 (chunk_sums), pipelined: the next chunk's read runs inside the
//     sums of this one;
//  2. per row: merge the chunk states in chunk order, pick the chunk, read it
//     again and pick the token inside it (pick_token), write the outputs.
// Chunk states depend only on the chunk's logits, so results do not depend on
// the batch, the row order or the thread count.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <type_traits>
#include <vector>

#include <ATen/Parallel.h>
#include <ATen/cpu/vec/functional.h>
#include <ATen/cpu/vec/vec.h>
#include <c10/util/BFloat16.h>
#include <c10/util/Exception.h>
#include <c10/util/Half.h>

#include "ead/philox.h"
#include "ead/sample_args.h"
#include "ead/sampling_math.h"
#include "philox_simd.h"
#include "sample_kernel.h"

namespace ead::cpu {
namespace CPU_CAPABILITY {

using Vec = at::vec::Vectorized<float>;
using IVec = at::vec::Vectorized<int32_t>;
constexpr int kW = Vec::size();

// Entries whose softmax terms are tree-summed before joining the running sums.
constexpr int kBlock = 64;
constexpr int kVecsPerBlock = kBlock / kW;
// Entries of the token pick that share one philox_words16 call (16 pairs).
constexpr int kPickBlock = 2 * kPhiloxGroups;
static_assert(kChunkSize % kBlock == 0 && kBlock % kW == 0 && kBlock % kPickBlock == 0,
              "chunks hold whole vectors, sum blocks and Philox blocks");

// The max of logits[0, n) (NaN if any entry is NaN), fed in blocks so that pass 1
// can read chunk k + 1 while it sums chunk k; with kStore it also converts the
// entries to fp32 into buf[0, round_up(n, kBlock)), padded with -inf (fp32 pass 1
// reads the logits in place and stores nothing). Four independent running maxima,
// one per vector of a block: one chain would wait on each NaN-propagating maximum
// (a compare and a blend after the max) and bound the loop by latency.
template <bool kStore, typename scalar_t>
struct ChunkMax {
  static constexpr int kChains = kVecsPerBlock;
  const scalar_t* x = nullptr;
  int64_t n = 0;
  float* buf = nullptr;
  Vec vmax[kChains];

  ChunkMax() = default;
  ChunkMax(const scalar_t* x_, int64_t n_, float* buf_) : x(x_), n(n_), buf(buf_) {
    for (auto& v : vmax) v = Vec(-INFINITY);
  }
  Vec load(int64_t i) const {
    Vec v;
    if constexpr (std::is_same_v<scalar_t, float>) {
      v = Vec::loadu(x + i);
    } else {
      at::vec::load_to_float(x + i, v);
    }
    if constexpr (kStore) v.store(buf + i);
    return v;
  }
  // Entries [b kBlock, (b + 1) kBlock) of the chunk: its whole vectors (the last
  // partial vector is left to finish()).
  void feed(int64_t b) {
    const int64_t i0 = b * kBlock;
    if (i0 + kBlock <= n) {
      for (int k = 0; k < kChains; ++k) vmax[k] = at::vec::maximum(vmax[k], load(i0 + k * kW));  // propagates NaN
      return;
    }
    for (int64_t i = i0; i + kW <= n && i < i0 + kBlock; i += kW) vmax[0] = at::vec::maximum(vmax[0], load(i));
  }
  int64_t blocks() const { return (n + kBlock - 1) / kBlock; }
  // The max, after every block was fed; the tail past the last whole vector here.
  float finish() {
    float lanes[kChains][kW];
    for (int k = 0; k < kChains; ++k) vmax[k].store(lanes[k]);
    float m = -INFINITY;
    bool nan = false;
    for (int k = 0; k < kChains; ++k) {
      for (int l = 0; l < kW; ++l) {
        nan |= lanes[k][l] != lanes[k][l];
        m = std::max(m, lanes[k][l]);
      }
    }
    const int64_t whole = n / kW * kW;
    for (int64_t j = whole; j < n; ++j) {
      const float v = static_cast<float>(x[j]);
      nan |= v != v;
      m = std::max(m, v);
    }
    if constexpr (kStore) {
      const int64_t padded = (n + kBlock - 1) / kBlock * kBlock;
      for (int64_t j = whole; j < padded; ++j) buf[j] = j < n ? static_cast<float>(x[j]) : -INFINITY;
    }
    return nan ? NAN : m;
  }
};

// Converts logits[0, n) to fp32 into buf (padded with -inf) and returns their max.
template <typename scalar_t>
float load_chunk(const scalar_t* x, int64_t n, float* buf) {
  ChunkMax<true, scalar_t> cm(x, n, buf);
  for (int64_t b = 0; b < cm.blocks(); ++b) cm.feed(b);
  return cm.finish();
}

// 2^a for a in [-126, 0] (callers clamp): a = n + f with n = round(a), f in
// [-1/2, 1/2]; 2^f by a degree-6 polynomial fitted for relative error on that
// interval (max 1.6e-8, a quarter of a float ulp; its constant term is exactly 1, so
// a row's max contributes exactly 1; Horner rounding ~1 ulp), 2^n from the exponent
// (n + 127 >= 1: a normal float). Sleef's exp2 (1 ulp) costs about three times as
// much, and this loop is most of the op's per-entry cost (bench_cpu.py --phases).
inline Vec exp2_clamped(const Vec& a) {
  const Vec n = a.round();
  const Vec f = a - n;
  Vec p(1.5345810970757157e-04f);
  p = at::vec::fmadd(p, f, Vec(1.3399930903688073e-03f));
  p = at::vec::fmadd(p, f, Vec(9.618489071726799e-03f));
  p = at::vec::fmadd(p, f, Vec(5.550328642129898e-02f));
  p = at::vec::fmadd(p, f, Vec(2.4022646248340607e-01f));
  p = at::vec::fmadd(p, f, Vec(6.931471824645996e-01f));
  p = at::vec::fmadd(p, f, Vec(1.0f));
#if defined(CPU_CAPABILITY_AVX512)
  // p * 2^n in one instruction (vscalefps: exact, rounded as the multiply below is).
  return Vec(_mm512_scalef_ps(p, n));
#else
  const IVec bits = (at::vec::convert_to_int_of_same_size(n) + IVec(127)) << IVec(23);
  return p * at::vec::cast<float>(bits);
#endif
}

// Pairwise sum of n vectors (n a power of two), in a fixed order.
template <int n>
inline Vec tree_sum(const Vec* v) {
  if constexpr (n == 1) {
    return v[0];
  } else {
    return tree_sum<n / 2>(v) + tree_sum<n / 2>(v + n / 2);
  }
}

inline float hsum(const Vec& v) {
  float lanes[kW];
  v.store(lanes);
  float s = 0.0f;
  for (int l = 0; l < kW; ++l) s += lanes[l];
  return s;
}

// The sums of ChunkState over buf[0, n) (fp32 logits, or a converted chunk) whose max is max_x. Each block's
// terms are summed as a tree before joining the running sums, so a lane's sum sees
// ~kChunkSize / kBlock + log2(kVecsPerBlock) roundings instead of kChunkSize / kW:
// many equal terms (a flat bulk) otherwise round the same way each time and the
// entropy drifts by ~1e-5.
// T (the entropy's sum) only when the call returns the entropy: nothing else reads it.
// Block b of the sums also feeds block b of `next` (the next chunk this thread reads:
// its max and conversion, from memory), so that pass 1's memory reads overlap its
// arithmetic (here from L1) instead of alternating with it; `next` finishes the rest.
template <bool kTarget, bool kEntropy, typename Next>
ChunkState chunk_sums(const float* buf, int64_t n, float max_x, float s, Next& next) {
  ChunkState st = empty_state();
  st.max_x = max_x;
  const int64_t n_blocks = (n + kBlock - 1) / kBlock;
  // Fully masked (no mass), NaN or +inf (the row is flagged): nothing to sum.
  if (!(max_x > -INFINITY) || !(max_x * s < INFINITY)) {
    for (int64_t b = 0; b < next.blocks(); ++b) next.feed(b);
    return st;
  }
  const Vec vs(s), vmax_x(max_x), vlog2e(kLog2e), vfloor(-126.0f);
  Vec vS(0.0f), vT(0.0f), vS1(0.0f);
  // Whole blocks in place, a short last block from a copy padded with -inf (terms 0).
  const int64_t whole = n / kBlock * kBlock;
  alignas(64) float tail[kBlock];
  for (int64_t i0 = 0; i0 < n; i0 += kBlock) {
    const float* block = buf + i0;
    if (i0 == whole) {
      for (int64_t j = 0; j < kBlock; ++j) tail[j] = whole + j < n ? buf[whole + j] : -INFINITY;
      block = tail;
    }
    if (i0 / kBlock < next.blocks()) next.feed(i0 / kBlock);
    Vec w[kVecsPerBlock], wa[kVecsPerBlock], w1[kVecsPerBlock];
    for (int v = 0; v < kVecsPerBlock; ++v) {
      const Vec d = Vec::loadu(block + v * kW) - vmax_x;
      // (no NaN here: a NaN logit makes the chunk max NaN, returned above)
      const Vec a = at::vec::clamp_min(d * vs, vfloor);
      w[v] = exp2_clamped(a);
      if constexpr (kEntropy) wa[v] = w[v] * a;
      if constexpr (kTarget) w1[v] = exp2_clamped(at::vec::clamp_min(d * vlog2e, vfloor));
    }
    vS = vS + tree_sum<kVecsPerBlock>(w);
    if constexpr (kEntropy) vT = vT + tree_sum<kVecsPerBlock>(wa);
    if constexpr (kTarget) vS1 = vS1 + tree_sum<kVecsPerBlock>(w1);
  }
  for (int64_t b = n_blocks; b < next.blocks(); ++b) next.feed(b);
  st.S = hsum(vS);
  st.T = kEntropy ? hsum(vT) : 0.0f;
  st.S1 = kTarget ? hsum(vS1) : 0.0f;
  return st;
}

// Step 1 of the draw: the chunk (sampling_math.h), or for greedy rows the first
// chunk holding the row max.
inline int64_t pick_chunk(const ChunkState* states, int64_t n_chunks, const ChunkState& row_state,
                          const RowSetup& row, uint64_t seed, uint64_t offset) {
  if (row.greedy) {
    for (int64_t c = 0; c < n_chunks; ++c) {
      if (states[c].max_x == row_state.max_x) return c;
    }
    return 0;  // unreachable for a valid row
  }
  double best = -INFINITY;
  int64_t best_c = -1;
  for (int64_t c = 0; c < n_chunks; ++c) {
    const double sc = chunk_score(states[c], row_state.max_x, row.s, seed, offset, static_cast<uint32_t>(c));
    if (sc > -INFINITY && beats(sc, c, best, best_c)) {
      best = sc;
      best_c = c;
    }
  }
  return best_c;
}

// First index i of buf[0, n) with fl(buf[i] s) == y (the chunk's largest y, whose
// entry exists: fl(x s) is monotone in x for s > 0). Padding is -inf.
inline int64_t first_equal_scaled(const float* buf, int64_t n, float s, float y) {
  const Vec vs(s), vy(y);
  for (int64_t i = 0; i < n; i += kW) {
    const int m = ~(Vec::loadu(buf + i) * vs == vy).zero_mask() & ((1 << kW) - 1);
    if (m != 0) return std::min<int64_t>(i + __builtin_ctz(m), n - 1);
  }
  return 0;  // all y are -inf (entry 0 then is the chunk's first largest y)
}

// The scaled logits y = fl(x s) of buf[b, b + kPickBlock) into y, and the entries
// that may pass filter 1 against thr, as a bit mask: a superset of
// may_reach_by_value (the bound is lowered by 1e-3 and rounded down to float), so
// the exact check still decides.
inline uint32_t value_candidates(const float* buf, float s, float lo, float (&y)[kPickBlock]) {
  const Vec vs(s), vlo(lo);
  uint32_t mask = 0;
  for (int v = 0; v < kPickBlock / kW; ++v) {
    const Vec yv = Vec::loadu(buf + v * kW) * vs;
    yv.store(y + v * kW);
    const uint32_t m = ~(yv >= vlo).zero_mask() & ((1u << kW) - 1);
    mask |= m << (v * kW);
  }
  return mask;
}

// The entries of the block that may pass filter 2 against thr, given their words:
// a superset of may_reach_by_noise (thr rounded down to float, a wider margin of
// 0.02 log2 units for the float subtraction and exp2; gaps above -0.02 always pass).
inline uint32_t noise_candidates(const float (&y)[kPickBlock], float thr_lo,
                                 const uint32_t (&words)[4][kPhiloxGroups]) {
  alignas(64) float clb[kPickBlock];
  for (int j = 0; j < kPickBlock; ++j) {
    const uint64_t hi = static_cast<uint64_t>(words[2 * (j & 1)][j >> 1]) << 32;
    clb[j] = complement_lower_bound(hi);
  }
  const Vec vthr(thr_lo), vmargin(0.02f), vzero(0.0f), vfloor(-126.0f), vln2(kLn2);
  uint32_t mask = 0;
  for (int v = 0; v < kPickBlock / kW; ++v) {
    const Vec gap = Vec::loadu(y + v * kW) - vthr + vmargin;
    const Vec bound = vln2 * exp2_clamped(at::vec::clamp(gap, vfloor, vzero));
    const Vec pass = (gap > vzero) | (Vec::loadu(clb + v * kW) <= bound);
    mask |= (~pass.zero_mask() & ((1u << kW) - 1)) << (v * kW);
  }
  return mask;
}

// The largest float <= x.
inline float float_below(double x) {
  const float f = static_cast<float>(x);
  return static_cast<double>(f) > x ? std::nextafter(f, -INFINITY) : f;
}

// Step 2 of the draw over the converted chosen chunk buf[0, n) (entry 0 is
// vocabulary index `begin`, chunk_max its largest logit): returns the chunk-local
// index of the token. The score of the chunk's largest y seeds thr; per block of
// 32 entries, vector prefilters (supersets of filters 1 and 2) pick the entries
// that get the exact filters and, the few that pass, the logarithms; a Philox call
// only for blocks with an entry that passes filter 1.
inline int64_t pick_token(const float* buf, int64_t n, int64_t begin, float chunk_max, const RowSetup& row,
                          uint64_t seed, uint64_t offset) {
  if (row.greedy) return first_equal_scaled(buf, n, 1.0f, chunk_max);
  const float s = row.s;
  int64_t best = first_equal_scaled(buf, n, s, chunk_max * s);
  double thr = entry_score(buf[best] * s, entry_word(seed, offset, static_cast<uint32_t>(begin + best)));
  for (int64_t b = 0; b < n; b += kPickBlock) {
    const uint32_t in_chunk = n - b >= kPickBlock ? ~0u : (1u << (n - b)) - 1;
    alignas(64) float y[kPickBlock];
    uint32_t cand = value_candidates(buf + b, s, float_below(thr - kNoiseMax - 1e-3), y) & in_chunk;
    if (b <= best && best < b + kPickBlock) cand &= ~(1u << (best - b));
    if (cand == 0) continue;
    uint32_t words[4][kPhiloxGroups];
    philox_words16(seed, offset, kLevelToken, static_cast<uint32_t>((begin + b) >> 1), words);
    cand &= noise_candidates(y, float_below(thr), words);
    for (; cand != 0; cand &= cand - 1) {
      const int j = __builtin_ctz(cand);
      const int64_t i = b + j;
      const uint64_t w = static_cast<uint64_t>(words[2 * (j & 1)][j >> 1]) << 32 | words[2 * (j & 1) + 1][j >> 1];
      if (!may_reach_by_value(y[j], thr) || !may_reach_by_noise(y[j], thr, w)) continue;
      const double sc = entry_score(y[j], w);
      if (beats(sc, i, thr, best)) {
        thr = sc;
        best = i;
      }
    }
  }
  return best;
}

// The phases of one call, for the benchmark's per-phase profile (bench/cpu_phases.cpp): the kernel
// takes a probe whose begin / end bracket each phase on the calling thread. The op's probe does
// nothing and compiles away. kLoad is the read of each thread's first chunk; kSums the sums of
// every chunk with the pipelined read of the next.
enum class Phase : int { kSetup, kLoad, kSums, kPickChunk, kReload, kPickToken, kFinalize, kCount };
struct NoProbe {
  void begin(Phase) {}
  void end(Phase) {}
};

template <typename scalar_t, typename Probe = NoProbe>
void sample_rows_typed(const SampleArgs& a, Probe& probe) {
  const auto* logits = static_cast<const scalar_t*>(a.logits);
  const int64_t n_chunks = num_chunks(a.vocab);
  probe.begin(Phase::kSetup);
  std::vector<RowSetup> rows(a.batch);
  for (int64_t r = 0; r < a.batch; ++r) rows[r] = setup_row(a, r);
  std::vector<ChunkState> states(a.batch * n_chunks);
  probe.end(Phase::kSetup);
  auto chunk_len = [&](int64_t c) { return chunk_length(a.vocab, c); };
  const bool entropy = a.entropy != nullptr;
  constexpr bool kConvert = !std::is_same_v<scalar_t, float>;  // fp32 chunks are summed in place
  using Max = ChunkMax<kConvert, scalar_t>;
  auto sums = [entropy](const float* buf, int64_t n, float max_x, const RowSetup& row, Max& next) {
    if (row.target) {
      return entropy ? chunk_sums<true, true>(buf, n, max_x, row.s, next)
                     : chunk_sums<true, false>(buf, n, max_x, row.s, next);
    }
    return entropy ? chunk_sums<false, true>(buf, n, max_x, row.s, next)
                   : chunk_sums<false, false>(buf, n, max_x, row.s, next);
  };
  auto chunk_at = [&](int64_t item) { return logits + (item / n_chunks) * a.row_stride + (item % n_chunks) * kChunkSize; };

  // Pass 1 over this thread's (row, chunk) items, pipelined: while item k is summed (from L1
  // or its converted buffer), block by block, item k + 1 is read from memory, its max taken
  // (and, for bf16 / fp16, converted into the other buffer). Items of flagged rows are skipped.
  at::parallel_for(0, a.batch * n_chunks, 1, [&](int64_t lo, int64_t hi) {
    std::vector<float> bufs(kConvert ? 2 * kChunkSize : 0);
    float* buf[2] = {bufs.data(), kConvert ? bufs.data() + kChunkSize : nullptr};
    auto valid_from = [&](int64_t item) {
      for (; item < hi && rows[item / n_chunks].bad; ++item) states[item] = empty_state();
      return item;
    };
    int64_t item = valid_from(lo);
    if (item >= hi) return;
    probe.begin(Phase::kLoad);
    Max first(chunk_at(item), chunk_len(item % n_chunks), buf[0]);
    for (int64_t b = 0; b < first.blocks(); ++b) first.feed(b);
    float max_x = first.finish();
    probe.end(Phase::kLoad);
    for (int which = 0;; which ^= 1) {
      const int64_t following = valid_from(item + 1);
      Max next = following < hi ? Max(chunk_at(following), chunk_len(following % n_chunks), buf[1 - which]) : Max();
      probe.begin(Phase::kSums);
      const float* data;
      if constexpr (kConvert) {
        data = buf[which];
      } else {
        data = chunk_at(item);
      }
      states[item] = sums(data, chunk_len(item % n_chunks), max_x, rows[item / n_chunks], next);
      if (following < hi) max_x = next.finish();
      probe.end(Phase::kSums);
      if (following >= hi) break;
      item = following;
    }
  });

  // Per row: merge the chunk states, pick the chunk, read it again, pick the token, finalise.
  at::parallel_for(0, a.batch, 1, [&](int64_t lo, int64_t hi) {
    std::vector<float> buf(kChunkSize);
    for (int64_t r = lo; r < hi; ++r) {
      const RowSetup& row = rows[r];
      const ChunkState* st = states.data() + r * n_chunks;
      probe.begin(Phase::kPickChunk);
      ChunkState merged = st[0];
      for (int64_t c = 1; c < n_chunks; ++c) merged = merge_states(merged, st[c], row.s);
      if (row_is_invalid(merged, row)) {
        probe.end(Phase::kPickChunk);
        store_result(a, r, invalid_result());
        continue;
      }
      const uint64_t seed = static_cast<uint64_t>(a.seeds[r]);
      const uint64_t offset = static_cast<uint64_t>(a.offsets[r]);
      const int64_t c = pick_chunk(st, n_chunks, merged, row, seed, offset);
      probe.end(Phase::kPickChunk);
      const int64_t begin = c * kChunkSize;
      probe.begin(Phase::kReload);
      load_chunk(logits + r * a.row_stride + begin, chunk_len(c), buf.data());
      probe.end(Phase::kReload);
      probe.begin(Phase::kPickToken);
      const int64_t i = pick_token(buf.data(), chunk_len(c), begin, st[c].max_x, row, seed, offset);
      probe.end(Phase::kPickToken);
      probe.begin(Phase::kFinalize);
      store_result(a, r, finalize_row(merged, row, begin + i, buf[i], a.want_target));
      probe.end(Phase::kFinalize);
    }
  });
}

template <typename Probe>
void sample_rows_probed(const SampleArgs& a, Probe& probe) {
  switch (a.dtype) {
    case LogitsDtype::kFloat32:
      return sample_rows_typed<float>(a, probe);
    case LogitsDtype::kBFloat16:
      return sample_rows_typed<c10::BFloat16>(a, probe);
    case LogitsDtype::kFloat16:
      return sample_rows_typed<c10::Half>(a, probe);
  }
  TORCH_CHECK(false, "ead::sample: unsupported logits dtype");
}

void sample_rows(const SampleArgs& a) {
  NoProbe probe;
  sample_rows_probed(a, probe);
}

}  // namespace CPU_CAPABILITY
}  // namespace ead::cpu
