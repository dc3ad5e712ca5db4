// bf16 products for weights stored as bf16 (`precision: bf16`): activations rounded to bf16,
// products by AVX512-BF16 `vdpbf16ps` (two bf16 multiply-adds per fp32 lane, fp32
// accumulation), twice the multiply-adds per instruction of the fp32 FMA kernels.
//
// The weights are repacked once, at load, into panels of 32 output columns:
//   panel p, pair kp, column c, e in {0, 1}:  W[32p + c][2kp + e]      (Kp = ceil(K / 2))
// so one 64-byte load holds the two k values of 16 columns, and one activation pair
// (x[m][2kp], x[m][2kp + 1]), broadcast as 32 bits, multiplies them all. No horizontal sums,
// no transposes: the accumulators are rows of the output. Every output is summed over the
// pairs in the same order whatever M or the tile it falls in, so a sequence's result does not
// depend on the batch it runs in.
#include "ckernels.h"

#include <stdlib.h>
#include <string.h>

ptrdiff_t ckernels_bf16_panel_elements(ptrdiff_t N, ptrdiff_t K) {
  return (N + 31) / 32 * ((K + 1) / 2) * 64;
}

void ckernels_bf16_pack_panels(
  uint16_t *panels, const uint16_t *w, ptrdiff_t N, ptrdiff_t K, ptrdiff_t p0, ptrdiff_t p1) {
  const ptrdiff_t Kp = (K + 1) / 2;
  for (ptrdiff_t p = p0; p < p1; p++) {
    uint16_t *panel = panels + p * Kp * 64;
    for (ptrdiff_t c = 0; c < 32; c++) {
      const ptrdiff_t n = 32 * p + c;
      for (ptrdiff_t k = 0; k < 2 * Kp; k++) {
        // Columns past N and the pad element of an odd K are zeros: they add nothing.
        panel[(k / 2) * 64 + c * 2 + (k % 2)] = (n < N && k < K) ? w[n * K + k] : 0;
      }
    }
  }
}

#if defined(__x86_64__)

#include <immintrin.h>

#define AVX512BF16 __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx512bf16")))

int ckernels_has_avx512_bf16(void) {
  static volatile int cached = -1;  // as in ckernels_has_avx512: racing first calls agree
  if (cached < 0) {
    __builtin_cpu_init();
    cached = ckernels_has_avx512() && __builtin_cpu_supports("avx512bf16");
  }
  return cached;
}

AVX512BF16 void ckernels_bf16_round(uint16_t *out, const float *x, ptrdiff_t count) {
  ptrdiff_t i = 0;
  for (; i + 16 <= count; i += 16) {
    __m256bh h = _mm512_cvtneps_pbh(_mm512_loadu_ps(x + i));
    _mm256_storeu_si256((__m256i *)(out + i), (__m256i)h);
  }
  if (i < count) {
    __mmask16 mask = (__mmask16)((1u << (count - i)) - 1);
    __m256bh h = _mm512_cvtneps_pbh(_mm512_maskz_loadu_ps(mask, x + i));
    _mm256_mask_storeu_epi16(out + i, mask, (__m256i)h);
  }
}

