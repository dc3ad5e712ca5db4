// AVX-512F GEMV for batched decode (M <= 32): the same product as Engine's Swift SIMD8 path
// (GEMV.swift), with 16-lane fp32 FMAs. Only these functions carry the AVX-512 target
// attribute, so the rest of the binary stays x86-64-v3 and runs on AVX2-only CPUs (Zen 3);
// callers check `ckernels_has_avx512()` first.
#include "ckernels.h"

#include <stdlib.h>

#if defined(__x86_64__)

#include <immintrin.h>

#define AVX512 __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq")))

int ckernels_has_avx512(void) {
  // -1: not decided yet. Racing first calls compute the same answer, so no lock is needed.
  static volatile int cached = -1;
  if (cached < 0) {
    const char *off = getenv("RLHFD_NO_AVX512");
    int forced_off = off != NULL && off[0] == '1' && off[1] == '\0';
    // __builtin_cpu_supports also checks that the OS saves the zmm state (XCR0).
    __builtin_cpu_init();
    int cpu = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw")
      && __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl");
    cached = cpu && !forced_off;
  }
  return cached;
}

// 16 weights widened to fp32. bf16 is the top half of an fp32, so widening is exact: zero-
// extend each 16-bit pattern to 32 bits and shift it into the high half. `mask` selects the
// lanes to load (the K % 16 tail); the others read as 0 and add nothing.
AVX512 static inline __m512 load_w(const void *row, ptrdiff_t k, __mmask16 mask, int bf16) {
  if (bf16) {
    __m256i h = _mm256_maskz_loadu_epi16(mask, (const uint16_t *)row + k);
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
  }
  return _mm512_maskz_loadu_ps(mask, (const float *)row + k);
}

// NW weight rows (from n) against NX activation rows (from m): NW * NX 16-lane accumulators
// over all of K, reduced horizontally at the end. Each decoded weight chunk serves NX rows,
// each activation chunk NW rows. NW, NX are constants at every call site, so the loops unroll
// and the accumulators live in registers (4 x 4 = 16 of the 32 zmm).
AVX512 static inline __attribute__((always_inline)) void block(
  float *out, const float *x, const void *w, const float *bias,
  ptrdiff_t N, ptrdiff_t K, ptrdiff_t n, ptrdiff_t m, int accumulate,
  int bf16, const int NW, const int NX) {
  const ptrdiff_t esize = bf16 ? 2 : 4;
  const char *rows[4];
  for (int i = 0; i < NW; i++) rows[i] = (const char *)w + (n + i) * K * esize;
  const float *xs = x + m * K;  // (NX, K)
  __m512 acc[4][4];
  for (int i = 0; i < NW; i++)
    for (int j = 0; j < NX; j++) acc[i][j] = _mm512_setzero_ps();

  ptrdiff_t k = 0;
  for (; k + 16 <= K; k += 16) {
    __m512 u[4];
    for (int i = 0; i < NW; i++) u[i] = load_w(rows[i], k, 0xFFFF, bf16);
    for (int j = 0; j < NX; j++) {
      __m512 v = _mm512_loadu_ps(xs + j * K + k);
      for (int i = 0; i < NW; i++) acc[i][j] = _mm512_fmadd_ps(u[i], v, acc[i][j]);
    }
  }
  if (k < K) {
    // K % 16 tail: masked loads zero the lanes past K (and never touch memory there).
    __mmask16 mask = (__mmask16)((1u << (K - k)) - 1);
    __m512 u[4];
    for (int i = 0; i < NW; i++) u[i] = load_w(rows[i], k, mask, bf16);
    for (int j = 0; j < NX; j++) {
      __m512 v = _mm512_maskz_loadu_ps(mask, xs + j * K + k);
      for (int i = 0; i < NW; i++) acc[i][j] = _mm512_fmadd_ps(u[i], v, acc[i][j]);
    }
  }

  // Bias after the sum, then overwrite or accumulate: the Swift path's `store`.
  for (int i = 0; i < NW; i++) {
    float b = bias ? bias[n + i] : 0.0f;
    for (int j = 0; j < NX; j++) {
      float value = _mm512_reduce_add_ps(acc[i][j]) + b;
      float *o = out + (m + j) * N + (n + i);
      *o = accumulate ? *o + value : value;
    }
  }
}

