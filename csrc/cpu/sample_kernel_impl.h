// The CPU sampling kernel, written once with at::vec and compiled once per CPU
// capability: each sample_kernel_<cap>.cpp defines CPU_CAPABILITY and includes
// this file (the pattern of ATen's native/cpu kernels).
//
// The two-level draw of ead/sampling_math.h in two parallel loops:
//  1. pass 1 over (row, chunk) items (at::parallel_for, so a single row still
//     spreads over every core): each chunk is read from memory once, converted to
//     fp32 into an L1-resident buffer with its max, and summed (chunk_sums);
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

// Converts logits[0, n) to fp32 into buf[0, round_up(n, kBlock)), padded with
// -inf; returns the max (NaN if any entry is NaN).
template <typename scalar_t>
float load_chunk(const scalar_t* x, int64_t n, float* buf) {
  Vec vmax(-INFINITY);
  int64_t i = 0;
  for (; i + kW <= n; i += kW) {
    Vec v;
    if constexpr (std::is_same_v<scalar_t, float>) {
      v = Vec::loadu(x + i);
    } else {
      at::vec::load_to_float(x + i, v);
    }
    v.store(buf + i);
    vmax = at::vec::maximum(vmax, v);  // IEEE maximum: propagates NaN
  }
  const int64_t padded = (n + kBlock - 1) / kBlock * kBlock;
  for (int64_t j = i; j < padded; ++j) buf[j] = j < n ? static_cast<float>(x[j]) : -INFINITY;
  if (i < n) vmax = at::vec::maximum(vmax, Vec::loadu(buf + i));
  float lanes[kW];
  vmax.store(lanes);
  float m = -INFINITY;
  for (int l = 0; l < kW; ++l) {
    if (lanes[l] != lanes[l]) return NAN;
    m = std::max(m, lanes[l]);
  }
  return m;
}

