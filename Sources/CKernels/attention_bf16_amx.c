// Unmasked attention (the CLIP vision tower) on AMX tiles for `precision: bf16`: per head h,
//   S(T, T)  = bf16(Q_h) · bf16(K_h)^T                    TDPBF16PS, fp32 sums
//   E(r, s)  = exp(scale · S(r, s) - max_s scale · S(r, s))   fp32 (AVX-512)
//   O_h(T, HS) = (bf16(E) · bf16(V_h)) / sum_s E(r, s)     TDPBF16PS, fp32 sums and division
// Only the operands of the two products are rounded to bf16 (relative 2^-9 each); the softmax's
// maximum, exponentials and sum stay fp32, and the normalisation is applied to the fp32 product
// (so the rounded weights are the unnormalised exponentials, in (0, 1]).
//
// Layouts (per head, in one scratch allocation, zero-padded so every tile is whole):
//   D  = HS rounded up to 32 (the k step of Q·K^T, and the output columns of P·V)
//   L  = T rounded up to 32 (keys: the output columns of Q·K^T, the k steps of P·V)
//   q  (L, D) bf16 rows: A tiles, 16 rows x 32 k, stride 2D bytes
//   kp (L/16 key blocks, D/2 pairs, 16 keys, 2): one B tile (16 pairs x 16 keys) is 1 KiB
//   vp (D/16 column blocks, L/2 pairs, 16 columns, 2): one B tile (16 key pairs x 16 columns)
//   s  (32, L) fp32 scores of 32 query rows;  p (32, L) bf16 exponentials (A tiles of P·V)
// Queries go 32 rows (two row groups) at a time: scores, softmax, product, store. Every output
// is summed over the same k steps in the same order whatever T, h or the thread.
#include "ckernels.h"
#include "amx_tiles.h"

#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__)

#include <immintrin.h>

#define AMX \
  __attribute__((target("amx-tile,amx-bf16,avx512f,avx512bw,avx512vl,avx512dq,avx512bf16")))

// exp(x) for x <= 0 (Cephes expf: x = n ln2 + r, |r| <= ln2/2, degree-7 polynomial, 2^n by
// scalef): ~1 ulp; below -87.3 (where expf underflows) the result is clamped near 2^-126.
AMX static inline __m512 exp_nonpositive(__m512 x) {
  x = _mm512_max_ps(x, _mm512_set1_ps(-87.3f));
  const __m512 n = _mm512_roundscale_ps(
    _mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)),
    _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693359375f), x);
  r = _mm512_fnmadd_ps(n, _mm512_set1_ps(-2.12194440e-4f), r);
  __m512 p = _mm512_set1_ps(1.9875691500e-4f);
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.3981999507e-3f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(8.3334519073e-3f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(4.1665795894e-2f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.6666665459e-1f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(5.0000001201e-1f));
  p = _mm512_fmadd_ps(_mm512_mul_ps(p, r), r, _mm512_add_ps(r, _mm512_set1_ps(1)));
  return _mm512_scalef_ps(p, n);
}

static inline __mmask16 lanes(ptrdiff_t left) {
  return left >= 16 ? (__mmask16)0xFFFF : left <= 0 ? 0 : (__mmask16)((1u << left) - 1);
}

// bf16 of 16 fp32 lanes (nearest even), as bit patterns.
AMX static inline __m256i to_bf16(__m512 v) { return (__m256i)_mm512_cvtneps_pbh(v); }