// One weight row against one activation row (M < 4, decode): one weight stream at a time,
// with four independent accumulators (64 elements per iteration) to hide the FMA latency.
// Four rows at a time against one activation row measured ~1.5x slower on Zen 5 (four
// streams from memory at once), as the Swift path found for its `dot1`.
AVX512 static inline __attribute__((always_inline)) float dot1(
  const void *row, const float *x, ptrdiff_t K, int bf16) {
  __m512 a0 = _mm512_setzero_ps(), a1 = _mm512_setzero_ps();
  __m512 a2 = _mm512_setzero_ps(), a3 = _mm512_setzero_ps();
  ptrdiff_t k = 0;
  for (; k + 64 <= K; k += 64) {
    a0 = _mm512_fmadd_ps(load_w(row, k, 0xFFFF, bf16), _mm512_loadu_ps(x + k), a0);
    a1 = _mm512_fmadd_ps(load_w(row, k + 16, 0xFFFF, bf16), _mm512_loadu_ps(x + k + 16), a1);
    a2 = _mm512_fmadd_ps(load_w(row, k + 32, 0xFFFF, bf16), _mm512_loadu_ps(x + k + 32), a2);
    a3 = _mm512_fmadd_ps(load_w(row, k + 48, 0xFFFF, bf16), _mm512_loadu_ps(x + k + 48), a3);
  }
  for (; k + 16 <= K; k += 16)
    a0 = _mm512_fmadd_ps(load_w(row, k, 0xFFFF, bf16), _mm512_loadu_ps(x + k), a0);
  if (k < K) {
    __mmask16 mask = (__mmask16)((1u << (K - k)) - 1);  // K % 16 tail, as in `block`
    a0 = _mm512_fmadd_ps(load_w(row, k, mask, bf16), _mm512_maskz_loadu_ps(mask, x + k), a0);
  }
  return _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(a0, a1), _mm512_add_ps(a2, a3)));
}

// Rows [n0, n1) in groups of four weight rows; the group (4 x K, in L1/L2) is reused by all M
// activation rows (M x K fp32, in L2) before moving on, so weights are read from memory once.
AVX512 static inline __attribute__((always_inline)) void gemv(
  float *out, const float *x, const void *w, const float *bias,
  ptrdiff_t M, ptrdiff_t N, ptrdiff_t K, ptrdiff_t n0, ptrdiff_t n1, int accumulate,
  int bf16) {
  const ptrdiff_t esize = bf16 ? 2 : 4;
  if (M < 4) {
    // Row by row: each weight row (in L1 after the first pass) serves the M activation rows.
    for (ptrdiff_t n = n0; n < n1; n++) {
      const char *row = (const char *)w + n * K * esize;
      float b = bias ? bias[n] : 0.0f;
      for (ptrdiff_t m = 0; m < M; m++) {
        float value = dot1(row, x + m * K, K, bf16) + b;
        float *o = out + m * N + n;
        *o = accumulate ? *o + value : value;
      }
    }
    return;
  }
  ptrdiff_t n = n0;
  for (; n + 4 <= n1; n += 4) {
    ptrdiff_t m = 0;
    for (; m + 4 <= M; m += 4) block(out, x, w, bias, N, K, n, m, accumulate, bf16, 4, 4);
    for (; m < M; m++) block(out, x, w, bias, N, K, n, m, accumulate, bf16, 4, 1);
  }
  // The last n1 - n0 mod 4 rows, one at a time.
  for (; n < n1; n++) {
    ptrdiff_t m = 0;
    for (; m + 4 <= M; m += 4) block(out, x, w, bias, N, K, n, m, accumulate, bf16, 1, 4);
    for (; m < M; m++) block(out, x, w, bias, N, K, n, m, accumulate, bf16, 1, 1);
  }
}

AVX512 void ckernels_gemv_bf16_avx512(
  float *out, const float *x, const uint16_t *w, const float *bias,
  ptrdiff_t M, ptrdiff_t N, ptrdiff_t K, ptrdiff_t n0, ptrdiff_t n1, int accumulate) {
  gemv(out, x, w, bias, M, N, K, n0, n1, accumulate, 1);
}

AVX512 void ckernels_gemv_f32_avx512(
  float *out, const float *x, const float *w, const float *bias,
  ptrdiff_t M, ptrdiff_t N, ptrdiff_t K, ptrdiff_t n0, ptrdiff_t n1, int accumulate) {
  gemv(out, x, w, bias, M, N, K, n0, n1, accumulate, 0);
}

#else  // not x86-64: no AVX-512; the kernels must not be called.

int ckernels_has_avx512(void) { return 0; }

void ckernels_gemv_bf16_avx512(
  float *out, const float *x, const uint16_t *w, const float *bias,
  ptrdiff_t M, ptrdiff_t N, ptrdiff_t K, ptrdiff_t n0, ptrdiff_t n1, int accumulate) {
  abort();
}

void ckernels_gemv_f32_avx512(
  float *out, const float *x, const float *w, const float *bias,
  ptrdiff_t M, ptrdiff_t N, ptrdiff_t K, ptrdiff_t n0, ptrdiff_t n1, int accumulate) {
  abort();
}

#endif
