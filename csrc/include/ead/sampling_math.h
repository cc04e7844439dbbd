// Shared math of the fused sampling op: the two-level exact draw. The CPU
// kernel, the CUDA kernel and ead_ext/reference.py implement exactly these
// formulas; the kernels call these functions.
//
// A row (logits x, temperature tau > 0, inverse scale s = fl32(log2(e) / tau))
// is cut into chunks of kChunkSize entries (a constant of the op: the same on
// every device, batch size and thread count; the last chunk may be short).
//
// Pass 1 (one read of the logits, no random numbers): per chunk c its max m_c
// and, against it, the sums of ChunkState (S_c, T_c and, when the tau = 1
// log-prob is asked for, S1_c). Merging the chunk states gives the row's max M,
// log-normaliser and entropy.
//
// The draw (random numbers per row, not per entry):
//  1. chunk:  c* = argmax_c  L_c + G_c,  L_c = fl(fl(m_c - M) s) + log2 S_c
//     (log2 of the chunk's mass sum_{i in c} 2^(x_i s), relative to 2^(M s));
//  2. token:  t* = argmax_{i in c*}  y_i + G_i,  y_i = fl32(x_i s)
//     (only the chosen chunk is read again);
// G are independent Gumbel variables in log2 units (below), ties go to the
// lowest index. By the Gumbel-max trick step 1 picks chunk c with probability
// mass_c / sum mass, and step 2 token i of it with probability 2^y_i / mass_c,
// so P(i) = 2^y_i / sum_j 2^y_j: softmax(x / tau), exactly.
// tau == 0 is greedy: the first chunk whose max is M, the first entry equal to M
// in it (= the first argmax of the row); statistics at tau = 1, as vLLM reports.
//
// Resolution. The Gumbel variables come from 64-bit uniforms (two Philox words),
// G = -log2(-log2 u) in double: G lies in [kNoiseMin, kNoiseMax] = [-6.02, 64.47],
// so an entry can win its chunk unless it lies more than 70.5 log2 units (48.9
// nats, a probability ratio of 2^-70) below the chunk's largest entry; no other
// bound exists (the 32-bit noise of the previous design stopped at 22.5 nats).
// The chunk pick weighs chunks by float sums, whose rounding moves a chunk's
// probability by a relative ~1e-6, far below what any test of the samples sees.
//
// Determinism. A row's token depends only on its logits, tau, seed and offset:
// chunk boundaries are fixed, the random numbers are keyed by (seed, offset,
// level, index) (philox.h), and the draw is an argmax. Different devices sum a
// chunk in different orders, so L_c may differ by float rounding: two
// implementations can disagree only when two chunk scores (or two token scores)
// are within that rounding of each other (counted as near-ties in the tests).
//
// Exact filters (kernels only; the reference evaluates every entry of the
// chunk). In step 2 an entry i can beat a score thr that some entry reaches
// only if y_i + kNoiseMax >= thr (filter 1) and, since -log2 u >= (1 - u) log2 e,
// only if e_i = 1 - u_i <= ln2 2^(y_i - thr) (filter 2). The kernels seed thr
// with the exact score of the chunk's largest y, so that in practice only a few
// entries compute the logarithms; skipped entries cannot win, so the drawn token
// is that of a full evaluation, bit for bit.
#pragma once
#include <cmath>
#include <cstdint>

#include "ead/macros.h"
#include "ead/philox.h"

