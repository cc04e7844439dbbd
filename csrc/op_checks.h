// Argument checks of ead::sample shared by the CPU and CUDA implementations.
// Only metadata is checked here (no device synchronisation); rows whose data is
// invalid (NaN, all -inf, tau < 0, ...) are flagged by the kernels instead.
#pragma once
#include <optional>
#include <string>
#include <tuple>

#include <ATen/core/Tensor.h>
#include <ATen/ops/empty.h>

#include "ead/sample_args.h"
#include "ead/schedule.h"

namespace ead {

// Python's name of a dtype ("torch.int64"), so messages read as the Python API does
// (and match ead_ext/_checks.py).
inline std::string py_dtype(at::ScalarType t) {
  return "torch." + std::string(c10::getDtypeNames(t).first);
}

inline void check_row_tensor(const at::Tensor& t, const char* name, at::ScalarType dtype,
                             const at::Tensor& logits) {
  TORCH_CHECK(t.device() == logits.device(), "ead::sample: ", name, " is on ", t.device(),
              " but logits are on ", logits.device());
  TORCH_CHECK(t.dim() == 1 && t.size(0) == logits.size(0), "ead::sample: ", name,
              " must have shape [", logits.size(0), "] (one entry per row of logits), got ",
              t.sizes());
  TORCH_CHECK(t.scalar_type() == dtype, "ead::sample: ", name, " must be ", py_dtype(dtype), ", got ",
              py_dtype(t.scalar_type()));
  TORCH_CHECK(t.is_contiguous(), "ead::sample: ", name, " must be contiguous");
}

inline void check_schedule(const ScheduleParams& p) {
  TORCH_CHECK(p.tau_min > 0.0, "ead::sample: schedule tau_min must be > 0, got ", p.tau_min);
  TORCH_CHECK(p.tau_max >= p.tau_min, "ead::sample: schedule tau_max (", p.tau_max,
              ") must be >= tau_min (", p.tau_min, ")");
  TORCH_CHECK(p.decay > 0.0, "ead::sample: schedule decay must be > 0, got ", p.decay);
  TORCH_CHECK(p.token_scale > 0.0, "ead::sample: schedule token_scale must be > 0, got ",
              p.token_scale);
  TORCH_CHECK(p.cutoff >= 0, "ead::sample: schedule cutoff must be >= 0, got ", p.cutoff);
}

inline void check_sample_inputs(const at::Tensor& logits, const std::optional<at::Tensor>& temperature,
                                const std::optional<at::Tensor>& positions, const at::Tensor& seeds,
                                const at::Tensor& offsets, const ScheduleParams& schedule) {
  TORCH_CHECK(logits.dim() == 2, "ead::sample: logits must be 2-D [batch, vocab], got ",
              logits.dim(), "-D");
  const auto dt = logits.scalar_type();
  TORCH_CHECK(dt == at::kFloat || dt == at::kBFloat16 || dt == at::kHalf,
              "ead::sample: logits must be float32, bfloat16 or float16, got ", py_dtype(dt));
  TORCH_CHECK(logits.size(1) >= 1, "ead::sample: logits have an empty vocabulary (V = 0)");
  TORCH_CHECK(logits.size(1) <= INT32_MAX, "ead::sample: vocabularies above 2^31 - 1 entries are not supported, got ",
              logits.size(1));
  TORCH_CHECK(logits.size(0) == 0 || logits.size(1) == 1 || logits.stride(1) == 1,
              "ead::sample: logits rows must be contiguous (stride(1) == 1), got strides ",
              logits.strides());
  TORCH_CHECK(temperature.has_value() != positions.has_value(),
              "ead::sample: pass exactly one of temperature or positions");
  if (temperature.has_value()) check_row_tensor(*temperature, "temperature", at::kFloat, logits);
  if (positions.has_value()) {
    check_row_tensor(*positions, "positions", at::kLong, logits);
    check_schedule(schedule);
  }
  check_row_tensor(seeds, "seeds", at::kLong, logits);
  check_row_tensor(offsets, "offsets", at::kLong, logits);
}

// (tokens, logprobs, target_logprobs, entropy); unrequested outputs are empty.
inline std::tuple<at::Tensor, at::Tensor, at::Tensor, at::Tensor> allocate_outputs(
    const at::Tensor& logits, bool want_target, bool want_entropy) {
  const int64_t B = logits.size(0);
  auto f = logits.options().dtype(at::kFloat);
  return {at::empty({B}, logits.options().dtype(at::kLong)), at::empty({B}, f),
          at::empty({want_target ? B : 0}, f), at::empty({want_entropy ? B : 0}, f)};
}

// The kernels' arguments (ead/sample_args.h) from checked inputs and allocated
// outputs; the CUDA launcher adds its workspace.
inline SampleArgs make_sample_args(const at::Tensor& logits, const std::optional<at::Tensor>& temperature,
                                   const std::optional<at::Tensor>& positions, const ScheduleParams& schedule,
                                   const at::Tensor& seeds, const at::Tensor& offsets, bool want_target,
                                   at::Tensor& tokens, at::Tensor& logprobs, at::Tensor& target,
                                   at::Tensor& entropy) {
  SampleArgs p{};
  const auto dt = logits.scalar_type();
  p.dtype = dt == at::kFloat ? LogitsDtype::kFloat32 : dt == at::kBFloat16 ? LogitsDtype::kBFloat16 : LogitsDtype::kFloat16;
  p.logits = logits.data_ptr();
  p.batch = logits.size(0);
  p.vocab = logits.size(1);
  p.row_stride = logits.stride(0);
  p.temperature = temperature.has_value() ? temperature->data_ptr<float>() : nullptr;
  p.positions = positions.has_value() ? positions->data_ptr<int64_t>() : nullptr;
  p.schedule = schedule;
  p.seeds = seeds.data_ptr<int64_t>();
  p.offsets = offsets.data_ptr<int64_t>();
  p.want_target = want_target;
  p.tokens = tokens.data_ptr<int64_t>();
  p.logprobs = logprobs.data_ptr<float>();
  p.target_logprobs = want_target ? target.data_ptr<float>() : nullptr;
  p.entropy = entropy.numel() > 0 ? entropy.data_ptr<float>() : nullptr;
  return p;
}

}  // namespace ead
