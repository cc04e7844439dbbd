// Philox4x32-10 for 16 consecutive counters at once with x86 SIMD, for the CPU
// kernel's token pick (16 pairs: 32 entries of the chosen chunk). Bit-identical to
// ead::pair_words (philox.h), which the DEFAULT capability (and every other
// architecture) uses counter by counter.
//
// Why intrinsics: each 32x32->64-bit product of Philox is half of one packed
// multiply (vpmuludq covers the even lanes, a shifted copy the odd ones); gcc
// does not find this in a plain lane loop (it unrolls the loop into scalar code).
#pragma once
#include <cstdint>

#if defined(CPU_CAPABILITY_AVX512) || defined(CPU_CAPABILITY_AVX2)
#include <immintrin.h>
#endif

#include "ead/philox.h"

namespace ead::cpu {

constexpr int kPhiloxGroups = 16;  // counters (entry pairs) per call: 32 vocabulary entries

// words[j][g] = 32-bit output j of counter (first_group + g, level, offset) under
// the row's seed key.
#if defined(CPU_CAPABILITY_AVX512)
inline __attribute__((always_inline)) void mulhilo16(__m512i a, __m512i m, __m512i& hi, __m512i& lo) {
  const __m512i even = _mm512_mul_epu32(a, m);                         // lanes 0, 2, ...
  const __m512i odd = _mm512_mul_epu32(_mm512_srli_epi64(a, 32), m);  // lanes 1, 3, ...
  hi = _mm512_mask_blend_epi32(0xAAAA, _mm512_srli_epi64(even, 32), odd);
  lo = _mm512_mask_blend_epi32(0xAAAA, even, _mm512_slli_epi64(odd, 32));
}

inline void philox_words16(uint64_t seed, uint64_t offset, uint32_t level, uint32_t first_group,
                           uint32_t (&words)[4][kPhiloxGroups]) {
  __m512i c0 = _mm512_add_epi32(_mm512_set1_epi32(static_cast<int>(first_group)),
                                _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15));
  __m512i c1 = _mm512_set1_epi32(static_cast<int>(level));
  __m512i c2 = _mm512_set1_epi32(static_cast<int>(static_cast<uint32_t>(offset)));
  __m512i c3 = _mm512_set1_epi32(static_cast<int>(static_cast<uint32_t>(offset >> 32)));
  const __m512i m0 = _mm512_set1_epi64(philox_detail::kM0);
  const __m512i m1 = _mm512_set1_epi64(philox_detail::kM1);
  uint32_t k0 = static_cast<uint32_t>(seed), k1 = static_cast<uint32_t>(seed >> 32);
  for (int round = 0; round < 10; ++round) {
    __m512i hi0, lo0, hi1, lo1;
    mulhilo16(c0, m0, hi0, lo0);
    mulhilo16(c2, m1, hi1, lo1);
    c0 = _mm512_xor_si512(_mm512_xor_si512(hi1, c1), _mm512_set1_epi32(static_cast<int>(k0)));
    c1 = lo1;
    c2 = _mm512_xor_si512(_mm512_xor_si512(hi0, c3), _mm512_set1_epi32(static_cast<int>(k1)));
    c3 = lo0;
    k0 += philox_detail::kW0;
    k1 += philox_detail::kW1;
  }
  _mm512_storeu_si512(words[0], c0);
  _mm512_storeu_si512(words[1], c1);
  _mm512_storeu_si512(words[2], c2);
  _mm512_storeu_si512(words[3], c3);
}
#elif defined(CPU_CAPABILITY_AVX2)
inline __attribute__((always_inline)) void mulhilo8(__m256i a, __m256i m, __m256i& hi, __m256i& lo) {
  const __m256i even = _mm256_mul_epu32(a, m);
  const __m256i odd = _mm256_mul_epu32(_mm256_srli_epi64(a, 32), m);
  hi = _mm256_blend_epi32(_mm256_srli_epi64(even, 32), odd, 0xAA);
  lo = _mm256_blend_epi32(even, _mm256_slli_epi64(odd, 32), 0xAA);
}

inline void philox_words16(uint64_t seed, uint64_t offset, uint32_t level, uint32_t first_group,
                           uint32_t (&words)[4][kPhiloxGroups]) {
  const __m256i m0 = _mm256_set1_epi64x(philox_detail::kM0);
  const __m256i m1 = _mm256_set1_epi64x(philox_detail::kM1);
  for (int half = 0; half < 2; ++half) {
    __m256i c0 = _mm256_add_epi32(_mm256_set1_epi32(static_cast<int>(first_group + 8 * half)),
                                  _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
    __m256i c1 = _mm256_set1_epi32(static_cast<int>(level));
    __m256i c2 = _mm256_set1_epi32(static_cast<int>(static_cast<uint32_t>(offset)));
    __m256i c3 = _mm256_set1_epi32(static_cast<int>(static_cast<uint32_t>(offset >> 32)));
    uint32_t k0 = static_cast<uint32_t>(seed), k1 = static_cast<uint32_t>(seed >> 32);
    for (int round = 0; round < 10; ++round) {
      __m256i hi0, lo0, hi1, lo1;
      mulhilo8(c0, m0, hi0, lo0);
      mulhilo8(c2, m1, hi1, lo1);
      c0 = _mm256_xor_si256(_mm256_xor_si256(hi1, c1), _mm256_set1_epi32(static_cast<int>(k0)));
      c1 = lo1;
      c2 = _mm256_xor_si256(_mm256_xor_si256(hi0, c3), _mm256_set1_epi32(static_cast<int>(k1)));
      c3 = lo0;
      k0 += philox_detail::kW0;
      k1 += philox_detail::kW1;
    }
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(words[0] + 8 * half), c0);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(words[1] + 8 * half), c1);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(words[2] + 8 * half), c2);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(words[3] + 8 * half), c3);
  }
}
#else
inline void philox_words16(uint64_t seed, uint64_t offset, uint32_t level, uint32_t first_group,
                           uint32_t (&words)[4][kPhiloxGroups]) {
  for (int g = 0; g < kPhiloxGroups; ++g) {
    const Philox4x32Out w = pair_words(seed, offset, level, first_group + static_cast<uint32_t>(g));
    for (int j = 0; j < 4; ++j) words[j][g] = w.x[j];
  }
}
#endif

}  // namespace ead::cpu
