// Torch-free launcher of the CUDA sampling kernel: the CI compile check (built
// for sm_80 and sm_90 with -Werror, see CMakeLists.txt) instantiates every
// kernel variant through it; on a machine with a GPU (or in the CPU emulation,
// csrc/cuda/emulation) it also runs a self-test against an unfiltered host
// evaluation of the two-level draw with the shared header (ead/sampling_math.h):
// per-chunk ChunkStates summed sequentially, merge_states in chunk order, the
// chunk_score argmax, entry_score over every entry of the chosen chunk, the
// greedy rule, row_is_invalid and finalize_row.
// Tokens must agree exactly, except counted near-ties: two chunk scores within
// the float rounding of the chunk sums (the kernel sums in another order), or,
// on a GPU only, two token scores within 1e-9 relative (its double log2 /
// log1p). Log-probs and entropy must match the header's evaluation to a few ulps
// and a float64 log-softmax to the fp32 scaling error. Forcing other chunk
// groupings and running a row alone (B = 1) must give bitwise-identical outputs.
// Without a GPU it says so and exits 0.
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
// Host evaluation of a row with the shared header, unfiltered and independent
// of the kernel's work split and summation order.

constexpr ScheduleParams kSchedule{1.2, 0.1, 25.0, 10, 20.0};

// Pass 1 of one chunk: sums in double, rounded once (the kernel's float sums
// differ by a few ulps, which moves chunk scores by ~1e-7 relative).
ChunkState host_chunk_state(const float* x, int64_t n, float s, bool target) {
  ChunkState cs = empty_state();
  bool nan = false;
  for (int64_t i = 0; i < n; ++i) {
    if (x[i] != x[i]) {
      nan = true;
    } else {
      cs.max_x = std::fmax(cs.max_x, x[i]);
    }
  }
  if (nan) {
    cs.max_x = NAN;
    return cs;
  }
  if (!(cs.max_x > -INFINITY) || !(cs.max_x * s < INFINITY)) return cs;
  double S = 0.0, T = 0.0, S1 = 0.0;
  for (int64_t i = 0; i < n; ++i) {
    const float d = x[i] - cs.max_x;
    const float a = std::fmax(d * s, -126.0f);
    const double w = std::exp2(static_cast<double>(a));
    S += w;
    T += w * a;
    if (target) S1 += std::exp2(static_cast<double>(std::fmax(d * kLog2e, -126.0f)));
  }
  cs.S = static_cast<float>(S);
  cs.T = static_cast<float>(T);
  cs.S1 = static_cast<float>(S1);
  return cs;
}

struct HostRow {
  RowSetup rs;
  ChunkState merged;
  std::vector<double> chunk_scores;  // tempered rows
  int64_t chunk = -1;                // -1: the row is flagged
};

HostRow host_row(const std::vector<float>& x, const RowSetup& rs, uint64_t seed, uint64_t offset) {
  HostRow h;
  h.rs = rs;
  h.merged = empty_state();
  if (rs.bad) return h;
  const int64_t V = static_cast<int64_t>(x.size());
  const int64_t nc = num_chunks(V);
  std::vector<ChunkState> st(nc);
  for (int64_t c = 0; c < nc; ++c) {
    st[c] = host_chunk_state(x.data() + c * kChunkSize, chunk_length(V, c), rs.s, rs.target);
    h.merged = merge_states(h.merged, st[c], rs.s);
  }
  if (row_is_invalid(h.merged, rs)) return h;
  double best = -INFINITY;
  for (int64_t c = 0; c < nc; ++c) {
    if (rs.greedy) {
      if (st[c].max_x == h.merged.max_x) {
        h.chunk = c;
        break;
      }
      continue;
    }
    const double sc = chunk_score(st[c], h.merged.max_x, rs.s, seed, offset, static_cast<uint32_t>(c));
    h.chunk_scores.push_back(sc);
    if (sc > -INFINITY && beats(sc, c, best, h.chunk)) {
      best = sc;
      h.chunk = c;
    }
  }
  return h;
}

