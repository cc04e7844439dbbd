// Per-phase profile of the CPU kernel (bench_cpu.py --phases): the op's own code
// (csrc/cpu/sample_kernel_impl.h, compiled here for this CPU's capability with the
// op's flags) run with a probe that times each phase on each thread: set-up, pass 1's
// conversion (load + max) and sums per chunk, the chunk pick (merge + scores), the
// chosen chunk's second read, the token pick, finalisation. The op itself is built
// with a probe that does nothing.
#include <chrono>
#include <vector>

#include <ATen/Parallel.h>
#include <torch/extension.h>

#include "cpu/sample_kernel_impl.h"
#include "op_checks.h"

namespace {

using namespace ead;
using ead::cpu::CPU_CAPABILITY::Phase;
constexpr int kPhases = static_cast<int>(Phase::kCount);
using Clock = std::chrono::steady_clock;

// Nanoseconds per phase, summed over the calls, per thread (no shared counter on the hot path).
struct TimingProbe {
  std::vector<std::array<double, kPhases>> ns;
  std::vector<std::array<Clock::time_point, kPhases>> started;
  explicit TimingProbe(int threads) : ns(threads), started(threads) {
    for (auto& row : ns) row.fill(0.0);
  }
  void begin(Phase p) { started[at::get_thread_num()][static_cast<int>(p)] = Clock::now(); }
  void end(Phase p) {
    const int t = at::get_thread_num(), i = static_cast<int>(p);
    ns[t][i] += std::chrono::duration<double, std::nano>(Clock::now() - started[t][i]).count();
  }
};

// Runs the kernel `calls` times on the op's arguments; returns [threads, phases] nanoseconds.
at::Tensor profile(const at::Tensor& logits, const at::Tensor& temperature, const at::Tensor& seeds,
                   const at::Tensor& offsets, bool want_target, bool want_entropy, int64_t calls) {
  const ScheduleParams schedule{1.2, 0.1, 25.0, 10, 20.0};
  check_sample_inputs(logits, temperature, std::nullopt, seeds, offsets, schedule);
  auto [tokens, logprobs, target, entropy] = allocate_outputs(logits, want_target, want_entropy);
  const SampleArgs a = make_sample_args(logits, temperature, std::nullopt, schedule, seeds, offsets, want_target,
                                        tokens, logprobs, target, entropy);
  TimingProbe probe(at::get_num_threads());
  for (int64_t i = 0; i < calls; ++i) ead::cpu::CPU_CAPABILITY::sample_rows_probed(a, probe);
  at::Tensor out = at::zeros({static_cast<int64_t>(probe.ns.size()), kPhases}, at::kDouble);
  for (size_t t = 0; t < probe.ns.size(); ++t) {
    for (int i = 0; i < kPhases; ++i) out[t][i] = probe.ns[t][i];
  }
  return out;
}

}  // namespace

PYBIND11_MODULE(TORCH_EXTENSION_NAME, m) {
  m.def("profile", &profile, "per-phase nanoseconds of the CPU kernel, [threads, phases]");
  m.attr("PHASES") = std::vector<std::string>{"setup", "load", "sums", "pick_chunk", "reload", "pick_token",
                                              "finalize"};
}