// Packs head h: q rows, kp and vp (see the layouts above), zeros in every padding.
__attribute__((noinline)) AMX static void pack_head(
  uint16_t *q, uint16_t *kp, uint16_t *vp, const float *qs, const float *ks, const float *vs,
  ptrdiff_t T, ptrdiff_t row, ptrdiff_t HS, ptrdiff_t D, ptrdiff_t L) {
  for (ptrdiff_t t = 0; t < L; t++) {
    for (ptrdiff_t c = 0; c < D; c += 16) {
      const __mmask16 m = t < T ? lanes(HS - c) : 0;
      _mm256_storeu_si256((__m256i *)(q + t * D + c),
                          to_bf16(_mm512_maskz_loadu_ps(m, qs + t * row + c)));
    }
  }
  // kp[block][pair][key][2] = K[16 block + key][2 pair + e]
  memset(kp, 0, (size_t)L * D * 2);
  uint16_t rounded[32];
  for (ptrdiff_t t = 0; t < T; t++) {
    uint16_t *to = kp + (t / 16) * (D / 2) * 32 + (t % 16) * 2;
    for (ptrdiff_t c = 0; c < HS; c += 16) {
      _mm256_storeu_si256((__m256i *)rounded,
                          to_bf16(_mm512_maskz_loadu_ps(lanes(HS - c), ks + t * row + c)));
      for (ptrdiff_t i = 0; i < 16 && c + i < HS; i += 2) {
        uint16_t *pair = to + ((c + i) / 2) * 32;
        pair[0] = rounded[i];
        pair[1] = rounded[i + 1];
      }
    }
  }
  // vp[block][pair][column][2] = V[2 pair + e][16 block + column]: two rows interleaved.
  for (ptrdiff_t p = 0; p < L / 2; p++) {
    for (ptrdiff_t c = 0; c < D; c += 16) {
      const __mmask16 m0 = 2 * p < T ? lanes(HS - c) : 0;
      const __mmask16 m1 = 2 * p + 1 < T ? lanes(HS - c) : 0;
      const __m512i even = _mm512_cvtepu16_epi32(
        to_bf16(_mm512_maskz_loadu_ps(m0, vs + 2 * p * row + c)));
      const __m512i odd = _mm512_cvtepu16_epi32(
        to_bf16(_mm512_maskz_loadu_ps(m1, vs + (2 * p + 1) * row + c)));
      _mm512_storeu_si512(vp + (c / 16) * (L / 2) * 32 + p * 32,
                          _mm512_or_si512(even, _mm512_slli_epi32(odd, 16)));
    }
  }
}

// Softmax numerators of `rows` score rows (stride L): p = bf16(exp(scale s - scale max)), zero
// beyond T; inverse[r] = 1 / (fp32 sum of the unrounded exponentials).
__attribute__((noinline)) AMX static void exponentials(
  uint16_t *p, float *inverse, const float *s, ptrdiff_t rows, ptrdiff_t T, ptrdiff_t L,
  float scale) {
  for (ptrdiff_t r = 0; r < rows; r++) {
    const float *row = s + r * L;
    __m512 maxima = _mm512_set1_ps(-__builtin_inff());
    for (ptrdiff_t i = 0; i < T; i += 16) {
      maxima = _mm512_mask_max_ps(maxima, lanes(T - i), maxima, _mm512_loadu_ps(row + i));
    }
    const __m512 shift = _mm512_set1_ps(-scale * _mm512_reduce_max_ps(maxima));
    const __m512 factor = _mm512_set1_ps(scale);
    __m512 sums = _mm512_setzero_ps();
    for (ptrdiff_t i = 0; i < L; i += 16) {
      const __mmask16 m = lanes(T - i);
      __m512 e = exp_nonpositive(_mm512_fmadd_ps(_mm512_loadu_ps(row + i), factor, shift));
      e = _mm512_maskz_mov_ps(m, e);
      sums = _mm512_add_ps(sums, e);
      _mm256_storeu_si256((__m256i *)(p + r * L + i), to_bf16(e));
    }
    inverse[r] = 1 / _mm512_reduce_add_ps(sums);
  }
}