// Step 2 over every entry of chunk c; `second`: the runner-up's score.
int64_t host_pick_token(const std::vector<float>& x, int64_t c, const HostRow& h, uint64_t seed, uint64_t offset,
                        double* best_out, double* second_out) {
  const int64_t V = static_cast<int64_t>(x.size());
  const int64_t b = c * kChunkSize, e = b + chunk_length(V, c);
  if (h.rs.greedy) {
    for (int64_t i = b; i < e; ++i) {
      if (x[i] == h.merged.max_x) return i;
    }
    return -1;
  }
  double best = -INFINITY, second = -INFINITY;
  int64_t token = -1;
  for (int64_t i = b; i < e; ++i) {
    const double sc = entry_score(x[i] * h.rs.s, entry_word(seed, offset, static_cast<uint32_t>(i)));
    if (beats(sc, i, best, token)) {
      if (token >= 0) second = best;
      best = sc;
      token = i;
    } else if (sc > second) {
      second = sc;
    }
  }
  *best_out = best;
  *second_out = second;
  return token;
}

// float64 log-softmax at temperature tt of entry idx (and the entropy).
double log_softmax_at(const std::vector<float>& x, double tt, int64_t idx, double* ent) {
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
}

enum class Kind { kFlat, kPeaked, kInvalid, kEdge };

// Row r of a test batch: flat N(0, 4) logits with masked entries; LM-like
// peaked rows (a low bulk and a few dozen strong candidates: most entries fail
// the filters); kInvalid: one row per flagged case (NaN, all -inf, +inf, bad
// temperature or position, a valid row, x / tau overflowing float); kEdge: equal
// maxima far apart (in chunk 0, or first in chunk 1: the first wins a greedy
// row), a row masked but for 7 entries, and a sure token (log-prob 0 at low
// temperature).
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
    switch (r % 4) {
      case 0: if (i == 5 || i == 6 || i == 37 || i == V - 3) v = 50.0f; break;  // tied maxima: same
                                                             // thread, other lane, other chunk
      case 1: if ((i * 7919) % V >= 7) v = -INFINITY; break; // 7 live entries
      case 2: v = i == V / 3 ? 40.0f : std::fmin(v, 2.0f); break;  // a sure token
      default: if (i == V / 2 + 1 || i == V / 2 + 2 || i == V - 1) v = 50.0f; break;  // ties, later chunks
    }
  }
  return v;
}

struct Case {
  Kind kind;
  int64_t B, V, pad;  // pad != 0: rows are not 16-byte aligned
  float tau;
  bool positions = false;  // temperature from schedule positions instead
  bool invariance = false;  // also forced groupings and the last row alone: same bits
};

struct Outputs {
  std::vector<int64_t> tok;
  std::vector<float> lp, tgt, ent;
};

struct Inputs {
  const void* host;  // the whole batch, `lead` entries of padding first
  size_t elem;       // bytes per entry
  int64_t lead, stride, V;
  LogitsDtype dtype;
  std::vector<float> temp;
  std::vector<int64_t> pos, seeds, offsets;
  bool positions;
};

