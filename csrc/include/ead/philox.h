// Philox4x32-10 (Salmon et al., "Parallel random numbers: as easy as 1, 2, 3",
// SC'11), the counter-based generator shared by the CPU kernel, the CUDA kernel
// and (re-implemented in NumPy) the Python reference.
//
// Why counter-based: the noise for vocabulary entry v of a row is a pure function
// of (seed, offset, v), so a row draws the same token whatever the batch size,
// row order, thread count or the way the vocabulary is split across workers.
//
// Stream layout (must match ead_ext/reference.py): each draw takes one 64-bit
// word, two per Philox call, keyed by the row's seed and counted by its offset:
//   key     = (seed_lo32, seed_hi32)
//   counter = (index / 2, level, offset_lo32, offset_hi32)
//   word    = out[2 (index % 2)] << 32 | out[2 (index % 2) + 1]
// level 0: index = vocabulary entry (the token pick), level 1: index = chunk
// (the chunk pick), so the two levels never share a random number.
#pragma once
#include <cstdint>

#include "ead/macros.h"

namespace ead {

struct Philox4x32Out {
  uint32_t x[4];
};

namespace philox_detail {
constexpr uint32_t kM0 = 0xD2511F53u;
constexpr uint32_t kM1 = 0xCD9E8D57u;
constexpr uint32_t kW0 = 0x9E3779B9u;  // golden ratio
constexpr uint32_t kW1 = 0xBB67AE85u;  // sqrt(3) - 1

EAD_HOST_DEVICE void mulhilo(uint32_t a, uint32_t b, uint32_t& hi, uint32_t& lo) {
#if defined(__CUDA_ARCH__)
  lo = a * b;
  hi = __umulhi(a, b);
#else
  const uint64_t p = static_cast<uint64_t>(a) * static_cast<uint64_t>(b);
  lo = static_cast<uint32_t>(p);
  hi = static_cast<uint32_t>(p >> 32);
#endif
}
}  // namespace philox_detail

// One Philox round on counter (c0..c3) with round key (k0, k1).
EAD_HOST_DEVICE void philox_round(uint32_t& c0, uint32_t& c1, uint32_t& c2, uint32_t& c3, uint32_t k0,
                                  uint32_t k1) {
  using namespace philox_detail;
  uint32_t hi0, lo0, hi1, lo1;
  mulhilo(kM0, c0, hi0, lo0);
  mulhilo(kM1, c2, hi1, lo1);
  const uint32_t n0 = hi1 ^ c1 ^ k0;
  const uint32_t n2 = hi0 ^ c3 ^ k1;
  c0 = n0;
  c1 = lo1;
  c2 = n2;
  c3 = lo0;
}

// Random123's philox4x32_R(10, ctr, key): 10 rounds, key bumped between rounds.
EAD_HOST_DEVICE Philox4x32Out philox4x32_10(uint32_t c0, uint32_t c1, uint32_t c2, uint32_t c3,
                                           uint32_t k0, uint32_t k1) {
#if defined(__CUDA_ARCH__)
#pragma unroll
#endif
  for (int round = 0; round < 10; ++round) {
    philox_round(c0, c1, c2, c3, k0, k1);
    k0 += philox_detail::kW0;
    k1 += philox_detail::kW1;
  }
  return Philox4x32Out{{c0, c1, c2, c3}};
}

constexpr uint32_t kLevelToken = 0;
constexpr uint32_t kLevelChunk = 1;

// The Philox output holding the words of indices 2 pair and 2 pair + 1 of a level.
EAD_HOST_DEVICE Philox4x32Out pair_words(uint64_t seed, uint64_t offset, uint32_t level, uint32_t pair) {
  return philox4x32_10(pair, level, static_cast<uint32_t>(offset), static_cast<uint32_t>(offset >> 32),
                       static_cast<uint32_t>(seed), static_cast<uint32_t>(seed >> 32));
}

// Word `half` (0 or 1: index % 2) of a pair's output.
EAD_HOST_DEVICE uint64_t word_of_pair(const Philox4x32Out& o, int half) {
  return half == 0 ? (static_cast<uint64_t>(o.x[0]) << 32 | o.x[1]) : (static_cast<uint64_t>(o.x[2]) << 32 | o.x[3]);
}

EAD_HOST_DEVICE uint64_t entry_word(uint64_t seed, uint64_t offset, uint32_t entry) {
  return word_of_pair(pair_words(seed, offset, kLevelToken, entry >> 1), static_cast<int>(entry & 1u));
}

EAD_HOST_DEVICE uint64_t chunk_word(uint64_t seed, uint64_t offset, uint32_t chunk) {
  return word_of_pair(pair_words(seed, offset, kLevelChunk, chunk >> 1), static_cast<int>(chunk & 1u));
}

}  // namespace ead
