// CPU implementation of ead::sample: checks, output allocation and run-time
// choice of the kernel compiled for the best capability of this CPU.
#include <string>

#include <ATen/Version.h>
#include <torch/library.h>

#include "../op_checks.h"
#include "sample_kernel.h"

namespace ead::cpu {
namespace {

using SampleFn = void (*)(const SampleArgs&);

// at::get_cpu_capability() honours ATEN_CPU_CAPABILITY, like ATen's own kernels.
SampleFn pick_kernel() {
  static const SampleFn fn = [] {
    const std::string cap = at::get_cpu_capability();
#if defined(__x86_64__)
    if (cap == "AVX512") return &AVX512::sample_rows;
    if (cap == "AVX2" || cap == "AVX512") return &AVX2::sample_rows;
#endif
    return &DEFAULT::sample_rows;
  }();
  return fn;
}

std::tuple<at::Tensor, at::Tensor, at::Tensor, at::Tensor> sample_cpu(
    const at::Tensor& logits, const std::optional<at::Tensor>& temperature,
    const std::optional<at::Tensor>& positions, const at::Tensor& seeds, const at::Tensor& offsets,
    double tau_max, double tau_min, double decay, int64_t cutoff, double token_scale,
    bool return_target_logprobs, bool return_entropy) {
  const ScheduleParams schedule{tau_max, tau_min, decay, cutoff, token_scale};
  check_sample_inputs(logits, temperature, positions, seeds, offsets, schedule);
  auto [tokens, logprobs, target, entropy] =
      allocate_outputs(logits, return_target_logprobs, return_entropy);
  if (logits.size(0) == 0) return {tokens, logprobs, target, entropy};

  pick_kernel()(make_sample_args(logits, temperature, positions, schedule, seeds, offsets, return_target_logprobs,
                                 tokens, logprobs, target, entropy));
  return {tokens, logprobs, target, entropy};
}

}  // namespace

TORCH_LIBRARY_IMPL(ead, CPU, m) { m.impl("sample", &sample_cpu); }

}  // namespace ead::cpu
