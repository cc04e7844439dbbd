// Shared math of the fused sampling op: temperature scaling in log2 units,
// Gumbel noise from Philox words, the mergeable per-chunk state and the
// finalisation into (token, log-probs, entropy). The CPU kernel, the CUDA kernel
// and ead_ext/reference.py implement exactly these formulas.
//
// For a row with logits x, temperature tau > 0 and inverse scale
// s = fl32(log2(e) / tau):
//   y_i     = fl32(x_i * s)                    logits/tau in log2 units
//   u_i     = ((w_i >> 9) + 0.5) * 2^-23       w_i the Philox word of entry i; u in (0, 1)
//   n_i     = -log2(-log2(u_i))                Gumbel noise in log2 units
//   token   = argmax_i (y_i + n_i), ties to the lowest index
// argmax(y + n) is an exact draw from softmax(x / tau) (Gumbel-max trick; the
// natural-log Gumbel is n_i * ln 2 and y_i * ln 2 = x_i / tau).
// tau == 0 is greedy: token = argmax_i x_i (lowest index on ties), and the
// reported statistics are those of tau = 1, as vLLM reports for greedy rows.
//
// Skipping noise: n_i lies in [kNoiseMin, kNoiseMax] for every 23-bit uniform,
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
// Exact noise range for u in [2^-24, 1 - 2^-24]: [-log2(24), -log2(-log2(1 - 2^-24))]
// = [-4.585, 23.471]; widened so that 1-2 ulp log2 errors (Sleef, CUDA
// approximations) cannot push a real noise value outside the bounds.
constexpr float kNoiseMax = 23.5f;
constexpr float kNoiseMin = -4.6f;

// Inverse temperature scale in log2 units. Callers check tau >= 0 and finite.
EAD_HOST_DEVICE float inverse_scale(float tau) {
  return tau == 0.0f ? kLog2e : static_cast<float>(kLog2eD / static_cast<double>(tau));
}

// Uniform in (0, 1) from the top 23 bits of a Philox word; (2k+1) * 2^-24 is
// exact in float, never 0 nor 1.
EAD_HOST_DEVICE float uniform_from_bits(uint32_t w) {
  return static_cast<float>(w >> 9) * 1.1920928955078125e-07f + 5.9604644775390625e-08f;
}

// Scalar Gumbel noise (log2 units). Vectorised kernels compute the same formula
// with their own log2.
EAD_HOST_DEVICE float gumbel_noise(uint32_t w) {
  return -log2f(-log2f(uniform_from_bits(w)));
}

// Running state of one contiguous range of a row. Ranges merge associatively
// (merge(a, b) with a before b in vocabulary order), so a row may be split over
// threads or CUDA blocks in any way without changing the drawn token.
//   m   : max_i y_i             S  : sum_i 2^(y_i - m)
//   T   : sum_i 2^(y_i - m) (y_i - m)   (for the entropy)
//   m1, S1 : the same for tau = 1 (x_i * log2 e); only kept when asked for
//   best, best_x, best_idx : winning score, its raw logit and index
struct RowState {
  float m;
  float S;
  float T;
  float m1;
  float S1;
  float best;
  float best_x;
  int64_t best_idx;
};

EAD_HOST_DEVICE RowState empty_state() {
  return RowState{-INFINITY, 0.0f, 0.0f, -INFINITY, 0.0f, -INFINITY, 0.0f, -1};
}

// Rescale (S, T) of a partial sum taken against max `m` to the larger max `mm`.
EAD_HOST_DEVICE void rescale_sums(float m, float S, float T, float mm, float& S_out, float& T_out) {
  if (S == 0.0f) {  // empty or fully masked range: contributes nothing (avoids -inf * 0)
    S_out = 0.0f;
    T_out = 0.0f;
    return;
  }
  const float d = m - mm;  // <= 0
  const float f = exp2f(d);
  S_out = S * f;
  T_out = f * (T + d * S);
}

EAD_HOST_DEVICE RowState merge_states(const RowState& a, const RowState& b) {
  RowState r;
  r.m = fmaxf(a.m, b.m);
  if (a.m != a.m || b.m != b.m) r.m = NAN;  // a NaN anywhere poisons the row
  float sa, ta, sb, tb;
  rescale_sums(a.m, a.S, a.T, r.m, sa, ta);
  rescale_sums(b.m, b.S, b.T, r.m, sb, tb);
  r.S = sa + sb;
  r.T = ta + tb;
  r.m1 = fmaxf(a.m1, b.m1);
  float s1a, s1b, unused0, unused1;
  rescale_sums(a.m1, a.S1, 0.0f, r.m1, s1a, unused0);
  rescale_sums(b.m1, b.S1, 0.0f, r.m1, s1b, unused1);
  r.S1 = s1a + s1b;
  // Strictly greater: on equal scores the earlier range (lower index) wins.
  const bool take_b = b.best > a.best;
  r.best = take_b ? b.best : a.best;
  r.best_x = take_b ? b.best_x : a.best_x;
  r.best_idx = take_b ? b.best_idx : a.best_idx;
  return r;
}

// Results of one row; token < 0 flags an invalid row (see row_is_invalid).
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
  const bool bad = bad_input || !(st.m < INFINITY) || st.m == -INFINITY || st.best_idx < 0 ||
                   !(st.S > 0.0f);
  if (bad) return RowResult{-1, NAN, NAN, NAN};
  const float log2_S = log2f(st.S);
  // At tau = 1 (and for greedy rows) the behaviour sums are the target sums;
  // kernels do not accumulate S1 then.
  const bool same = (s == kLog2e);
  RowResult r;
  r.token = st.best_idx;
  r.logprob = (st.best_x * s - st.m - log2_S) * kLn2;
  r.entropy = (log2_S - st.T / st.S) * kLn2;
  if (want_target) {
    r.target_logprob = same ? r.logprob : (st.best_x * kLog2e - st.m1 - log2f(st.S1)) * kLn2;
  } else {
    r.target_logprob = 0.0f;
  }
  return r;
}

}  // namespace ead
