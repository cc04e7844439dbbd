// The CPU sampling kernel, written once with at::vec and compiled once per CPU
// capability: each sample_kernel_<cap>.cpp defines CPU_CAPABILITY and includes
// this file (the pattern of ATen's native/cpu kernels).
//
// Work split: the batch is cut into (row, chunk) items of kChunk entries, run by
// at::parallel_for, so a single row still spreads over every core. Each item
// reads its logits from memory once: pass A converts the chunk to fp32 into an
// L1-resident buffer and takes its max; pass B, over the buffer, accumulates the
// softmax sums and draws the Gumbel noise for the entries that can still win
// (see sampling_math.h). Chunk states are merged per row in vocabulary order,
// so results do not depend on the thread count.
#pragma once
#include <algorithm>
#include <cmath>
#include <limits>
#include <type_traits>
#include <vector>

#include <ATen/Parallel.h>
#include <ATen/cpu/vec/functional.h>
#include <ATen/cpu/vec/vec.h>
#include <c10/util/BFloat16.h>
#include <c10/util/Half.h>

#include "ead/philox.h"
#include "ead/sampling_math.h"
#include "ead/schedule.h"
#include "philox_simd.h"
#include "sample_kernel.h"

namespace ead::cpu {
namespace CPU_CAPABILITY {

using Vec = at::vec::Vectorized<float>;
constexpr int kW = Vec::size();
static_assert(kChunk % kW == 0 && kW % 4 == 0, "chunks must hold whole vectors and Philox groups");

// Entries whose noise is drawn together: 16 Philox groups, run lane-parallel.
constexpr int kBlock = 64;
constexpr int kVecsPerBlock = kBlock / kW;
static_assert(kChunk % kBlock == 0 && kBlock % kW == 0, "chunks must hold whole noise blocks");

// Pass A: logits[0, n) -> buf[0, round_up(n, kBlock)) as fp32, padded with -inf;
// returns the max (NaN if any entry is NaN).
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

// Uniforms u and complements e = 1 - u of entries [first, first + kBlock) of the
// row's stream, in vocabulary order (entry 4g + j takes word j of group g).
static_assert(kBlock == 4 * kPhiloxGroups, "a noise block is one philox_words16 call");
inline void uniform_block(uint64_t seed, uint64_t offset, int64_t first, float (&u)[kBlock], float (&e)[kBlock]) {
  uint32_t words[4][kPhiloxGroups];
  philox_words16(seed, offset, static_cast<uint32_t>(first >> 2), words);
  for (int g = 0; g < kPhiloxGroups; ++g) {
    for (int j = 0; j < 4; ++j) {
      u[4 * g + j] = uniform_from_bits(words[j][g]);
      e[4 * g + j] = complement_from_bits(words[j][g]);
    }
  }
}

// Pass B over one converted chunk. `floor_score` is a score the row's winner is
// already known to reach (from chunks this thread swept before).
//
// Two exact filters keep the noise off entries that cannot win, with thr the
// larger of floor_score and m + kNoiseMin (the largest entry's worst score):
//  1. a block of kBlock entries draws no random numbers when y + kNoiseMax < thr
//     for all of them;
//  2. an entry can only reach thr if its noise n >= thr - y, i.e.
//     E = -log2(u) <= 2^(y - thr), which implies e = 1 - u <= ln2 * 2^(y - thr)
//     (as 2^-b >= 1 - b ln2). 2^(y - thr) = w * 2^(m - thr) reuses the softmax
//     term w = 2^((x - max_x) s) ~ 2^(y - m), so the test costs a multiply: vectors where every lane
//     has e > w * C skip the logarithms. C carries a margin (delta, in log2
//     units) far above the float rounding of e, y - m, w, the products and logs.
template <bool kGreedy, bool kTarget>
RowState sweep_chunk(const float* buf, int64_t begin, int64_t n, float max_x, float s,
                     uint64_t seed, uint64_t offset, float floor_score) {
  RowState st = empty_state();
  st.max_x = max_x;
  if (max_x == -INFINITY) return st;  // fully masked chunk: no mass, no candidate
  const float m = max_x * s;          // == max_i fl(x_i * s): rounding is monotone
  if (!(m < INFINITY)) return st;     // NaN / +inf / overflow: the row is flagged later

  const float thr = std::max(m + kNoiseMin, floor_score);
  const float delta = 0.05f + 4e-6f * (std::fabs(m) + std::fabs(thr));
  const Vec vs(s), vmax_x(max_x), vlog2e(kLog2e), vhalf(0.5f);
  const Vec vfloor(-126.0f);
  const Vec vnoise_max(kNoiseMax), vthr(thr);
  const Vec vC(kLn2 * std::exp2(m - thr + delta));
  const Vec iota = Vec::arange(0.0f, 1.0f);
  Vec vS(0.0f), vT(0.0f), vS1(0.0f);
  Vec vbest(-INFINITY), vbidx(-1.0f);  // chunk-local indices < 4096: exact in fp32
  constexpr int kAllZero = (1 << kW) - 1;

  const int64_t padded = (n + kBlock - 1) / kBlock * kBlock;
  for (int64_t i0 = 0; i0 < padded; i0 += kBlock) {
    Vec x[kVecsPerBlock], y[kVecsPerBlock], w[kVecsPerBlock], wa[kVecsPerBlock], w1[kVecsPerBlock];
    Vec candidate(0.0f);
    for (int v = 0; v < kVecsPerBlock; ++v) {
      x[v] = Vec::loadu(buf + i0 + v * kW);
      y[v] = x[v] * vs;
      // Clamped at 2^-126 (the smallest normal float): the omitted mass is below
      // float resolution of S >= 1, and subnormal arithmetic would cost ~10x
      // at low temperatures. Masked (-inf) entries land there too.
      const Vec d = x[v] - vmax_x;
      const Vec a = at::vec::maximum(d * vs, vfloor);
      w[v] = a.exp2();
      wa[v] = w[v] * a;
      if constexpr (kTarget) w1[v] = at::vec::maximum(d * vlog2e, vfloor).exp2();
      if constexpr (!kGreedy) candidate = candidate | (y[v] + vnoise_max >= vthr);
    }
    // Each block's terms are summed as a tree before joining the running sums, so
    // a lane's sum sees ~kChunk / kBlock + log2(kVecsPerBlock) roundings instead of
    // kChunk / kW: many equal terms (a flat bulk) otherwise round the same way
    // each time and the entropy drifts by ~1e-5.
    vS = vS + tree_sum<kVecsPerBlock>(w);
    vT = vT + tree_sum<kVecsPerBlock>(wa);
    if constexpr (kTarget) vS1 = vS1 + tree_sum<kVecsPerBlock>(w1);
    if constexpr (kGreedy) {
      for (int v = 0; v < kVecsPerBlock; ++v) {
        const Vec better = x[v] > vbest;  // strict: the earlier entry keeps a tie
        vbest = Vec::blendv(vbest, x[v], better);
        vbidx = Vec::blendv(vbidx, iota + Vec(static_cast<float>(i0 + v * kW)), better);
      }
    } else {
      if (candidate.zero_mask() == kAllZero) continue;  // filter 1
      float u[kBlock], e[kBlock];
      uniform_block(seed, offset, begin + i0, u, e);
      for (int v = 0; v < kVecsPerBlock; ++v) {
        const Vec ev = Vec::loadu(e + v * kW);
        if ((ev <= w[v] * vC).zero_mask() == kAllZero) continue;  // filter 2
        // neg_log2_uniform, lane-wise: -log1p(-e) log2(e) where e <= 1/2, else -log2(u)
        const Vec from_u = Vec::loadu(u + v * kW).log2().neg();
        const Vec from_e = ev.neg().log1p().neg() * vlog2e;
        const Vec E = Vec::blendv(from_u, from_e, ev <= vhalf);
        const Vec score = y[v] + E.log2().neg();
        const Vec better = score > vbest;
        vbest = Vec::blendv(vbest, score, better);
        vbidx = Vec::blendv(vbidx, iota + Vec(static_cast<float>(i0 + v * kW)), better);
      }
    }
  }

  st.S = hsum(vS);
  st.T = hsum(vT);
  st.S1 = kTarget ? hsum(vS1) : 0.0f;
  float best[kW], bidx[kW];
  vbest.store(best);
  vbidx.store(bidx);
  for (int l = 0; l < kW; ++l) {
    if (bidx[l] < 0.0f) continue;
    const int64_t idx = static_cast<int64_t>(bidx[l]);
    if (best[l] > st.best || (best[l] == st.best && begin + idx < st.best_idx)) {
      st.best = best[l];
      st.best_idx = begin + idx;
      st.best_x = buf[idx];
    }
  }
  return st;
}

// Per-row set-up: temperature (given, or from position + schedule), scale, mode.
struct RowSetup {
  float s;
  bool greedy;
  bool target;  // accumulate the tau = 1 sums separately
  bool bad;
};

inline RowSetup setup_row(const SampleArgs& a, int64_t r) {
  float tau;
  bool bad = false;
  if (a.positions != nullptr) {
    bad = a.positions[r] < 0;
    tau = bad ? 1.0f : schedule_temperature(a.positions[r], a.schedule);
  } else {
    tau = a.temperature[r];
  }
  if (!(tau >= 0.0f && tau < INFINITY)) {  // negative, NaN or inf
    bad = true;
    tau = 1.0f;
  }
  const float s = inverse_scale(tau);
  if (!(s < INFINITY)) bad = true;  // tau so small that 1/tau overflows
  return RowSetup{s, tau == 0.0f, a.want_target && s != kLog2e, bad};
}

template <typename scalar_t>
void sample_rows_typed(const SampleArgs& a) {
  const auto* logits = static_cast<const scalar_t*>(a.logits);
  const int64_t n_chunks = (a.vocab + kChunk - 1) / kChunk;
  const int64_t n_items = a.batch * n_chunks;
  std::vector<RowSetup> rows(a.batch);
  for (int64_t r = 0; r < a.batch; ++r) rows[r] = setup_row(a, r);
  std::vector<RowState> states(n_items);

  at::parallel_for(0, n_items, 1, [&](int64_t lo, int64_t hi) {
    std::vector<float> buf(kChunk);
    RowState carried = empty_state();  // this thread's earlier chunks of the same row
    for (int64_t item = lo; item < hi; ++item) {
      const int64_t r = item / n_chunks;
      const int64_t c = item % n_chunks;
      if (c == 0 || item == lo) carried = empty_state();
      const RowSetup& row = rows[r];
      if (row.bad) {
        states[item] = empty_state();
        continue;
      }
      const int64_t begin = c * kChunk;
      const int64_t n = std::min(kChunk, a.vocab - begin);
      const float max_x = load_chunk(logits + r * a.row_stride + begin, n, buf.data());
      // The winner reaches at least the best score seen so far and the noisy
      // score of the largest entry seen so far (>= its y + kNoiseMin).
      const float carried_m = carried.max_x * row.s;
      const float floor_score =
          carried_m < INFINITY ? std::max(carried.best, carried_m + kNoiseMin) : -INFINITY;
      const uint64_t seed = static_cast<uint64_t>(a.seeds[r]);
      const uint64_t offset = static_cast<uint64_t>(a.offsets[r]);
      RowState st;
      if (row.greedy) {
        st = sweep_chunk<true, false>(buf.data(), begin, n, max_x, row.s, seed, offset, floor_score);
      } else if (row.target) {
        st = sweep_chunk<false, true>(buf.data(), begin, n, max_x, row.s, seed, offset, floor_score);
      } else {
        st = sweep_chunk<false, false>(buf.data(), begin, n, max_x, row.s, seed, offset, floor_score);
      }
      states[item] = st;
      carried = merge_states(carried, st, row.s);
    }
  });

  at::parallel_for(0, a.batch, 16, [&](int64_t lo, int64_t hi) {
    for (int64_t r = lo; r < hi; ++r) {
      RowState st = states[r * n_chunks];
      for (int64_t c = 1; c < n_chunks; ++c) st = merge_states(st, states[r * n_chunks + c], rows[r].s);
      const RowResult res = finalize_row(st, rows[r].s, rows[r].bad, a.want_target);
      a.tokens[r] = res.token;
      a.logprobs[r] = res.logprob;
      if (a.target_logprobs != nullptr) a.target_logprobs[r] = res.target_logprob;
      if (a.entropy != nullptr) a.entropy[r] = res.entropy;
    }
  });
}

void sample_rows(const SampleArgs& a) {
  switch (a.dtype) {
    case c10::ScalarType::Float:
      return sample_rows_typed<float>(a);
    case c10::ScalarType::BFloat16:
      return sample_rows_typed<c10::BFloat16>(a);
    case c10::ScalarType::Half:
      return sample_rows_typed<c10::Half>(a);
    default:
      TORCH_CHECK(false, "ead::sample: unsupported logits dtype ", a.dtype);
  }
}

}  // namespace CPU_CAPABILITY
}  // namespace ead::cpu
