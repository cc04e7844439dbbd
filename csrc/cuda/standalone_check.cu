// Torch-free launcher of the CUDA sampling kernel: the CI compile check (built
// for sm_80 and sm_90 with -Werror, see CMakeLists.txt) instantiates every
// kernel variant through it; on a machine with a GPU it also runs a self-test
// against a host evaluation with the shared header (ead/sampling_math.h): the
// token of a full, unfiltered scan of the Gumbel scores, and the header's
// RowState / merge_states / finalize_row for the statistics and the row flags.
// Tokens must agree (on a GPU up to counted float near-ties; in the CPU
// emulation, csrc/cuda/emulation, exactly), log-probs and entropy must match
// the header's float evaluation to a few ulps and a float64 log-softmax to the
// fp32 scaling error. Without a GPU it says so and exits 0.
//
//   ead_cuda_standalone_check [--quick]   # self-test (needs a GPU, or the emulation build)
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <type_traits>
#include <vector>

#if defined(EAD_CUDA_EMULATION)
#include "emulation/cuda_emulation.h"  // CPU emulation: see that file
#else
#include <cuda_runtime.h>
#endif

#include "sample_kernel.cuh"

namespace {

using namespace ead;
using namespace ead::cuda;

#define CHECK_CUDA(expr)                                                                       \
  do {                                                                                         \
    const cudaError_t err_ = (expr);                                                           \
    if (err_ != cudaSuccess) {                                                                 \
      std::fprintf(stderr, "%s:%d: %s: %s\n", __FILE__, __LINE__, #expr, cudaGetErrorString(err_)); \
      return false;                                                                            \
    }                                                                                          \
  } while (0)

uint64_t g_rng = 0x9E3779B97F4A7C15ull;
float next_normal() {  // Box-Muller on a 64-bit LCG: deterministic test data
  auto uni = [] {
    g_rng = g_rng * 6364136223846793005ull + 1442695040888963407ull;
    return (static_cast<double>(g_rng >> 11) + 0.5) * (1.0 / 9007199254740992.0);
  };
  const double u1 = uni(), u2 = uni();
  return static_cast<float>(std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2));
}

uint16_t to_bf16(float f) {  // round to nearest even
  uint32_t b;
  std::memcpy(&b, &f, 4);
  b += 0x7fffu + ((b >> 16) & 1u);
  return static_cast<uint16_t>(b >> 16);
}
// fp16 test data are multiples of 2^-4 below 64 in magnitude (or +-inf, NaN,
// 65504): exact in binary16, so a plain encoder serves.
float round_for_f16(float f) {
  if (std::isinf(f) || std::isnan(f) || f == 65504.0f) return f;  // 65504: the largest binary16
  const float c = std::fmin(std::fmax(f, -60.0f), 60.0f);
  return std::nearbyint(c * 16.0f) / 16.0f;
}
uint16_t to_f16(float f) {
  if (std::isnan(f)) return 0x7e00u;
  if (std::isinf(f)) return f < 0 ? 0xfc00u : 0x7c00u;
  if (f == 0.0f) return std::signbit(f) ? 0x8000u : 0u;
  int e;
  const float m = std::frexp(std::fabs(f), &e);  // |f| = m 2^e, m in [0.5, 1)
  const uint32_t man = static_cast<uint32_t>((m * 2.0f - 1.0f) * 1024.0f);
  return static_cast<uint16_t>((f < 0 ? 0x8000u : 0u) | (static_cast<uint32_t>(e - 1 + 15) << 10) | man);
}
float from_bf16(uint16_t h) {
  const uint32_t b = static_cast<uint32_t>(h) << 16;
  float f;
  std::memcpy(&f, &b, 4);
  return f;
}

// ---------------------------------------------------------------------------
// Host evaluation of a row with the shared header (ead/sampling_math.h,
// ead/schedule.h), independent of the kernel's work split:
//  * the token: a full scan of score_i = fl(x_i * s) + gumbel_noise(word_i) (no
//    noise filter), first index of the max; x itself for greedy rows;
//  * the statistics: RowStates of the CPU op's 4096-entry chunks with the CPU
//    sweep's terms (a = max((x - max_x) * s, -126), sums in double rounded once),
//    merged with merge_states and finalised with finalize_row, which also flags
//    invalid rows; plus a float64 log-softmax, the most accurate answer.

constexpr ScheduleParams kSchedule{1.2, 0.1, 25.0, 10, 20.0};
constexpr int64_t kHostChunk = 4096;

struct HostRow {
  RowResult want;     // finalize_row of the host states
  float best, second;  // top two scores (a near-tie when close)
  double logprob, target, entropy;  // float64 (valid rows)
};

// The per-row set-up of both kernels (setup_row / device_setup_row).
void host_setup(float temperature, const int64_t* position, float& s, bool& greedy, bool& bad) {
  float tau;
  bad = false;
  if (position != nullptr) {
    bad = *position < 0;
    tau = bad ? 1.0f : schedule_temperature(*position, kSchedule);
  } else {
    tau = temperature;
  }
  if (!(tau >= 0.0f && tau < INFINITY)) {
    bad = true;
    tau = 1.0f;
  }
  s = inverse_scale(tau);
  if (!(s < INFINITY)) bad = true;
  greedy = tau == 0.0f;
}

HostRow host_row(const std::vector<float>& x, float s, bool greedy, bool bad, uint64_t seed, uint64_t offset) {
  const int64_t V = static_cast<int64_t>(x.size());
  HostRow h{};
  h.best = -INFINITY;
  h.second = -INFINITY;
  int64_t token = -1;
  for (int64_t i = 0; i < V && !bad; ++i) {
    float score;
    if (greedy) {
      score = x[i];
    } else {
      const Philox4x32Out w = noise_words(seed, offset, static_cast<uint32_t>(i / 4));
      score = x[i] * s + gumbel_noise(w.x[i % 4]);
    }
    if (score > h.best) {
      h.second = h.best;
      h.best = score;
      token = i;
    } else if (score > h.second) {
      h.second = score;
    }
  }
  RowState st = empty_state();
  for (int64_t c0 = 0; c0 < V && !bad; c0 += kHostChunk) {
    const int64_t c1 = std::min(V, c0 + kHostChunk);
    RowState cs = empty_state();
    for (int64_t i = c0; i < c1; ++i) {
      if (x[i] != x[i] || cs.max_x != cs.max_x) {
        cs.max_x = NAN;
      } else {
        cs.max_x = std::fmax(cs.max_x, x[i]);
      }
    }
    const float m = cs.max_x * s;
    if (cs.max_x > -INFINITY && m < INFINITY) {
      double S = 0.0, T = 0.0, S1 = 0.0;
      for (int64_t i = c0; i < c1; ++i) {
        const float d = x[i] - cs.max_x;
        const float a = std::fmax(d * s, -126.0f);
        S += std::exp2(static_cast<double>(a));
        T += std::exp2(static_cast<double>(a)) * a;
        S1 += std::exp2(static_cast<double>(std::fmax(d * kLog2e, -126.0f)));
      }
      cs.S = static_cast<float>(S);
      cs.T = static_cast<float>(T);
      cs.S1 = static_cast<float>(S1);
    }
    if (token >= c0 && token < c1) {
      cs.best = h.best;
      cs.best_x = x[token];
      cs.best_idx = token;
    }
    st = merge_states(st, cs, s);
  }
  h.want = finalize_row(st, s, bad, /*want_target=*/true);
  if (h.want.token < 0) return h;

  const double t = greedy ? 1.0 : kLog2eD / static_cast<double>(s);  // tau as the kernel sees it
  auto log_softmax_at = [&](double tt, int64_t idx, double* ent) {
    double mx = -INFINITY;
    for (float v : x) mx = std::fmax(mx, v / tt);
    double z = 0.0;
    for (float v : x) z += std::exp(v / tt - mx);
    const double lz = std::log(z);
    if (ent != nullptr) {
      *ent = 0.0;
      for (float v : x) {
        const double lp = v / tt - mx - lz;
        if (std::isfinite(lp)) *ent -= std::exp(lp) * lp;
      }
    }
    return x[idx] / tt - mx - lz;
  };
  h.logprob = log_softmax_at(t, h.want.token, &h.entropy);
  h.target = log_softmax_at(1.0, h.want.token, nullptr);
  return h;
}

enum class Kind { kFlat, kPeaked, kInvalid, kEdge };

// Row r of a test batch: flat N(0, 4) logits with masked entries; LM-like
// peaked rows (a low bulk and a few dozen strong candidates: most Philox groups
// fail filter 1); kInvalid: one row per flagged case (NaN, all -inf, +inf, bad
// temperature or position, a valid row, x / tau overflowing float); kEdge: equal maxima far apart (the
// first wins a greedy row, wherever the row is split), a row masked but for 7
// entries, and a sure token (log-prob 0 at low temperature).
float test_logit(Kind kind, int64_t r, int64_t i, int64_t V) {
  float v = 2.0f * next_normal();
  if (i % 97 == 5) v = -INFINITY;  // masked entries
  if (kind == Kind::kPeaked) {
    v = 0.5f * v - 6.0f;
    if ((i * 2654435761u + static_cast<uint64_t>(r)) % (V / 24 + 1) == 0) v = 8.0f + 4.0f * std::fabs(next_normal());
  }
  if (kind == Kind::kInvalid) {
    switch (r % 6) {
      case 0: if (i == V / 2) v = NAN; break;                // NaN
      case 1: v = -INFINITY; break;                          // nothing finite
      case 2: if (i == V - 1) v = INFINITY; break;           // +inf
      case 5: if (i == 7) v = 65504.0f; break;               // x / tau overflows (tau 1e-36)
      default: break;                                        // 3: bad tau / position, 4: valid
    }
  }
  if (kind == Kind::kEdge) {
    switch (r % 3) {
      case 0: if (i == 5 || i == 6 || i == 37 || i == V - 3) v = 50.0f; break;  // tied maxima: same
                                                             // lane, other lane, other split
      case 1: if ((i * 7919) % V >= 7) v = -INFINITY; break; // 7 live entries
      default: v = i == V / 3 ? 40.0f : std::fmin(v, 2.0f); break;  // a sure token
    }
  }
  return v;
}

struct Case {
  Kind kind;
  int64_t B, V, pad;  // pad != 0: rows are not 16-byte aligned
  float tau;
  bool positions = false;  // temperature from schedule positions instead
};

template <typename DT>
bool run_case(const Case& c, int& near_ties, double& max_dev) {
  using storage = typename DT::storage;
  const int64_t B = c.B, V = c.V;
  const int64_t stride = V + c.pad;
  std::vector<storage> host(static_cast<size_t>(B * stride + c.pad));
  const int64_t lead = c.pad;  // the first row starts `pad` entries in: unaligned as well
  std::vector<std::vector<float>> rows(B, std::vector<float>(V));
  for (int64_t r = 0; r < B; ++r) {
    for (int64_t i = 0; i < V; ++i) {
      float v = test_logit(c.kind, r, i, V);
      if constexpr (std::is_same_v<DT, F16>) {
        v = round_for_f16(v);
        host[lead + r * stride + i] = to_f16(v);
      } else if constexpr (std::is_same_v<DT, BF16>) {
        host[lead + r * stride + i] = to_bf16(v);
        v = from_bf16(to_bf16(v));
      } else {
        host[lead + r * stride + i] = v;
      }
      rows[r][i] = v;
    }
  }
  std::vector<float> temp(B, c.tau);
  std::vector<int64_t> pos(B);
  for (int64_t r = 0; r < B; ++r) pos[r] = (r * 97) % 600;  // across the cutoff and the annealing
  if (c.kind == Kind::kInvalid) {
    for (int64_t r = 0; r < B; ++r) {
      if (r % 6 == 3) {
        temp[r] = (r / 6) % 2 ? NAN : -1.0f;
        pos[r] = -1;
      }
      if (r % 6 == 5) temp[r] = 1e-36f;  // (positions: tau >= tau_min, a valid sure-token row)
    }
  }
  std::vector<int64_t> seeds(B), offsets(B);
  for (int64_t r = 0; r < B; ++r) {
    seeds[r] = 1234 + 7 * r;
    offsets[r] = r * 3;
  }

  const LaunchPlan plan = plan_launch<DT>(B, V);
  void *d_logits = nullptr, *d_ws = nullptr;
  float *d_temp = nullptr, *d_lp = nullptr, *d_tgt = nullptr, *d_ent = nullptr;
  int64_t *d_pos = nullptr, *d_seeds = nullptr, *d_offs = nullptr, *d_tok = nullptr;
  CHECK_CUDA(cudaMalloc(&d_logits, host.size() * sizeof(storage)));
  CHECK_CUDA(cudaMalloc(&d_temp, B * sizeof(float)));
  CHECK_CUDA(cudaMalloc(&d_pos, B * sizeof(int64_t)));
  CHECK_CUDA(cudaMalloc(&d_seeds, B * sizeof(int64_t)));
  CHECK_CUDA(cudaMalloc(&d_offs, B * sizeof(int64_t)));
  CHECK_CUDA(cudaMalloc(&d_tok, B * sizeof(int64_t)));
  CHECK_CUDA(cudaMalloc(&d_lp, B * sizeof(float)));
  CHECK_CUDA(cudaMalloc(&d_tgt, B * sizeof(float)));
  CHECK_CUDA(cudaMalloc(&d_ent, B * sizeof(float)));
  if (plan.workspace_bytes) CHECK_CUDA(cudaMalloc(&d_ws, plan.workspace_bytes));
  CHECK_CUDA(cudaMemcpy(d_logits, host.data(), host.size() * sizeof(storage), cudaMemcpyHostToDevice));
  CHECK_CUDA(cudaMemcpy(d_temp, temp.data(), B * sizeof(float), cudaMemcpyHostToDevice));
  CHECK_CUDA(cudaMemcpy(d_pos, pos.data(), B * sizeof(int64_t), cudaMemcpyHostToDevice));
  CHECK_CUDA(cudaMemcpy(d_seeds, seeds.data(), B * sizeof(int64_t), cudaMemcpyHostToDevice));
  CHECK_CUDA(cudaMemcpy(d_offs, offsets.data(), B * sizeof(int64_t), cudaMemcpyHostToDevice));

  SampleParams p{};
  p.logits = static_cast<storage*>(d_logits) + lead;
  p.batch = B;
  p.vocab = V;
  p.row_stride = stride;
  p.temperature = c.positions ? nullptr : d_temp;
  p.positions = c.positions ? d_pos : nullptr;
  p.schedule = kSchedule;
  p.seeds = d_seeds;
  p.offsets = d_offs;
  p.want_target = true;
  p.tokens = d_tok;
  p.logprobs = d_lp;
  p.target_logprobs = d_tgt;
  p.entropy = d_ent;
  attach_workspace(p, plan, d_ws);
  CHECK_CUDA(launch_sample<DT>(p, plan, nullptr));
  CHECK_CUDA(cudaDeviceSynchronize());

  std::vector<int64_t> tok(B);
  std::vector<float> lp(B), tgt(B), ent(B);
  CHECK_CUDA(cudaMemcpy(tok.data(), d_tok, B * sizeof(int64_t), cudaMemcpyDeviceToHost));
  CHECK_CUDA(cudaMemcpy(lp.data(), d_lp, B * sizeof(float), cudaMemcpyDeviceToHost));
  CHECK_CUDA(cudaMemcpy(tgt.data(), d_tgt, B * sizeof(float), cudaMemcpyDeviceToHost));
  CHECK_CUDA(cudaMemcpy(ent.data(), d_ent, B * sizeof(float), cudaMemcpyDeviceToHost));
  for (void* ptr : {d_logits, d_ws, static_cast<void*>(d_temp), static_cast<void*>(d_pos), static_cast<void*>(d_lp),
                    static_cast<void*>(d_tgt), static_cast<void*>(d_ent), static_cast<void*>(d_seeds),
                    static_cast<void*>(d_offs), static_cast<void*>(d_tok)}) {
    if (ptr) CHECK_CUDA(cudaFree(ptr));
  }

  bool ok = true;
  int flagged = 0;
  auto fail = [&](int64_t r, const char* what, const HostRow& h) {
    std::fprintf(stderr,
                 "  %s B=%lld V=%lld tau=%g row %lld: %s\n    kernel: token %lld logprob %.9g target %.9g entropy %.9g\n"
                 "    header: token %lld logprob %.9g target %.9g entropy %.9g (top scores %.9g, %.9g)\n",
                 DT::name, static_cast<long long>(B), static_cast<long long>(V), c.tau, static_cast<long long>(r),
                 what, static_cast<long long>(tok[r]), lp[r], tgt[r], ent[r], static_cast<long long>(h.want.token),
                 h.want.logprob, h.want.target_logprob, h.want.entropy, h.best, h.second);
    ok = false;
  };
  for (int64_t r = 0; r < B; ++r) {
    float s;
    bool greedy, bad;
    host_setup(temp[r], c.positions ? &pos[r] : nullptr, s, greedy, bad);
    const HostRow h = host_row(rows[r], s, greedy, bad, static_cast<uint64_t>(seeds[r]),
                               static_cast<uint64_t>(offsets[r]));
    if (c.kind == Kind::kInvalid && (h.want.token < 0) != (r % 6 != 4 && !(c.positions && r % 6 == 5))) {
      fail(r, "the test's own expectation: the header flags a different set of rows", h);
    }
    if (h.want.token < 0) {
      ++flagged;
      if (tok[r] != -1 || lp[r] == lp[r] || ent[r] == ent[r] || tgt[r] == tgt[r]) fail(r, "not flagged", h);
      continue;
    }
    if (tok[r] != h.want.token) {
      // The kernel's scores are the header's: in the CPU emulation bit for bit (same
      // log2f / log1pf), on a GPU up to the last ulps of its log2f / log1pf.
#if defined(EAD_CUDA_EMULATION_ACTIVE)
      const bool near_tie = false;
#else
      const bool near_tie = tok[r] >= 0 && h.best - h.second < 1e-4f * std::fmax(1.0f, std::fabs(h.best));
#endif
      if (near_tie) {
        ++near_ties;
      } else {
        fail(r, "token differs", h);
      }
      continue;
    }
    // The kernel against the header's float formulas (same terms, other summation order;
    // on a GPU its ex2.approx terms): a few ulps of the sums.
    const double dl = std::fabs(lp[r] - h.want.logprob) / (1.0 + std::fabs(h.want.logprob));
    const double dt = std::fabs(tgt[r] - h.want.target_logprob) / (1.0 + std::fabs(h.want.target_logprob));
    const double de = std::fabs(ent[r] - h.want.entropy) / (1.0 + std::fabs(h.want.entropy));
    max_dev = std::fmax(max_dev, std::fmax(dl, std::fmax(dt, de)));
    if (dl > 4e-6) fail(r, "logprob differs from the header's", h);
    if (dt > 4e-6) fail(r, "target logprob differs from the header's", h);
    if (de > 1e-5) fail(r, "entropy differs from the header's", h);
    if (!(lp[r] <= 0.0f && tgt[r] <= 0.0f)) fail(r, "positive log-prob", h);
    if (greedy || s == kLog2e) {
      if (lp[r] != tgt[r]) fail(r, "greedy / tau = 1 row: logprob != target", h);
    }
    // The header's formulas against float64 (the fp32 scaling costs ~2^-24 |x| / tau).
    float xmax = 0.0f;
    for (float v : rows[r]) {
      if (std::isfinite(v)) xmax = std::fmax(xmax, std::fabs(v));
    }
    const double tau = greedy ? 1.0 : kLog2eD / s;
    const double tol = 2e-5 + 2e-7 * xmax / tau;
    if (std::fabs(lp[r] - h.logprob) > tol + 1e-5 * std::fabs(h.logprob)) fail(r, "logprob vs float64", h);
    if (std::fabs(tgt[r] - h.target) > 2e-5 + 2e-7 * xmax + 1e-5 * std::fabs(h.target)) {
      fail(r, "target logprob vs float64", h);
    }
    if (std::fabs(ent[r] - h.entropy) > tol + 1e-5 * h.entropy) fail(r, "entropy vs float64", h);
  }
  static const char* kKindNames[] = {"flat", "peaked", "invalid", "edge"};
  std::printf("%-8s %-7s B=%-3lld V=%-6lld pad=%lld %s=%-4g splits=%-2d flagged=%lld: %s", DT::name,
              kKindNames[static_cast<int>(c.kind)], static_cast<long long>(B), static_cast<long long>(V),
              static_cast<long long>(c.pad), c.positions ? "pos" : "tau", c.positions ? -1.0 : c.tau, plan.splits,
              static_cast<long long>(flagged), ok ? "ok" : "FAILED");
#if defined(EAD_CUDA_EMULATION_ACTIVE)
  {  // emulation only: the share of the noise work the filters left
    auto& cnt = ead_emu::counters();
    if (cnt.groups_seen > 0) {
      std::printf("  (Philox on %.2f%% of groups, logs on %.3f%% of entries)",
                  100.0 * static_cast<double>(cnt.groups_drawn) / static_cast<double>(cnt.groups_seen),
                  100.0 * static_cast<double>(cnt.entries_noised) / (4.0 * static_cast<double>(cnt.groups_seen)));
    }
    cnt = ead_emu::Counters{};
  }
#endif
  std::printf("\n");
  std::fflush(stdout);
  return ok;
}

}  // namespace

