// The arguments of one ead::sample call as plain pointers, shared by the CPU
// kernel, the CUDA kernel and its torch-free launcher (every pointer is memory of
// the device that runs the kernel), and the per-row set-up that reads them.
#pragma once
#include <cstdint>

#include "ead/macros.h"
#include "ead/sampling_math.h"
#include "ead/schedule.h"

namespace ead {

enum class LogitsDtype : int { kFloat32, kBFloat16, kFloat16 };

struct SampleArgs {
  const void* logits;        // [batch, vocab], rows `row_stride` elements apart, last dim contiguous
  LogitsDtype dtype;
  int64_t batch;
  int64_t vocab;
  int64_t row_stride;        // elements
  const float* temperature;  // [batch] or nullptr when positions are given
  const int64_t* positions;  // [batch] or nullptr
  ScheduleParams schedule;   // used with positions
  const int64_t* seeds;      // [batch]
  const int64_t* offsets;    // [batch]
  bool want_target;
  int64_t* tokens;           // [batch]
  float* logprobs;           // [batch]
  float* target_logprobs;    // [batch] or nullptr
  float* entropy;            // [batch] or nullptr
  // CUDA only (workspace of the launch plan): chunk states [batch, chunks] and
  // one arrival ticket per row (zeroed before the launch).
  ChunkState* chunk_states;
  unsigned int* tickets;
  int chunks_per_block;
  int blocks_per_row;
};

EAD_HOST_DEVICE int64_t num_chunks(int64_t vocab) { return (vocab + kChunkSize - 1) / kChunkSize; }

// Entries of chunk c (the last chunk may be short).
EAD_HOST_DEVICE int64_t chunk_length(int64_t vocab, int64_t c) {
  const int64_t rest = vocab - c * kChunkSize;
  return rest < kChunkSize ? rest : kChunkSize;
}

// Writes row r's results to the outputs that were asked for.
EAD_HOST_DEVICE void store_result(const SampleArgs& a, int64_t r, const RowResult& res) {
  a.tokens[r] = res.token;
  a.logprobs[r] = res.logprob;
  if (a.target_logprobs != nullptr) a.target_logprobs[r] = res.target_logprob;
  if (a.entropy != nullptr) a.entropy[r] = res.entropy;
}

// Row r's set-up (sampling_math.h make_row_setup) from the call's arguments.
EAD_HOST_DEVICE RowSetup setup_row(const SampleArgs& a, int64_t r) {
  if (a.positions != nullptr) {
    const int64_t t = a.positions[r];
    return make_row_setup(t < 0 ? 1.0f : schedule_temperature(t, a.schedule), t < 0, a.want_target);
  }
  return make_row_setup(a.temperature[r], false, a.want_target);
}

}  // namespace ead
