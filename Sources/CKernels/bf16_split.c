// fp32 products on bf16 tiles (`precision: fp32` on AMX hosts): an fp32 activation x is the
// sum of three bf16 values,
//   hi = bf16(x), mid = bf16(x - hi), lo = bf16(x - hi - mid),
// where each difference is exact in fp32 and x - (hi + mid + lo) is below 2^-26 |x| (three
// 8-bit significands cover fp32's 24 bits). Weights stored as bf16 are exact in bf16, so
// W·x = W·hi + W·mid + W·lo: three bf16 products with fp32 sums give the fp32 product of the
// stored weights, up to fp32 summation order (as sgemm). The three parts of 5 source rows share
// one 16-row AMX tile (hi rows 0-4, mid 5-9, lo 10-14), so one pass over the weights computes
// all three sums of each row, added ((lo + mid) + hi) when the row is written
// (ckernels_bf16_panels_product_amx_split); at M = 1 that is as many tile products as bf16's.
#include "ckernels.h"

#include <string.h>

ptrdiff_t ckernels_bf16_split3_rows(ptrdiff_t M) { return (M + 4) / 5 * 16; }

#if defined(__x86_64__)

#include <immintrin.h>

#define AVX512BF16 __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx512bf16")))

// bf16 bit patterns (16 lanes) widened back to fp32: exact.
AVX512BF16 static inline __m512 widen(__m256bh h) {
  return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32((__m256i)h), 16));
}

AVX512BF16 static void split3(
  uint16_t *hi, uint16_t *mid, uint16_t *lo, const float *x, ptrdiff_t count) {
  for (ptrdiff_t i = 0; i < count; i += 16) {
    ptrdiff_t left = count - i;
    __mmask16 mask = left >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << left) - 1);
    __m512 v = _mm512_maskz_loadu_ps(mask, x + i);
    __m256bh h = _mm512_cvtneps_pbh(v);
    __m512 r = _mm512_sub_ps(v, widen(h));
    __m256bh m = _mm512_cvtneps_pbh(r);
    __m256bh l = _mm512_cvtneps_pbh(_mm512_sub_ps(r, widen(m)));
    _mm256_mask_storeu_epi16(hi + i, mask, (__m256i)h);
    _mm256_mask_storeu_epi16(mid + i, mask, (__m256i)m);
    _mm256_mask_storeu_epi16(lo + i, mask, (__m256i)l);
  }
}

AVX512BF16 void ckernels_bf16_split3_padded(
  uint16_t *out, const float *x, ptrdiff_t M, ptrdiff_t K, ptrdiff_t t0, ptrdiff_t t1) {
  const ptrdiff_t ldx = ckernels_bf16_amx_row_stride(K);
  for (ptrdiff_t t = t0; t < t1; t++) {
    uint16_t *tile = out + 16 * t * ldx;  // (16, ldx): hi rows 0-4, mid 5-9, lo 10-14, 15 zero
    memset(tile, 0, (size_t)16 * ldx * 2);
    for (ptrdiff_t i = 0; i < 5 && 5 * t + i < M; i++) {
      uint16_t *hi = tile + i * ldx;
      split3(hi, hi + 5 * ldx, hi + 10 * ldx, x + (5 * t + i) * K, K);
    }
  }
}

#else  // not x86-64: no bf16 instructions; the kernel must not be called.

#include <stdlib.h>

void ckernels_bf16_split3_padded(
  uint16_t *out, const float *x, ptrdiff_t M, ptrdiff_t K, ptrdiff_t t0, ptrdiff_t t1) {
  abort();
}

#endif
