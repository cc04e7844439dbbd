// Philox4x32-10 (Salmon et al., "Parallel random numbers: as easy as 1, 2, 3",
// SC'11), the counter-based generator shared by the CPU kernel, the CUDA kernel
// and (re-implemented in NumPy) the Python reference.
//
// Why counter-based: the noise for vocabulary entry v of a row is a pure function
// of (seed, offset, v), so a row draws the same token whatever the batch size,
// row order, thread count or the way the vocabulary is split across workers.
//
// Stream layout (must match ead_ext/reference.py):
//   key     = (seed_lo32, seed_hi32)
//   counter = (v / 4, 0, offset_lo32, offset_hi32)
//   word    = output[v % 4]
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

// The four 32-bit words that cover vocabulary entries [4*group, 4*group + 4).
EAD_HOST_DEVICE Philox4x32Out noise_words(uint64_t seed, uint64_t offset, uint32_t group) {
  return philox4x32_10(group, 0u, static_cast<uint32_t>(offset), static_cast<uint32_t>(offset >> 32),
                       static_cast<uint32_t>(seed), static_cast<uint32_t>(seed >> 32));
}

}  // namespace ead