// Runs rows [r0, r0 + B) of `in` on the device with the given grouping (0: the
// plan's own). The rows are copied with the `lead` entries before row r0, so a
// sub-batch's alignment differs from the full batch's whenever r0 * stride is
// not a multiple of 16 bytes: the unaligned path must give the same bits too.
bool run_kernel(const Inputs& in, int64_t r0, int64_t B, int cpb, Outputs& out, LaunchPlan& plan) {
  plan = plan_launch(B, in.V, cpb);
  const size_t entries = static_cast<size_t>(in.lead + (B - 1) * in.stride + in.V);
  const char* src = static_cast<const char*>(in.host) + static_cast<size_t>(r0 * in.stride) * in.elem;
  void *d_logits = nullptr, *d_ws = nullptr;
  float *d_temp = nullptr, *d_lp = nullptr, *d_tgt = nullptr, *d_ent = nullptr;
  int64_t *d_pos = nullptr, *d_seeds = nullptr, *d_offs = nullptr, *d_tok = nullptr;
  CHECK_CUDA(cudaMalloc(&d_logits, entries * in.elem));
  CHECK_CUDA(cudaMalloc(&d_temp, B * sizeof(float)));
  CHECK_CUDA(cudaMalloc(&d_pos, B * sizeof(int64_t)));
  CHECK_CUDA(cudaMalloc(&d_seeds, B * sizeof(int64_t)));
  CHECK_CUDA(cudaMalloc(&d_offs, B * sizeof(int64_t)));
  CHECK_CUDA(cudaMalloc(&d_tok, B * sizeof(int64_t)));
  CHECK_CUDA(cudaMalloc(&d_lp, B * sizeof(float)));
  CHECK_CUDA(cudaMalloc(&d_tgt, B * sizeof(float)));
  CHECK_CUDA(cudaMalloc(&d_ent, B * sizeof(float)));
  CHECK_CUDA(cudaMalloc(&d_ws, plan.workspace_bytes));
  CHECK_CUDA(cudaMemcpy(d_logits, src, entries * in.elem, cudaMemcpyHostToDevice));
  CHECK_CUDA(cudaMemcpy(d_temp, in.temp.data() + r0, B * sizeof(float), cudaMemcpyHostToDevice));
  CHECK_CUDA(cudaMemcpy(d_pos, in.pos.data() + r0, B * sizeof(int64_t), cudaMemcpyHostToDevice));
  CHECK_CUDA(cudaMemcpy(d_seeds, in.seeds.data() + r0, B * sizeof(int64_t), cudaMemcpyHostToDevice));
  CHECK_CUDA(cudaMemcpy(d_offs, in.offsets.data() + r0, B * sizeof(int64_t), cudaMemcpyHostToDevice));

  SampleArgs a{};
  a.logits = static_cast<const char*>(d_logits) + static_cast<size_t>(in.lead) * in.elem;
  a.dtype = in.dtype;
  a.batch = B;
  a.vocab = in.V;
  a.row_stride = in.stride;
  a.temperature = in.positions ? nullptr : d_temp;
  a.positions = in.positions ? d_pos : nullptr;
  a.schedule = kSchedule;
  a.seeds = d_seeds;
  a.offsets = d_offs;
  a.want_target = true;
  a.tokens = d_tok;
  a.logprobs = d_lp;
  a.target_logprobs = d_tgt;
  a.entropy = d_ent;
  attach_workspace(a, plan, d_ws);
  CHECK_CUDA(launch_sample(a, plan, nullptr));
  CHECK_CUDA(cudaDeviceSynchronize());

  out.tok.assign(B, 0);
  out.lp.assign(B, 0.0f);
  out.tgt.assign(B, 0.0f);
  out.ent.assign(B, 0.0f);
  CHECK_CUDA(cudaMemcpy(out.tok.data(), d_tok, B * sizeof(int64_t), cudaMemcpyDeviceToHost));
  CHECK_CUDA(cudaMemcpy(out.lp.data(), d_lp, B * sizeof(float), cudaMemcpyDeviceToHost));
  CHECK_CUDA(cudaMemcpy(out.tgt.data(), d_tgt, B * sizeof(float), cudaMemcpyDeviceToHost));
  CHECK_CUDA(cudaMemcpy(out.ent.data(), d_ent, B * sizeof(float), cudaMemcpyDeviceToHost));
  for (void* ptr : {d_logits, d_ws, static_cast<void*>(d_temp), static_cast<void*>(d_pos), static_cast<void*>(d_lp),
                    static_cast<void*>(d_tgt), static_cast<void*>(d_ent), static_cast<void*>(d_seeds),
                    static_cast<void*>(d_offs), static_cast<void*>(d_tok)}) {
    CHECK_CUDA(cudaFree(ptr));
  }
  return true;
}