int main(int argc, char** argv) {
  // --quick: small cases, what the CPU emulation runs in reasonable time (still covering
  // unaligned rows, tails, split rows and their last-block merge, masked entries, flagged
  // rows, greedy ties across splits, schedule positions and the three dtypes).
  const bool quick = argc > 1 && std::strcmp(argv[1], "--quick") == 0;
  int devices = 0;
  if (cudaGetDeviceCount(&devices) != cudaSuccess || devices == 0) {
    std::printf("ead standalone check: compiled (all kernel variants); no CUDA device, self-test skipped\n");
    return 0;
  }
  int near_ties = 0;
  double max_dev = 0.0;
  bool ok = true;
  const float taus[] = {1.0f, 0.7f, 0.0f};
  for (float tau : taus) {
    if (quick) {
      ok &= run_case<F32>({Kind::kFlat, 3, 1000, 3, tau}, near_ties, max_dev);
      ok &= run_case<BF16>({Kind::kPeaked, 2, 20011, 1, tau}, near_ties, max_dev);
      ok &= run_case<F16>({Kind::kFlat, 2, 9000, 0, tau}, near_ties, max_dev);
      continue;
    }
    ok &= run_case<F32>({Kind::kFlat, 3, 1, 0, tau}, near_ties, max_dev);
    ok &= run_case<F32>({Kind::kFlat, 5, 1000, 3, tau}, near_ties, max_dev);
    ok &= run_case<F32>({Kind::kFlat, 4, 151936, 0, tau}, near_ties, max_dev);
    ok &= run_case<F32>({Kind::kPeaked, 3, 151936, 0, tau}, near_ties, max_dev);
    ok &= run_case<BF16>({Kind::kFlat, 4, 151936, 0, tau}, near_ties, max_dev);
    ok &= run_case<BF16>({Kind::kPeaked, 4, 151936, 0, tau}, near_ties, max_dev);
    ok &= run_case<BF16>({Kind::kFlat, 6, 50257, 1, tau}, near_ties, max_dev);
    ok &= run_case<F16>({Kind::kFlat, 3, 32000, 0, tau}, near_ties, max_dev);
    ok &= run_case<F16>({Kind::kPeaked, 2, 300001, 5, tau}, near_ties, max_dev);
    ok &= run_case<F32>({Kind::kEdge, 6, 151936, 0, tau}, near_ties, max_dev);
  }
  // split rows (3 and 37 blocks of 8192 fp32 entries), V = 1, ties / masked rows / sure tokens
  ok &= run_case<F32>({Kind::kFlat, 1, 20000, 0, 0.5f}, near_ties, max_dev);
  ok &= run_case<F32>({Kind::kPeaked, 1, 300001, 1, 0.9f}, near_ties, max_dev);  // 37 partials: 2 warps merge
  ok &= run_case<F32>({Kind::kFlat, 3, 1, 0, 0.8f}, near_ties, max_dev);
  ok &= run_case<F32>({Kind::kEdge, 3, 20000, 0, 0.0f}, near_ties, max_dev);
  ok &= run_case<F32>({Kind::kEdge, 3, 20000, 1, 0.3f}, near_ties, max_dev);
  ok &= run_case<BF16>({Kind::kEdge, 3, 5000, 0, 0.05f}, near_ties, max_dev);
  ok &= run_case<F16>({Kind::kEdge, 3, 3001, 2, 1.0f}, near_ties, max_dev);
  // many short rows (each a block): winners near the filters' thresholds now and then
  ok &= run_case<F32>({Kind::kFlat, 256, 257, 0, 0.7f}, near_ties, max_dev);
  ok &= run_case<BF16>({Kind::kPeaked, 128, 2000, 1, 0.15f}, near_ties, max_dev);
  // temperatures from schedule positions (tau 1 before the cutoff, annealed after)
  ok &= run_case<BF16>({Kind::kFlat, 6, 4099, 1, 0.0f, true}, near_ties, max_dev);
  // flagged rows (NaN, all -inf, +inf, bad temperature / position, x / tau overflow) next
  // to valid ones, split and unsplit, tempered and greedy
  ok &= run_case<F32>({Kind::kInvalid, 6, 1000, 0, 1.0f}, near_ties, max_dev);
  ok &= run_case<BF16>({Kind::kInvalid, 12, 20000, 2, 0.5f}, near_ties, max_dev);
  ok &= run_case<F16>({Kind::kInvalid, 6, 9000, 0, 0.0f}, near_ties, max_dev);
  ok &= run_case<BF16>({Kind::kInvalid, 6, 4099, 0, 0.0f, true}, near_ties, max_dev);
  if (!quick) {
    ok &= run_case<F32>({Kind::kInvalid, 12, 151936, 1, 0.8f}, near_ties, max_dev);
    ok &= run_case<F16>({Kind::kFlat, 64, 50257, 0, 0.0f, true}, near_ties, max_dev);
  }
  std::printf("largest relative deviation from the header's float evaluation: %.3g\n", max_dev);
  std::printf("near-ties (token differs from the host where the top two scores are within 1e-4 relative): %d\n",
              near_ties);
  std::printf("ead standalone check: %s\n", ok ? "PASSED" : "FAILED");
  return ok ? 0 : 1;
}
