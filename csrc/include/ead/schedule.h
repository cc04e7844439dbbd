// The EAD temperature schedule (arXiv 2510.05251, "negexp" form of the authors'
// released code). One definition for the CPU kernel, the CUDA kernel and the
// Python package (ead_ext/schedule.py mirrors it operation for operation).
//
//   tau(t) = 1.0                                        for t <  cutoff
//   tau(t) = max(1 + tau_max - exp(t / (k * d)), tau_min) for t >= cutoff
//
// t is the number of tokens generated before the one being sampled, d the decay
// of the current training step (d_s = min(d_0 + g*s, cap), computed on the
// host), k the token scale (20 in the released code). Evaluated in double and
// rounded once to float so every implementation gets the same float.
#pragma once
#include <cmath>
#include <cstdint>

#include "ead/macros.h"

namespace ead {

struct ScheduleParams {
  double tau_max;
  double tau_min;
  double decay;        // d_s, already advanced to the training step
  int64_t cutoff;      // c: tokens sampled at tau = 1 before annealing starts
  double token_scale;  // k
};

EAD_HOST_DEVICE float schedule_temperature(int64_t t, const ScheduleParams& p) {
  if (t < p.cutoff) return 1.0f;
  const double tau = 1.0 + p.tau_max - exp(static_cast<double>(t) / (p.token_scale * p.decay));
  return static_cast<float>(tau > p.tau_min ? tau : p.tau_min);
}

}  // namespace ead