AMX void ckernels_attention_bf16_amx(
  float *out, const float *q, const float *k, const float *v, ptrdiff_t T, ptrdiff_t NH,
  ptrdiff_t HS, ptrdiff_t h0, ptrdiff_t h1) {
  if (T <= 0 || h0 >= h1) return;
  ckernels_amx_configure_tiles();  // the shared layout (amx_tiles.h)
  const ptrdiff_t D = (HS + 31) / 32 * 32, L = (T + 31) / 32 * 32, row = NH * HS;
  const float scale = 1 / __builtin_sqrtf((float)HS);
  const size_t qBytes = (size_t)L * D * 2, sBytes = (size_t)32 * L * 4, pBytes = (size_t)32 * L * 2;
  uint8_t *scratch = aligned_alloc(64, 3 * qBytes + sBytes + pBytes + 64);
  if (scratch == NULL) abort();
  uint16_t *qb = (uint16_t *)scratch, *kp = qb + L * D, *vp = kp + L * D;
  float *s = (float *)(vp + L * D);
  uint16_t *pb = (uint16_t *)(s + 32 * L);
  const size_t ldq = (size_t)D * 2, lds = (size_t)L * 4, ldp = (size_t)L * 2;
  _Alignas(64) float o[32 * 32];
  float inverse[32];
  for (ptrdiff_t h = h0; h < h1; h++) {
    pack_head(qb, kp, vp, q + h * HS, k + h * HS, v + h * HS, T, row, HS, D, L);
    for (ptrdiff_t m = 0; m < T; m += 32) {
      const ptrdiff_t rows = T - m < 32 ? T - m : 32;
      const int two = rows > 16;
      // Scores of rows m ..< m + 32 against 32 keys at a time: C tiles 0-3, A 4-5, B 6-7.
      for (ptrdiff_t n = 0; n < L; n += 32) {
        _tile_zero(0);
        _tile_zero(1);
        if (two) _tile_zero(2), _tile_zero(3);
        for (ptrdiff_t c = 0; c < D; c += 32) {
          _tile_loadd(6, kp + (n / 16) * (D / 2) * 32 + c * 16, 64);
          _tile_loadd(7, kp + (n / 16 + 1) * (D / 2) * 32 + c * 16, 64);
          _tile_loadd(4, qb + m * D + c, ldq);
          _tile_dpbf16ps(0, 4, 6);
          _tile_dpbf16ps(1, 4, 7);
          if (two) {
            _tile_loadd(5, qb + (m + 16) * D + c, ldq);
            _tile_dpbf16ps(2, 5, 6);
            _tile_dpbf16ps(3, 5, 7);
          }
        }
        _tile_stored(0, s + n, lds);
        _tile_stored(1, s + n + 16, lds);
        if (two) _tile_stored(2, s + 16 * L + n, lds), _tile_stored(3, s + 16 * L + n + 16, lds);
      }
      exponentials(pb, inverse, s, two ? 32 : 16, T, L, scale);
      // O = P · V, 32 output columns at a time.
      for (ptrdiff_t c = 0; c < D; c += 32) {
        _tile_zero(0);
        _tile_zero(1);
        if (two) _tile_zero(2), _tile_zero(3);
        for (ptrdiff_t n = 0; n < L; n += 32) {
          _tile_loadd(6, vp + (c / 16) * (L / 2) * 32 + n * 16, 64);
          _tile_loadd(7, vp + (c / 16 + 1) * (L / 2) * 32 + n * 16, 64);
          _tile_loadd(4, pb + n, ldp);
          _tile_dpbf16ps(0, 4, 6);
          _tile_dpbf16ps(1, 4, 7);
          if (two) {
            _tile_loadd(5, pb + 16 * L + n, ldp);
            _tile_dpbf16ps(2, 5, 6);
            _tile_dpbf16ps(3, 5, 7);
          }
        }
        _tile_stored(0, o, 128);
        _tile_stored(1, o + 16, 128);
        if (two) _tile_stored(2, o + 512, 128), _tile_stored(3, o + 528, 128);
        for (ptrdiff_t r = 0; r < rows; r++) {
          float *to = out + (m + r) * row + h * HS + c;
          const __m512 f = _mm512_set1_ps(inverse[r]);
          _mm512_mask_storeu_ps(to, lanes(HS - c), _mm512_mul_ps(_mm512_load_ps(o + r * 32), f));
          _mm512_mask_storeu_ps(to + 16, lanes(HS - c - 16),
                                _mm512_mul_ps(_mm512_load_ps(o + r * 32 + 16), f));
        }
      }
    }
  }
  free(scratch);
}

#else  // not x86-64: no AMX; the kernel must not be called.

void ckernels_attention_bf16_amx(
  float *out, const float *q, const float *k, const float *v, ptrdiff_t T, ptrdiff_t NH,
  ptrdiff_t HS, ptrdiff_t h0, ptrdiff_t h1) {
  abort();
}

#endif
