// CUDA implementation of ead::sample: the shared metadata checks, output and
// workspace allocation through the caching allocator, and one launch of the
// kernel (csrc/cuda/sample_kernel.cuh) on the current stream.
//
// No host synchronisation: invalid rows are flagged in the outputs (token -1),
// never raised here, and the arrival tickets of the workspace are zeroed by an
// async memset. So the op can be captured in a CUDA graph (the workspace comes
// from the graph's private memory pool during capture) and run under
// torch.compile (the fake implementation is registered in ead_ext/_ops.py).
#include <limits>

#include <c10/cuda/CUDAException.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#include <torch/library.h>

#include "../op_checks.h"
#include "sample_kernel.cuh"

namespace ead::cuda {
namespace {

std::tuple<at::Tensor, at::Tensor, at::Tensor, at::Tensor> sample_cuda(
    const at::Tensor& logits, const std::optional<at::Tensor>& temperature,
    const std::optional<at::Tensor>& positions, const at::Tensor& seeds, const at::Tensor& offsets,
    double tau_max, double tau_min, double decay, int64_t cutoff, double token_scale,
    bool return_target_logprobs, bool return_entropy) {
  const ScheduleParams schedule{tau_max, tau_min, decay, cutoff, token_scale};
  check_sample_inputs(logits, temperature, positions, seeds, offsets, schedule);
  TORCH_CHECK(logits.is_cuda(), "ead::sample (CUDA): logits must be a CUDA tensor, got ", logits.device());
  const c10::cuda::CUDAGuard guard(logits.device());
  auto [tokens, logprobs, target, entropy] =
      allocate_outputs(logits, return_target_logprobs, return_entropy);
  const int64_t B = logits.size(0);
  if (B == 0) return {tokens, logprobs, target, entropy};

  const LaunchPlan plan = plan_launch(B, logits.size(1));
  TORCH_CHECK(plan.blocks <= std::numeric_limits<int32_t>::max(), "ead::sample: batch too large for one launch (",
              B, " rows x ", plan.blocks_per_row, " blocks per row)");
  // Chunk states, then tickets (LaunchPlan); the caching allocator aligns far beyond 16 bytes.
  at::Tensor workspace = at::empty({static_cast<int64_t>(plan.workspace_bytes)}, logits.options().dtype(at::kByte));
  SampleArgs args = make_sample_args(logits, temperature, positions, schedule, seeds, offsets,
                                     return_target_logprobs, tokens, logprobs, target, entropy);
  attach_workspace(args, plan, workspace.data_ptr());

  const cudaStream_t stream = c10::cuda::getCurrentCUDAStream(logits.device().index()).stream();
  C10_CUDA_CHECK(launch_sample(args, plan, stream));
  return {tokens, logprobs, target, entropy};
}

}  // namespace

TORCH_LIBRARY_IMPL(ead, CUDA, m) { m.impl("sample", &sample_cuda); }

}  // namespace ead::cuda
