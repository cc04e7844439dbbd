// Shared math of the fused sampling op: temperature scaling in log2 units,
// Gumbel noise from Philox words, the mergeable per-chunk state and the
// finalisation into (token, log-probs, entropy). The CPU kernel, the CUDA kernel
// and ead_ext/reference.py implement exactly these formulas.
//
// For a row with logits x, temperature tau > 0 and inverse scale
// s = fl32(log2(e) / tau):
//   y_i     = fl32(x_i * s)                    logits/tau in log2 units
//   u_i     = (w_i + 1/2) * 2^-32              w_i the 32-bit Philox word of entry i
//   n_i     = -log2(-log2(u_i))                Gumbel noise in log2 units
//   token   = argmax_i (y_i + n_i), ties to the lowest index
// argmax(y + n) is an exact draw from softmax(x / tau) (Gumbel-max trick: the
// natural-log Gumbel -ln(-ln u) is n_i ln 2 - ln ln 2, and y_i ln 2 = x_i / tau;
// scaling by ln 2 and the constant shift leave the argmax unchanged).
// tau == 0 is greedy: token = argmax_i x_i (lowest index on ties), and the
// reported statistics are those of tau = 1, as vLLM reports for greedy rows.
//
// All 32 bits of the word are used: the noise reaches 32.47 (log2 units), so an
// entry 22.5 nats below the top can still win. (With 23-bit uniforms the noise
// stops at 23.47: entries more than ~16 nats below the top were never drawn,
// which a chi-square test of 100k draws over a 151,936-entry vocabulary sees.)
// Near u = 1 the float u rounds away its low bits, so -log2(u) is taken from
// the complement e = 1 - u = (~w + 1/2) * 2^-32 there (see neg_log2_uniform).
//
// Skipping noise: n_i lies in [kNoiseMin, kNoiseMax] for every 32-bit word,
// so an entry whose y_i + kNoiseMax is below the score the winner is already
// known to reach (max_j y_j + kNoiseMin, or the best score so far) cannot win.
// Its noise is never computed; the draw is unchanged, bit for bit.
#pragma once
#include <cmath>
#include <cstdint>

#include "ead/macros.h"

namespace ead {

constexpr double kLog2eD = 1.4426950408889634;
constexpr float kLog2e = 1.44269504088896340736f;
constexpr float kLn2 = 0.693147180559945309417f;
// Exact noise range over all words: n_max = -log2(2^-33 log2 e) = 32.471 (w = 2^32 - 1),
// n_min = -log2(33) = -5.044 (w = 0); widened so that 1-2 ulp errors of the log
// implementations (Sleef, CUDA, torch) cannot push a real noise value outside.
constexpr float kNoiseMax = 32.5f;
constexpr float kNoiseMin = -5.05f;

// Inverse temperature scale in log2 units. Callers check tau >= 0 and finite.
EAD_HOST_DEVICE float inverse_scale(float tau) {
  return tau == 0.0f ? kLog2e : static_cast<float>(kLog2eD / static_cast<double>(tau));
}

// u = (w + 1/2) 2^-32 and its complement e = 1 - u = (~w + 1/2) 2^-32, each
// rounded once to float (the integer converts exactly or rounds to nearest;
// adding 1/2 rounds once more; the power-of-two scale is exact).
EAD_HOST_DEVICE float uniform_from_bits(uint32_t w) {
  return (static_cast<float>(w) + 0.5f) * 2.3283064365386962890625e-10f;
}
EAD_HOST_DEVICE float complement_from_bits(uint32_t w) {
  return (static_cast<float>(~w) + 0.5f) * 2.3283064365386962890625e-10f;
}

// E = -log2(u) to float accuracy over the whole range: from the complement when
// u >= 1/2 (e <= 1/2), where u itself has lost its low bits.
EAD_HOST_DEVICE float neg_log2_uniform(float u, float e) {
  return e <= 0.5f ? -log1pf(-e) * kLog2e : -log2f(u);
}

// Scalar Gumbel noise (log2 units). Vectorised kernels compute the same formula
// with their own log2 / log1p.
EAD_HOST_DEVICE float gumbel_noise(uint32_t w) {
  return -log2f(neg_log2_uniform(uniform_from_bits(w), complement_from_bits(w)));
}

// Running state of one contiguous range of a row. Ranges merge associatively
// (merge(a, b) with a before b in vocabulary order), so a row may be split over
// threads or CUDA blocks in any way without changing the drawn token.
//   max_x : max_i x_i (raw logits; NaN if any is NaN)
//   a_i   = (x_i - max_x) * s   (log2 units; subtracting before scaling keeps
//                                log-probs accurate when |x| / tau is large)
//   S     : sum_i 2^a_i          T : sum_i 2^a_i a_i   (for the entropy)
//   S1    : sum_i 2^((x_i - max_x) log2 e)   (tau = 1; only kept when asked for)
//   best, best_x, best_idx : winning score, its raw logit and index
struct RowState {
  float max_x;
  float S;
  float T;
  float S1;
  float best;
  float best_x;
  int64_t best_idx;
};

EAD_HOST_DEVICE RowState empty_state() {
  return RowState{-INFINITY, 0.0f, 0.0f, 0.0f, -INFINITY, 0.0f, -1};
}

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

// Merges two ranges of a row whose inverse scale is s (a before b).
EAD_HOST_DEVICE RowState merge_states(const RowState& a, const RowState& b, float s) {
  RowState r;
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
  // Strictly greater: on equal scores the earlier range (lower index) wins.
  const bool take_b = b.best > a.best;
  r.best = take_b ? b.best : a.best;
  r.best_x = take_b ? b.best_x : a.best_x;
  r.best_idx = take_b ? b.best_idx : a.best_idx;
  return r;
}

// Results of one row; token < 0 flags an invalid row (see finalize_row).
struct RowResult {
  int64_t token;
  float logprob;
  float target_logprob;
  float entropy;
};

// A row is invalid when it holds a NaN or +inf logit, when x/tau overflows
// float, when no logit is finite (all -inf), or when its temperature/position
// was invalid (flagged by the caller with bad_input). The kernels never raise on
// data: they flag the row (token -1, NaN statistics) and the Python wrapper turns
// the flag into an error that names the row and the reason.
EAD_HOST_DEVICE RowResult finalize_row(const RowState& st, float s, bool bad_input, bool want_target) {
  const bool bad = bad_input || !(st.max_x * s < INFINITY) || st.max_x == -INFINITY ||
                   st.best_idx < 0 || !(st.S > 0.0f);
  if (bad) return RowResult{-1, NAN, NAN, NAN};
  const float log2_S = log2f(st.S);
  // At tau = 1 (and for greedy rows) the behaviour sums are the target sums;
  // kernels do not accumulate S1 then.
  const bool same = (s == kLog2e);
  RowResult r;
  r.token = st.best_idx;
  r.logprob = ((st.best_x - st.max_x) * s - log2_S) * kLn2;
  r.entropy = (log2_S - st.T / st.S) * kLn2;
  if (want_target) {
    r.target_logprob = same ? r.logprob : ((st.best_x - st.max_x) * kLog2e - log2f(st.S1)) * kLn2;
  } else {
    r.target_logprob = 0.0f;
  }
  return r;
}

}  // namespace ead