bool same_bits(float a, float b) { return std::memcmp(&a, &b, sizeof(float)) == 0; }

struct Tally {
  int chunk_near_ties = 0;
  int token_near_ties = 0;
  double max_dev = 0.0;     // kernel vs the header's evaluation (relative)
  double max_dev64 = 0.0;   // kernel vs float64, in units of the tolerance
};

// ---- run_case, by phase: the test's logits, the kernel's arguments, the kernel, each row
// checked (flagged, token, statistics), the batch invariance, the case's line.

// The logits of case `c` as the kernel reads them (`host`: in the dtype, `lead` entries of padding
// first, rows `stride` apart) and as the host evaluation reads them (`rows`: the same values in float).
template <typename DT>
void make_logits(const Case& c, std::vector<typename DT::storage>& host, std::vector<std::vector<float>>& rows) {
  const int64_t B = c.B, V = c.V, stride = V + c.pad, lead = c.pad;
  host.assign(static_cast<size_t>(B * stride + c.pad), typename DT::storage{});
  rows.assign(B, std::vector<float>(V));
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
}

// The kernel's per-row arguments: temperatures (or schedule positions), seeds and offsets; the
// invalid kind adds bad temperatures / positions and a tiny tau on chosen rows.
Inputs make_inputs(const Case& c, const void* host, size_t elem, LogitsDtype dtype) {
  const int64_t B = c.B;
  Inputs in;
  in.host = host;
  in.elem = elem;
  in.lead = c.pad;  // the first row starts `pad` entries in: unaligned as well
  in.stride = c.V + c.pad;
  in.V = c.V;
  in.dtype = dtype;
  in.positions = c.positions;
  in.temp.assign(B, c.tau);
  in.pos.resize(B);
  for (int64_t r = 0; r < B; ++r) in.pos[r] = (r * 97) % 600;  // across the cutoff and the annealing
  if (c.kind == Kind::kInvalid) {
    for (int64_t r = 0; r < B; ++r) {
      if (r % 6 == 3) {
        in.temp[r] = (r / 6) % 2 ? NAN : -1.0f;
        in.pos[r] = -1;
      }
      if (r % 6 == 5) in.temp[r] = 1e-36f;  // (positions: tau >= tau_min, a valid sure-token row)
    }
  }
  in.seeds.resize(B);
  in.offsets.resize(B);
  for (int64_t r = 0; r < B; ++r) {
    in.seeds[r] = 1234 + 7 * r;
    in.offsets[r] = r * 3;
  }
  return in;
}

// The failures of one case: each printed with the kernel's outputs for its row.
struct Failures {
  const char* dtype_name;
  const Case& c;
  const Outputs& o;
  bool ok = true;
  void operator()(int64_t r, const char* what, int64_t want_token) {
    std::fprintf(stderr,
                 "  %s B=%lld V=%lld tau=%g row %lld: %s\n    kernel: token %lld logprob %.9g target %.9g "
                 "entropy %.9g; host token %lld\n",
                 dtype_name, static_cast<long long>(c.B), static_cast<long long>(c.V), c.tau,
                 static_cast<long long>(r), what, static_cast<long long>(o.tok[r]), o.lp[r], o.tgt[r], o.ent[r],
                 static_cast<long long>(want_token));
    ok = false;
  }
};

// One row's draw, as the header evaluates it on the host.
struct RowCase {
  const std::vector<float>& x;
  RowSetup rs;
  uint64_t seed, offset;
  HostRow h;
};