namespace ead {

constexpr double kLog2eD = 1.4426950408889634;
constexpr float kLog2e = 1.44269504088896340736f;
constexpr float kLn2 = 0.693147180559945309417f;

// Entries per chunk: the unit of pass 1 and of the re-read of the draw (4 KB of
// bf16). A multiple of 64 (whole vectors and Philox pairs at every width).
constexpr int64_t kChunkSize = 2048;

// Gumbel range over all 64-bit words: w = 2^64 - 1 gives e = 2^-65 and
// G = 65 - log2(log2 e) = 64.471; w = 0 gives u = 2^-65 and G = -log2(65) = -6.022.
// Widened so that 1-ulp differences of double log implementations cannot cross.
constexpr double kNoiseMax = 64.5;
constexpr double kNoiseMin = -6.03;

// Inverse temperature scale in log2 units. Callers check tau >= 0 and finite.
EAD_HOST_DEVICE float inverse_scale(float tau) {
  return tau == 0.0f ? kLog2e : static_cast<float>(kLog2eD / static_cast<double>(tau));
}

// Gumbel noise (log2 units) of a 64-bit word, in double:
//   u = (w + 1/2) 2^-64, e = 1 - u = (~w + 1/2) 2^-64 (each rounded to double),
//   E = -log2 u, taken from e where e <= 1/2 (u near 1 has lost its low bits),
//   G = -log2 E.
EAD_HOST_DEVICE double gumbel_noise(uint64_t w) {
  const double u = (static_cast<double>(w) + 0.5) * 5.421010862427522170037e-20;  // 2^-64
  const double e = (static_cast<double>(~w) + 0.5) * 5.421010862427522170037e-20;
  const double E = e <= 0.5 ? -log1p(-e) * kLog2eD : -log2(u);
  return -log2(E);
}

// A lower bound on e = 1 - u from the high 32 bits of w (e >= (~hi) 2^-32;
// the float rounding of ~hi is covered by filter 2's margin).
EAD_HOST_DEVICE float complement_lower_bound(uint64_t w) {
  return static_cast<float>(~static_cast<uint32_t>(w >> 32)) * 2.3283064365386962890625e-10f;
}

// Filters 1 and 2 (file comment) for an entry with scaled logit y against a score
// thr that is reached: false means the entry cannot reach thr. Each is exact on
// its own; callers apply filter 1 (by value, before the Philox call) and then
// filter 2 (by the entry's word, before the logarithms). The margin of 2^0.01
// (0.7 %) is far above the float error of filter 2's bound (~1e-6).
EAD_HOST_DEVICE bool may_reach_by_value(float y, double thr) {
  return static_cast<double>(y) + kNoiseMax >= thr;
}
EAD_HOST_DEVICE bool may_reach_by_noise(float y, double thr, uint64_t w) {
  const float gap = static_cast<float>(static_cast<double>(y) - thr);
  return complement_lower_bound(w) <= kLn2 * exp2f(gap + 0.01f);
}

// Score of an entry in step 2 and of a chunk in step 1.
EAD_HOST_DEVICE double entry_score(float y, uint64_t w) { return static_cast<double>(y) + gumbel_noise(w); }

// Does (score b, index ib) beat (a, ia)? Higher score wins; equal scores go to
// the lower index; index -1 is "no candidate". Order-free, so partial winners can
// be merged in any order.
EAD_HOST_DEVICE bool beats(double b, int64_t ib, double a, int64_t ia) {
  return ib >= 0 && (ia < 0 || b > a || (b == a && ib < ia));
}

// Pass-1 state of a contiguous range (a chunk, or merged chunks) of a row:
//   max_x : max_i x_i (raw logits; NaN if any is NaN)
//   a_i   = max((x_i - max_x) s, -126)  (log2 units; subtracting before scaling
//           keeps log-probs accurate when |x| / tau is large; clamped at the
//           smallest normal exponent: the omitted mass is below float resolution
//           of S >= 1, and masked (-inf) entries land there too)
//   S     : sum_i 2^a_i          T : sum_i 2^a_i a_i   (for the entropy)
//   S1    : sum_i 2^max((x_i - max_x) log2 e, -126)   (tau = 1; only when asked for)
struct ChunkState {
  float max_x;
  float S;
  float T;
  float S1;
};

EAD_HOST_DEVICE ChunkState empty_state() { return ChunkState{-INFINITY, 0.0f, 0.0f, 0.0f}; }

// Rescale (S, T) of a partial sum taken against a max `d` log2 units above the
// merged one (d <= 0) to the merged max.
EAD_HOST_DEVICE void rescale_sums(float d, float S, float T, float& S_out, float& T_out) {
  // An empty or fully masked range, or one whose max lies so far below the merged
  // one that its weight 2^d underflows to 0 (d < -149, or a gap that overflows
  // to -inf), contributes nothing; computing it would give 0 * -inf = NaN in T.
  const float f = (S == 0.0f || !(d > -INFINITY)) ? 0.0f : exp2f(d);
  if (f == 0.0f) {
    S_out = 0.0f;
    T_out = 0.0f;
    return;
  }
  S_out = S * f;
  T_out = f * (T + d * S);
}

// Merges two states of a row whose inverse scale is s. Associative up to the
// rounding of the sums; callers merge in a fixed order, so results are
// reproducible.
EAD_HOST_DEVICE ChunkState merge_states(const ChunkState& a, const ChunkState& b, float s) {
  ChunkState r;
  r.max_x = fmaxf(a.max_x, b.max_x);
  if (a.max_x != a.max_x || b.max_x != b.max_x) r.max_x = NAN;  // a NaN anywhere poisons the row
  float sa, ta, sb, tb, s1a, s1b, unused;
  // (max_x - r.max_x) is exact or -inf; the products round once, as in the sweeps.
  rescale_sums((a.max_x - r.max_x) * s, a.S, a.T, sa, ta);
  rescale_sums((b.max_x - r.max_x) * s, b.S, b.T, sb, tb);
  rescale_sums((a.max_x - r.max_x) * kLog2e, a.S1, 0.0f, s1a, unused);
  rescale_sums((b.max_x - r.max_x) * kLog2e, b.S1, 0.0f, s1b, unused);
  r.S = sa + sb;
  r.T = ta + tb;
  r.S1 = s1a + s1b;
  return r;
}

// L_c of step 1: log2 of the chunk's mass relative to 2^(M s), M the row max;
// -inf for a chunk without mass (all masked, or so far below M that the scaled
// gap overflows).
EAD_HOST_DEVICE double chunk_log_mass(const ChunkState& c, float row_max, float s) {
  if (!(c.S > 0.0f) || !(c.max_x > -INFINITY)) return -INFINITY;
  const float d = (c.max_x - row_max) * s;
  if (!(d > -INFINITY)) return -INFINITY;
  return static_cast<double>(d) + log2(static_cast<double>(c.S));
}

EAD_HOST_DEVICE double chunk_score(const ChunkState& c, float row_max, float s, uint64_t seed, uint64_t offset,
                                   uint32_t chunk) {
  const double lm = chunk_log_mass(c, row_max, s);
  return lm == -INFINITY ? -INFINITY : lm + gumbel_noise(chunk_word(seed, offset, chunk));
}

// Per-row set-up, shared by every kernel: the temperature (given, or from the
// position and the schedule), the inverse scale, greedy / tau = 1-target modes
// and the bad-input flag (negative position, tau < 0, NaN or inf, or a tau so
// small that 1 / tau overflows).
struct RowSetup {
  float s;
  bool greedy;
  bool target;  // accumulate the tau = 1 sums separately (S1)
  bool bad;
};

EAD_HOST_DEVICE RowSetup make_row_setup(float tau, bool bad, bool want_target) {
  if (!(tau >= 0.0f && tau < INFINITY)) {  // negative, NaN or inf
    bad = true;
    tau = 1.0f;
  }
  const float s = inverse_scale(tau);
  if (!(s < INFINITY)) bad = true;
  return RowSetup{s, tau == 0.0f, want_target && s != kLog2e, bad};
}

// Results of one row; token < 0 flags an invalid row.
struct RowResult {
  int64_t token;
  float logprob;
  float target_logprob;
  float entropy;
};

// A row is invalid when it holds a NaN or +inf logit, when x/tau overflows
// float, when no logit is finite (all -inf), when a tempered row has no finite
// scaled logit (x * s underflows to -inf everywhere), or when its
// temperature/position was invalid (bad_input). The kernels never raise on data:
// they flag the row (token -1, NaN statistics) and the Python wrapper turns the
// flag into an error that names the row and the reason.
EAD_HOST_DEVICE bool row_is_invalid(const ChunkState& st, const RowSetup& rs) {
  const float m = st.max_x * rs.s;
  return rs.bad || st.max_x != st.max_x || !(m < INFINITY) || st.max_x == -INFINITY ||
         (!rs.greedy && !(m > -INFINITY)) || !(st.S > 0.0f);
}

EAD_HOST_DEVICE RowResult invalid_result() { return RowResult{-1, NAN, NAN, NAN}; }

// Statistics of a valid row from its merged state and the drawn token's logit.
EAD_HOST_DEVICE RowResult finalize_row(const ChunkState& st, const RowSetup& rs, int64_t token, float token_x,
                                       bool want_target) {
  const float s = rs.s;
  const float log2_S = log2f(st.S);
  RowResult r;
  r.token = token;
  r.logprob = ((token_x - st.max_x) * s - log2_S) * kLn2;
  r.entropy = (log2_S - st.T / st.S) * kLn2;
  // At tau = 1 (and for greedy rows) the behaviour sums are the target sums;
  // kernels do not accumulate S1 then.
  if (want_target) {
    r.target_logprob = rs.target ? ((token_x - st.max_x) * kLog2e - log2f(st.S1)) * kLn2 : r.logprob;
  } else {
    r.target_logprob = 0.0f;
  }
  return r;
}

}  // namespace ead