// 2^a for a in [-126, 0] (callers clamp): a = n + f with n = round(a), f in
// [-1/2, 1/2]; 2^f by its degree-7 Taylor polynomial (truncation error 5e-9,
// below float resolution; Horner rounding ~1 ulp), 2^n from the exponent bits
// (n + 127 >= 1: a normal float). Sleef's exp2 (1 ulp) costs about three times
// as much, and this loop is the op's whole per-entry cost.
inline Vec exp2_clamped(const Vec& a) {
  const Vec n = a.round();
  const Vec f = a - n;
  Vec p(1.525273380405984e-05f);
  p = at::vec::fmadd(p, f, Vec(1.5403530393381608e-04f));
  p = at::vec::fmadd(p, f, Vec(1.3333558146428443e-03f));
  p = at::vec::fmadd(p, f, Vec(9.618129107628477e-03f));
  p = at::vec::fmadd(p, f, Vec(5.550410866482158e-02f));
  p = at::vec::fmadd(p, f, Vec(2.402265069591007e-01f));
  p = at::vec::fmadd(p, f, Vec(6.931471805599453e-01f));
  p = at::vec::fmadd(p, f, Vec(1.0f));
  const IVec bits = (at::vec::convert_to_int_of_same_size(n) + IVec(127)) << IVec(23);
  return p * at::vec::cast<float>(bits);
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

// The sums of ChunkState over a converted chunk whose max is max_x. Each block's
// terms are summed as a tree before joining the running sums, so a lane's sum sees
// ~kChunkSize / kBlock + log2(kVecsPerBlock) roundings instead of kChunkSize / kW:
// many equal terms (a flat bulk) otherwise round the same way each time and the
// entropy drifts by ~1e-5.
template <bool kTarget>
ChunkState chunk_sums(const float* buf, int64_t n, float max_x, float s) {
  ChunkState st = empty_state();
  st.max_x = max_x;
  // Fully masked (no mass), NaN or +inf (the row is flagged): nothing to sum.
  if (!(max_x > -INFINITY) || !(max_x * s < INFINITY)) return st;
  const Vec vs(s), vmax_x(max_x), vlog2e(kLog2e), vfloor(-126.0f);
  Vec vS(0.0f), vT(0.0f), vS1(0.0f);
  const int64_t padded = (n + kBlock - 1) / kBlock * kBlock;
  for (int64_t i0 = 0; i0 < padded; i0 += kBlock) {
    Vec w[kVecsPerBlock], wa[kVecsPerBlock], w1[kVecsPerBlock];
    for (int v = 0; v < kVecsPerBlock; ++v) {
      const Vec d = Vec::loadu(buf + i0 + v * kW) - vmax_x;
      const Vec a = at::vec::maximum(d * vs, vfloor);
      w[v] = exp2_clamped(a);
      wa[v] = w[v] * a;
      if constexpr (kTarget) w1[v] = exp2_clamped(at::vec::maximum(d * vlog2e, vfloor));
    }
    vS = vS + tree_sum<kVecsPerBlock>(w);
    vT = vT + tree_sum<kVecsPerBlock>(wa);
    if constexpr (kTarget) vS1 = vS1 + tree_sum<kVecsPerBlock>(w1);
  }
  st.S = hsum(vS);
  st.T = hsum(vT);
  st.S1 = kTarget ? hsum(vS1) : 0.0f;
  return st;
}

// Pass 1 for one (row, chunk) item.
template <typename scalar_t>
ChunkState chunk_pass(const scalar_t* x, int64_t n, const RowSetup& row, float* buf) {
  const float max_x = load_chunk(x, n, buf);
  return row.target ? chunk_sums<true>(buf, n, max_x, row.s) : chunk_sums<false>(buf, n, max_x, row.s);
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

template <typename scalar_t>
void sample_rows_typed(const SampleArgs& a) {
  const auto* logits = static_cast<const scalar_t*>(a.logits);
  const int64_t n_chunks = num_chunks(a.vocab);
  std::vector<RowSetup> rows(a.batch);
  for (int64_t r = 0; r < a.batch; ++r) rows[r] = setup_row(a, r);
  std::vector<ChunkState> states(a.batch * n_chunks);
  auto chunk_len = [&](int64_t c) { return chunk_length(a.vocab, c); };

  at::parallel_for(0, a.batch * n_chunks, 1, [&](int64_t lo, int64_t hi) {
    std::vector<float> buf(kChunkSize);
    for (int64_t item = lo; item < hi; ++item) {
      const int64_t r = item / n_chunks, c = item % n_chunks;
      states[item] = rows[r].bad ? empty_state()
                                 : chunk_pass(logits + r * a.row_stride + c * kChunkSize, chunk_len(c), rows[r],
                                              buf.data());
    }
  });

  at::parallel_for(0, a.batch, 1, [&](int64_t lo, int64_t hi) {
    std::vector<float> buf(kChunkSize);
    for (int64_t r = lo; r < hi; ++r) {
      const RowSetup& row = rows[r];
      const ChunkState* st = states.data() + r * n_chunks;
      ChunkState merged = st[0];
      for (int64_t c = 1; c < n_chunks; ++c) merged = merge_states(merged, st[c], row.s);
      if (row_is_invalid(merged, row)) {
        store_result(a, r, invalid_result());
        continue;
      }
      const uint64_t seed = static_cast<uint64_t>(a.seeds[r]);
      const uint64_t offset = static_cast<uint64_t>(a.offsets[r]);
      const int64_t c = pick_chunk(st, n_chunks, merged, row, seed, offset);
      const int64_t begin = c * kChunkSize;
      load_chunk(logits + r * a.row_stride + begin, chunk_len(c), buf.data());
      const int64_t i = pick_token(buf.data(), chunk_len(c), begin, st[c].max_x, row, seed, offset);
      store_result(a, r, finalize_row(merged, row, begin + i, buf[i], a.want_target));
    }
  });
}

void sample_rows(const SampleArgs& a) {
  switch (a.dtype) {
    case LogitsDtype::kFloat32:
      return sample_rows_typed<float>(a);
    case LogitsDtype::kBFloat16:
      return sample_rows_typed<c10::BFloat16>(a);
    case LogitsDtype::kFloat16:
      return sample_rows_typed<c10::Half>(a);
  }
  TORCH_CHECK(false, "ead::sample: unsupported logits dtype");
}

}  // namespace CPU_CAPABILITY
}  // namespace ead::cpu