// The kernel's token against the header's pick: equal, or a counted near-tie (chunk level: two chunk
// scores within the float rounding of the chunk sums and the kernel's token the host's pick in its
// chunk; token level, on a GPU only: the last ulps of its double log2 / log1p). False: reported.
// `want`: the header's token.
bool check_token(const RowCase& w, int64_t r, const Outputs& o, Tally& tally, Failures& fail, int64_t& want) {
  double best = 0.0, second = 0.0;
  want = host_pick_token(w.x, w.h.chunk, w.h, w.seed, w.offset, &best, &second);
  if (o.tok[r] < 0 || o.tok[r] >= static_cast<int64_t>(w.x.size())) {
    fail(r, "no token / token out of range", want);
    return false;
  }
  if (o.tok[r] == want) return true;
  const int64_t kc = o.tok[r] / kChunkSize;
  if (kc != w.h.chunk) {
    const double a = w.h.chunk_scores.empty() ? 0.0 : w.h.chunk_scores[w.h.chunk];
    const double b = w.h.chunk_scores.empty() ? -INFINITY : w.h.chunk_scores[kc];
    double b2 = 0.0, s2 = 0.0;
    if (std::fabs(a - b) < 1e-5 * std::fmax(1.0, std::fabs(a)) &&
        host_pick_token(w.x, kc, w.h, w.seed, w.offset, &b2, &s2) == o.tok[r]) {
      ++tally.chunk_near_ties;
      return true;
    }
    fail(r, "chunk differs (not a near-tie)", want);
    return false;
  }
  // Token level: the scores are the header's, in the emulation bit for bit.
#if defined(EAD_CUDA_EMULATION_ACTIVE)
  const bool near_tie = false;
#else
  const bool near_tie = !w.h.rs.greedy && best - second < 1e-9 * std::fmax(1.0, std::fabs(best));
#endif
  if (near_tie) {
    ++tally.token_near_ties;
    return true;
  }
  fail(r, "token differs", want);
  return false;
}

// Statistics of the kernel's token against the header's (same terms, other summation order; on a
// GPU its ex2.approx terms: a few ulps of the sums) and against float64 (the fp32 scaling costs
// ~2^-24 |x| / tau).
void check_statistics(const RowCase& w, int64_t r, int64_t want, const Outputs& o, Tally& tally, Failures& fail) {
  const int64_t t = o.tok[r];
  const std::vector<float>& x = w.x;
  const RowResult hr = finalize_row(w.h.merged, w.rs, t, x[t], true);
  const double dl = std::fabs(o.lp[r] - hr.logprob) / (1.0 + std::fabs(hr.logprob));
  const double dt = std::fabs(o.tgt[r] - hr.target_logprob) / (1.0 + std::fabs(hr.target_logprob));
  const double de = std::fabs(o.ent[r] - hr.entropy) / (1.0 + std::fabs(hr.entropy));
  tally.max_dev = std::fmax(tally.max_dev, std::fmax(dl, std::fmax(dt, de)));
  if (dl > 4e-6) fail(r, "logprob differs from the header's", want);
  if (dt > 4e-6) fail(r, "target logprob differs from the header's", want);
  if (de > 1e-5) fail(r, "entropy differs from the header's", want);
  if (!(o.lp[r] <= 0.0f && o.tgt[r] <= 0.0f)) fail(r, "positive log-prob", want);
  if (w.rs.greedy || w.rs.s == kLog2e) {
    if (!same_bits(o.lp[r], o.tgt[r])) fail(r, "greedy / tau = 1 row: logprob != target", want);
  }
  float xmax = 0.0f;
  for (float v : x) {
    if (std::isfinite(v)) xmax = std::fmax(xmax, std::fabs(v));
  }
  const double tau = w.rs.greedy ? 1.0 : kLog2eD / w.rs.s;  // tau as the kernel sees it
  double ent64 = 0.0;
  const double lp64 = log_softmax_at(x, tau, t, &ent64);
  const double tgt64 = log_softmax_at(x, 1.0, t, nullptr);
  const double tol = 2e-5 + 2e-7 * xmax / tau;
  const double tl = tol + 1e-5 * std::fabs(lp64), tt = 2e-5 + 2e-7 * xmax + 1e-5 * std::fabs(tgt64),
               te = tol + 1e-5 * ent64;
  tally.max_dev64 = std::fmax(tally.max_dev64, std::fmax(std::fabs(o.lp[r] - lp64) / tl,
                                                         std::fmax(std::fabs(o.tgt[r] - tgt64) / tt,
                                                                   std::fabs(o.ent[r] - ent64) / te)));
  if (std::fabs(o.lp[r] - lp64) > tl) fail(r, "logprob vs float64", want);
  if (std::fabs(o.tgt[r] - tgt64) > tt) fail(r, "target logprob vs float64", want);
  if (std::fabs(o.ent[r] - ent64) > te) fail(r, "entropy vs float64", want);
}