// MR activation rows (from m) against one panel (output columns col ..< col + 32, masked at
// N): 2 * MR accumulators (24 of the 32 zmm at MR = 12) plus the two panel vectors. MR is a
// constant at every call site, so the row loop unrolls and everything stays in registers.
AVX512BF16 static inline __attribute__((always_inline)) void panel_tile(
  float *out, const uint16_t *x, const uint16_t *panel, const float *bias,
  ptrdiff_t N, ptrdiff_t K, ptrdiff_t m, ptrdiff_t col, int accumulate, const int MR) {
  __m512 acc[12][2];
  for (int r = 0; r < MR; r++) acc[r][0] = acc[r][1] = _mm512_setzero_ps();
  const uint16_t *xs = x + m * K;  // (MR, K)
  const ptrdiff_t full = K / 2;  // pairs with both elements in the row
  for (ptrdiff_t kp = 0; kp < full; kp++) {
    __m512bh w0 = (__m512bh)_mm512_loadu_si512(panel + kp * 64);
    __m512bh w1 = (__m512bh)_mm512_loadu_si512(panel + kp * 64 + 32);
    for (int r = 0; r < MR; r++) {
      uint32_t pair;
      memcpy(&pair, xs + r * K + 2 * kp, 4);  // rows of odd K are only 2-byte aligned
      __m512bh v = (__m512bh)_mm512_set1_epi32((int)pair);
      acc[r][0] = _mm512_dpbf16_ps(acc[r][0], v, w0);
      acc[r][1] = _mm512_dpbf16_ps(acc[r][1], v, w1);
    }
  }
  if (K % 2) {
    // The last k alone; its partner in the panel is a zero.
    __m512bh w0 = (__m512bh)_mm512_loadu_si512(panel + full * 64);
    __m512bh w1 = (__m512bh)_mm512_loadu_si512(panel + full * 64 + 32);
    for (int r = 0; r < MR; r++) {
      __m512bh v = (__m512bh)_mm512_set1_epi32((int)xs[r * K + K - 1]);
      acc[r][0] = _mm512_dpbf16_ps(acc[r][0], v, w0);
      acc[r][1] = _mm512_dpbf16_ps(acc[r][1], v, w1);
    }
  }
  // Bias after the sum, then overwrite or accumulate (the GEMV kernels' order).
  for (int h = 0; h < 2; h++) {
    ptrdiff_t left = N - (col + 16 * h);
    if (left <= 0) break;
    __mmask16 mask = left >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << left) - 1);
    __m512 b = bias ? _mm512_maskz_loadu_ps(mask, bias + col + 16 * h) : _mm512_setzero_ps();
    for (int r = 0; r < MR; r++) {
      float *o = out + (m + r) * N + col + 16 * h;
      __m512 value = _mm512_add_ps(acc[r][h], b);
      if (accumulate) value = _mm512_add_ps(_mm512_maskz_loadu_ps(mask, o), value);
      _mm512_mask_storeu_ps(o, mask, value);
    }
  }
}

#define TILE(R) \
  case R: panel_tile(out, x, panel, bias, N, K, m, 32 * p, accumulate, R); break;

AVX512BF16 void ckernels_bf16_panels_product(
  float *out, const uint16_t *x, const uint16_t *panels, const float *bias,
  ptrdiff_t M, ptrdiff_t N, ptrdiff_t K, ptrdiff_t p0, ptrdiff_t p1, int accumulate) {
  const ptrdiff_t panelElements = (K + 1) / 2 * 64;
  // A block of panels (~512 KiB, in L2) meets every group of 12 activation rows before the
  // next block is read, so weights come from memory once per call.
  ptrdiff_t blockPanels = (512 << 10) / (panelElements * 2);
  if (blockPanels < 1) blockPanels = 1;
  for (ptrdiff_t pb = p0; pb < p1; pb += blockPanels) {
    ptrdiff_t pe = pb + blockPanels < p1 ? pb + blockPanels : p1;
    for (ptrdiff_t m = 0; m < M; m += 12) {
      ptrdiff_t rows = M - m < 12 ? M - m : 12;
      for (ptrdiff_t p = pb; p < pe; p++) {
        const uint16_t *panel = panels + p * panelElements;
        switch (rows) {
          TILE(1) TILE(2) TILE(3) TILE(4) TILE(5) TILE(6)
          TILE(7) TILE(8) TILE(9) TILE(10) TILE(11) TILE(12)
        }
      }
    }
  }
}

#else  // not x86-64: no AVX512-BF16; the kernels must not be called.

int ckernels_has_avx512_bf16(void) { return 0; }

void ckernels_bf16_round(uint16_t *out, const float *x, ptrdiff_t count) { abort(); }

void ckernels_bf16_panels_product(
  float *out, const uint16_t *x, const uint16_t *panels, const float *bias,
  ptrdiff_t M, ptrdiff_t N, ptrdiff_t K, ptrdiff_t p0, ptrdiff_t p1, int accumulate) {
  abort();
}

#endif
