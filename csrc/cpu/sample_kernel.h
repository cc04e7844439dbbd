// Interface between the CPU op (csrc/cpu/sample_cpu.cpp) and the kernel, which
// is compiled once per CPU capability (default, AVX2, AVX512) and picked at run
// time, the way ATen's DispatchStub does it.
#pragma once
#include <cstdint>

#include <c10/core/ScalarType.h>

#include "ead/schedule.h"

namespace ead::cpu {

struct SampleArgs {
  const void* logits;
  c10::ScalarType dtype;
  int64_t batch;
  int64_t vocab;
  int64_t row_stride;      // in elements; the last dimension is contiguous
  const float* temperature;  // [B] or nullptr when positions are given
  const int64_t* positions;  // [B] or nullptr
  ScheduleParams schedule;   // used with positions
  const int64_t* seeds;      // [B]
  const int64_t* offsets;    // [B]
  bool want_target;
  int64_t* tokens;           // [B]
  float* logprobs;           // [B]
  float* target_logprobs;    // [B] or nullptr
  float* entropy;            // [B] or nullptr
};

// Vocabulary entries per work item: a multiple of 16 (whole Philox groups and
// whole vectors at every width) that keeps a converted chunk (16 KB) in L1.
constexpr int64_t kChunk = 4096;

namespace DEFAULT { void sample_rows(const SampleArgs& args); }
namespace AVX2 { void sample_rows(const SampleArgs& args); }
namespace AVX512 { void sample_rows(const SampleArgs& args); }

}  // namespace ead::cpu