// Every row of the case; returns how many the kernel flagged (token -1, NaN outputs) as it must.
int check_rows(const Case& c, const Inputs& in, const std::vector<std::vector<float>>& rows, const Outputs& o,
               Tally& tally, Failures& fail) {
  // The host's view of the same arguments, for the one per-row set-up function.
  SampleArgs host_args{};
  host_args.temperature = c.positions ? nullptr : in.temp.data();
  host_args.positions = c.positions ? in.pos.data() : nullptr;
  host_args.schedule = kSchedule;
  host_args.want_target = true;
  int flagged = 0;
  for (int64_t r = 0; r < c.B; ++r) {
    const RowSetup rs = setup_row(host_args, r);
    const uint64_t seed = static_cast<uint64_t>(in.seeds[r]), offset = static_cast<uint64_t>(in.offsets[r]);
    const RowCase w{rows[r], rs, seed, offset, host_row(rows[r], rs, seed, offset)};
    if (c.kind == Kind::kInvalid && (w.h.chunk < 0) != (r % 6 != 4 && !(c.positions && r % 6 == 5))) {
      fail(r, "the test's own expectation: the header flags a different set of rows", -1);
    }
    if (w.h.chunk < 0) {
      ++flagged;
      if (o.tok[r] != -1 || o.lp[r] == o.lp[r] || o.ent[r] == o.ent[r] || o.tgt[r] == o.tgt[r]) {
        fail(r, "not flagged", -1);
      }
      continue;
    }
    int64_t want = -1;
    if (check_token(w, r, o, tally, fail, want)) check_statistics(w, r, want, o, tally, fail);
  }
  return flagged;
}

// Batch invariance: other chunk groupings (one chunk a block, 3, 8, and 19: warps with several
// chunks) and the last row alone must give the same bits. Returns the runs compared, -1 when a
// launch failed.
int check_invariance(const Inputs& in, int64_t B, const LaunchPlan& plan, const Outputs& o, Failures& fail) {
  auto compare = [&](const Outputs& q, int64_t r0, const char* what) {
    for (size_t i = 0; i < q.tok.size(); ++i) {
      const int64_t r = r0 + static_cast<int64_t>(i);
      if (q.tok[i] != o.tok[r] || !same_bits(q.lp[i], o.lp[r]) || !same_bits(q.tgt[i], o.tgt[r]) ||
          !same_bits(q.ent[i], o.ent[r])) {
        fail(r, what, q.tok[i]);
      }
    }
  };
  int variants = 0;
  for (int cpb : {1, 3, 8, 19}) {
    Outputs q;
    LaunchPlan qp;
    if (std::min<int64_t>(cpb, plan.n_chunks) == plan.chunks_per_block) continue;
    if (!run_kernel(in, 0, B, cpb, q, qp)) return -1;
    compare(q, 0, "other chunk grouping: outputs differ");
    ++variants;
  }
  Outputs q;
  LaunchPlan qp;
  if (!run_kernel(in, B - 1, 1, 0, q, qp)) return -1;
  compare(q, B - 1, "row alone (B = 1): outputs differ");
  return variants + 1;
}

// The case's one line (and, in the emulation, the share of entries its filters left to score).
void print_case(const char* dtype_name, const Case& c, const LaunchPlan& plan, int flagged, int variants, bool ok) {
  static const char* kKindNames[] = {"flat", "peaked", "invalid", "edge"};
  std::printf("%-8s %-7s B=%-3lld V=%-6lld pad=%lld %s=%-5g chunks=%-3lld cpb=%d x %-3d flagged=%-2d", dtype_name,
              kKindNames[static_cast<int>(c.kind)], static_cast<long long>(c.B), static_cast<long long>(c.V),
              static_cast<long long>(c.pad), c.positions ? "pos" : "tau", c.positions ? -1.0 : c.tau,
              static_cast<long long>(plan.n_chunks), plan.chunks_per_block, plan.blocks_per_row, flagged);
  if (variants > 0) std::printf(" invariant over %d runs", variants);
#if defined(EAD_CUDA_EMULATION_ACTIVE)
  {  // emulation only: the share of the chosen chunks the filters left to score
    auto& cnt = ead_emu::counters();
    if (cnt.entries_picked > 0) {
      std::printf(" (scored %.2f%% of picked entries, Philox on %.2f%% of pairs)",
                  100.0 * static_cast<double>(cnt.entries_scored) / static_cast<double>(cnt.entries_picked),
                  200.0 * static_cast<double>(cnt.pairs_drawn) / static_cast<double>(cnt.entries_picked));
    }
    cnt = ead_emu::Counters{};
  }
#endif
  std::printf(": %s\n", ok ? "ok" : "FAILED");
  std::fflush(stdout);
}

template <typename DT>
bool run_case(const Case& c, Tally& tally) {
  std::vector<typename DT::storage> host;
  std::vector<std::vector<float>> rows;
  make_logits<DT>(c, host, rows);
  const LogitsDtype dtype = std::is_same_v<DT, F32>    ? LogitsDtype::kFloat32
                            : std::is_same_v<DT, BF16> ? LogitsDtype::kBFloat16
                                                       : LogitsDtype::kFloat16;
  const Inputs in = make_inputs(c, host.data(), sizeof(typename DT::storage), dtype);
  Outputs o;
  LaunchPlan plan;
  if (!run_kernel(in, 0, c.B, 0, o, plan)) return false;
  Failures fail{DT::name, c, o};
  const int flagged = check_rows(c, in, rows, o, tally, fail);
  const int variants = c.invariance ? check_invariance(in, c.B, plan, o, fail) : 0;
  if (variants < 0) return false;
  print_case(DT::name, c, plan, flagged, variants, fail.ok);
  return fail.ok;
}

}  // namespace

int main(int argc, char** argv) {
  // --quick: small cases, what the CPU emulation runs in reasonable time (still covering
  // unaligned rows, tails, rows of many chunks and blocks and their last-block merge,
  // masked entries, flagged rows, greedy ties across chunks, schedule positions, the three
  // dtypes and the batch invariance).
  const bool quick = argc > 1 && std::strcmp(argv[1], "--quick") == 0;
  int devices = 0;
  if (cudaGetDeviceCount(&devices) != cudaSuccess || devices == 0) {
    std::printf("ead standalone check: compiled (all kernel variants); no CUDA device, self-test skipped\n");
    return 0;
  }
  Tally t;
  bool ok = true;
  const float taus[] = {1.0f, 0.7f, 0.0f};
  for (float tau : taus) {
    if (quick) {
      ok &= run_case<F32>({Kind::kFlat, 3, 1000, 3, tau}, t);
      ok &= run_case<BF16>({Kind::kPeaked, 2, 20011, 1, tau, false, true}, t);
      ok &= run_case<F16>({Kind::kFlat, 2, 9000, 0, tau}, t);
      continue;
    }
    ok &= run_case<F32>({Kind::kFlat, 3, 1, 0, tau}, t);
    ok &= run_case<F32>({Kind::kFlat, 5, 1000, 3, tau}, t);
    ok &= run_case<F32>({Kind::kFlat, 4, 151936, 0, tau}, t);
    ok &= run_case<F32>({Kind::kPeaked, 3, 151936, 0, tau}, t);
    ok &= run_case<BF16>({Kind::kFlat, 4, 151936, 0, tau, false, true}, t);
    ok &= run_case<BF16>({Kind::kPeaked, 4, 151936, 0, tau}, t);
    ok &= run_case<BF16>({Kind::kFlat, 6, 50257, 1, tau}, t);
    ok &= run_case<F16>({Kind::kFlat, 3, 32000, 0, tau}, t);
    ok &= run_case<F16>({Kind::kPeaked, 2, 300001, 5, tau}, t);
    ok &= run_case<F32>({Kind::kEdge, 8, 151936, 0, tau}, t);
  }
  // rows of many chunks at B = 1 (one chunk a block: 10 and 147 blocks, 147 chunks: lanes
  // merge 4-5 chunks each), V = 1, ties / masked rows / sure tokens
  ok &= run_case<F32>({Kind::kFlat, 1, 20000, 0, 0.5f}, t);
  ok &= run_case<F32>({Kind::kPeaked, 1, 300001, 1, 0.9f}, t);
  ok &= run_case<F32>({Kind::kFlat, 3, 1, 0, 0.8f}, t);
  ok &= run_case<F32>({Kind::kEdge, 4, 20000, 0, 0.0f, false, true}, t);
  ok &= run_case<F32>({Kind::kEdge, 4, 20000, 1, 0.3f}, t);
  ok &= run_case<BF16>({Kind::kEdge, 4, 5000, 0, 0.05f}, t);
  ok &= run_case<F16>({Kind::kEdge, 4, 3001, 2, 1.0f, false, true}, t);
  // many short rows (one block each), and enough chunks for the plan's own 8-chunk blocks
  ok &= run_case<F32>({Kind::kFlat, 256, 257, 0, 0.7f}, t);
  ok &= run_case<BF16>({Kind::kPeaked, 128, 2000, 1, 0.15f}, t);
  ok &= run_case<BF16>({Kind::kFlat, 96, 45000, 1, 0.6f}, t);
  // temperatures from schedule positions (tau 1 before the cutoff, annealed after)
  ok &= run_case<BF16>({Kind::kFlat, 6, 4099, 1, 0.0f, true}, t);
  // flagged rows (NaN, all -inf, +inf, bad temperature / position, x / tau overflow) next
  // to valid ones, one chunk and several, tempered and greedy
  ok &= run_case<F32>({Kind::kInvalid, 6, 1000, 0, 1.0f}, t);
  ok &= run_case<BF16>({Kind::kInvalid, 12, 20000, 2, 0.5f, false, true}, t);
  ok &= run_case<F16>({Kind::kInvalid, 6, 9000, 0, 0.0f}, t);
  ok &= run_case<BF16>({Kind::kInvalid, 6, 4099, 0, 0.0f, true}, t);
  if (!quick) {
    ok &= run_case<F32>({Kind::kInvalid, 12, 151936, 1, 0.8f}, t);
    ok &= run_case<F16>({Kind::kFlat, 64, 50257, 0, 0.0f, true}, t);
  }
  std::printf("largest relative deviation from the header's evaluation: %.3g; from float64: %.3g of the tolerance\n",
              t.max_dev, t.max_dev64);
  std::printf("near-ties accepted (token differs from the host's): chunk level %d (scores within 1e-5 relative), "
              "token level %d (within 1e-9 relative)\n",
              t.chunk_near_ties, t.token_near_ties);
  std::printf("ead standalone check: %s\n", ok ? "PASSED" : "FAILED");
  return ok ? 0 : 1;
}
