// AMX-BF16 products (`TDPBF16PS`) for `precision: bf16`, over the panels that bf16_products.c
// packs: no second copy of the weights. Only these functions carry the AMX target attribute;
// callers check `ckernels_has_amx()`, which also asks the kernel for the tile state.
//
// Tiles (the same shape for all eight, loaded once per thread): 16 rows x 64 bytes.
//   C (fp32)  16 rows x 16 output columns          tmm0..tmm3: 2 row groups x 2 column halves
//   A (bf16)  16 rows x 32 k, stride ldx           tmm4, tmm5: the two row groups
//   B (bf16)  16 k pairs x 16 columns x 2          tmm6, tmm7: the panel's two column halves
// A panel row (one k pair, 32 columns x 2 values) is 128 bytes: columns 0..15 in its first 64,
// 16..31 in its last 64. So 16 consecutive pairs of a panel, read with a 128-byte stride, ARE
// the two B tiles (the VNNI layout TDPBF16PS wants), straight from the packed panel.
//
// Edges. x is rounded into a zero-padded copy (ceil(M/16)*16 rows, ldx = ceil(K/32)*32), so
// every A tile is whole; the padding adds zero products. A panel's last k step (when
// ceil(K/2) % 16 != 0) is copied into a zero-padded 2 KiB buffer, so no B load reads past the
// panel. Columns past N are the panels' zero padding and are masked at the store.
//
// Sums. Every output is summed over the same k steps of 32 in the same order, whatever M or
// the tile it falls in, so a row's result does not depend on the batch. TDPBF16PS does not
// round like VDPBF16PS (which adds the odd product, rounds, then the even one), so results are
// NOT bit-identical to bf16_products.c: one path is used for all M (BF16Products.swift).
#include "ckernels.h"
#include "amx_tiles.h"

#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__)

#include <cpuid.h>
#include <immintrin.h>
#include <sys/syscall.h>
#include <unistd.h>

#define AMX \
  __attribute__((target("amx-tile,amx-bf16,avx512f,avx512bw,avx512vl,avx512dq,avx512bf16")))

enum { ARCH_GET_XCOMP_PERM = 0x1022, ARCH_REQ_XCOMP_PERM = 0x1023, XFEATURE_XTILEDATA = 18 };

// Linux (5.16+) hands out the 8 KiB tile state only on request, once per process; without it
// the first tile instruction faults (SIGILL).
static int tile_state_granted(void) {
  if (syscall(SYS_arch_prctl, ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA) != 0) return 0;
  unsigned long features = 0;
  if (syscall(SYS_arch_prctl, ARCH_GET_XCOMP_PERM, &features) != 0) return 0;
  return (int)((features >> XFEATURE_XTILEDATA) & 1);
}

int ckernels_amx_available(void) {
  static volatile int cached = -1;  // racing first calls compute the same answer
  if (cached < 0) {
    unsigned a, b, c, d;
    // CPUID.(7, 0).EDX: bit 24 AMX-TILE, bit 22 AMX-BF16.
    int cpu = __get_cpuid_count(7, 0, &a, &b, &c, &d) && (d >> 24 & 1) && (d >> 22 & 1);
    cached = cpu && ckernels_has_avx512_bf16() && tile_state_granted();
  }
  return cached;
}

int ckernels_has_amx(void) {
  static volatile int cached = -1;
  if (cached < 0) {
    const char *off = getenv("RLHFD_NO_AMX");
    int forced_off = off != NULL && off[0] == '1' && off[1] == '\0';
    cached = !forced_off && ckernels_amx_available();
  }
  return cached;
}

// The tile configuration (ldtilecfg's 64-byte operand, palette 1).
typedef struct {
  uint8_t palette, start_row, reserved[14];
  uint16_t colsb[16];
  uint8_t rows[16];
} tile_config;

// Tile configuration is per thread and survives between calls (the pool's threads are
// long-lived); every tile kernel uses this one layout (amx_tiles.h), so it is loaded once per
// thread.
static _Thread_local int configured;

AMX void ckernels_amx_configure_tiles(void) {
  if (configured) return;
  tile_config config;
  memset(&config, 0, sizeof config);
  config.palette = 1;
  for (int t = 0; t < 8; t++) {
    config.colsb[t] = 64;
    config.rows[t] = 16;
  }
  _tile_loadconfig(&config);
  configured = 1;
}

// One k step (32 k, 16 pairs) for G row groups: B from `b` (stride 128), A from `a`.
#define STEP(a, b, G)                          \
  do {                                         \
    _tile_loadd(6, (b), 128);                  \
    _tile_loadd(7, (b) + 32, 128);             \
    _tile_loadd(4, (a), lda);                  \
    _tile_dpbf16ps(0, 4, 6);                   \
    _tile_dpbf16ps(1, 4, 7);                   \
    if ((G) == 2) {                            \
      _tile_loadd(5, (a) + 16 * ldx, lda);     \
      _tile_dpbf16ps(2, 5, 6);                 \
      _tile_dpbf16ps(3, 5, 7);                 \
    }                                          \
  } while (0)

// Blocking (for the caches, not for the sums): a block of NB panels and MB rows is computed
// KB k steps at a time, so the A block (MB x 512 k, 256 KiB), the B block (NB panels x 512 k,
// 256 KiB) and the partial sums (MB x 32 NB fp32, 256 KiB) stay in L2, and one group's A
// (32 x 512 k, 32 KiB) in L1 across the panels. Between k blocks the C tiles are stored to
// `partial` and loaded back: fp32 either way, so the sums are those of one pass over K.
enum { KB = 16, MB = 256, NB = 8 };

// 16 * G rows of x (from m; `rows` of them real) against one panel (columns col ..< col + 32),
// k steps [s0, s1) of ceil(K / 32). C starts at zero (s0 == 0) or from `c` (32 x 32 fp32); it
// is stored back to `c`, or, after the last step, biased and written to `out`. With S = 3 the
// rows are split activations (ckernels_bf16_split3_padded): each 16-row tile holds 5 source
// rows' hi (rows 0-4), mid (5-9) and lo (10-14) parts, `rows` counts source rows, and each
// output row is (lo + mid) + hi of its three sums.
AMX static inline __attribute__((always_inline)) void panel_tile(
  float *out, const uint16_t *x, const uint16_t *panel, const float *bias, float *c,
  ptrdiff_t N, ptrdiff_t K, ptrdiff_t m, ptrdiff_t rows, ptrdiff_t col, ptrdiff_t s0,
  ptrdiff_t s1, int accumulate, const int G, const int S) {
  const ptrdiff_t pairs = (K + 1) / 2, full = pairs / 16, tail = pairs % 16;
  const ptrdiff_t ldx = ckernels_bf16_amx_row_stride(K);
  const size_t lda = (size_t)ldx * 2;
  const uint16_t *xa = x + m * ldx;  // (16 G, ldx)
  if (s0 == 0) {
    _tile_zero(0);
    _tile_zero(1);
    if (G == 2) _tile_zero(2), _tile_zero(3);
  } else {
    _tile_loadd(0, c, 128);
    _tile_loadd(1, c + 16, 128);
    if (G == 2) _tile_loadd(2, c + 512, 128), _tile_loadd(3, c + 528, 128);
  }
  const ptrdiff_t whole = s1 < full ? s1 : full;
  for (ptrdiff_t s = s0; s < whole; s++) STEP(xa + 32 * s, panel + 16 * 64 * s, G);
  if (tail && s1 > full) {
    _Alignas(64) uint16_t last[16 * 64];  // (16 pairs, 32 columns, 2)
    memcpy(last, panel + 16 * 64 * full, (size_t)tail * 128);
    memset(last + tail * 64, 0, (size_t)(16 - tail) * 128);
    STEP(xa + 32 * full, last, G);
  }
  const int done = s1 == full + (tail != 0);
  _Alignas(64) float sums[32 * 32];  // (16 G rows, 32 columns)
  float *to = done ? sums : c;
  _tile_stored(0, to, 128);
  _tile_stored(1, to + 16, 128);
  if (G == 2) _tile_stored(2, to + 512, 128), _tile_stored(3, to + 528, 128);
  if (!done) return;
  // Bias after the sum, then overwrite or accumulate: bf16_products.c's order.
  for (int h = 0; h < 2; h++) {
    ptrdiff_t left = N - (col + 16 * h);
    if (left <= 0) break;
    __mmask16 mask = left >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << left) - 1);
    __m512 b = bias ? _mm512_maskz_loadu_ps(mask, bias + col + 16 * h) : _mm512_setzero_ps();
    for (ptrdiff_t r = 0; r < rows; r++) {
      __m512 sum;
      float *o;
      if (S == 3) {
        const float *hi = sums + (16 * (r / 5) + r % 5) * 32 + 16 * h;
        sum = _mm512_add_ps(_mm512_add_ps(_mm512_load_ps(hi + 320), _mm512_load_ps(hi + 160)),
                            _mm512_load_ps(hi));
        o = out + (m / 16 * 5 + r) * N + col + 16 * h;
      } else {
        sum = _mm512_load_ps(sums + r * 32 + 16 * h);
        o = out + (m + r) * N + col + 16 * h;
      }
      __m512 value = _mm512_add_ps(sum, b);
      if (accumulate) value = _mm512_add_ps(_mm512_maskz_loadu_ps(mask, o), value);
      _mm512_mask_storeu_ps(o, mask, value);
    }
  }
}

// Panels [p0, p1) against `rowsA` rows of A (M source rows): the blocking loops of both entry
// points. S = 1: A rows are the source rows; S = 3: split activations, 5 source rows a tile.
AMX static inline __attribute__((always_inline)) void panels_product(
  float *out, const uint16_t *x, const uint16_t *panels, const float *bias, ptrdiff_t M,
  ptrdiff_t rowsA, ptrdiff_t N, ptrdiff_t K, ptrdiff_t p0, ptrdiff_t p1, int accumulate,
  const int S) {
  ckernels_amx_configure_tiles();
  const ptrdiff_t panelElements = (K + 1) / 2 * 64;
  const ptrdiff_t steps = ((K + 1) / 2 + 15) / 16;
  // Partial sums, only when K takes more than one k block: (MB / 32, NB) blocks of 32 x 32.
  const ptrdiff_t groups = ((rowsA < MB ? rowsA : MB) + 31) / 32;
  float *partial = steps > KB ? aligned_alloc(64, (size_t)groups * NB * 4096) : NULL;
  if (steps > KB && partial == NULL) abort();
  for (ptrdiff_t pb = p0; pb < p1; pb += NB) {
    const ptrdiff_t pe = pb + NB < p1 ? pb + NB : p1;
    for (ptrdiff_t mb = 0; mb < rowsA; mb += MB) {
      const ptrdiff_t me = mb + MB < rowsA ? mb + MB : rowsA;
      for (ptrdiff_t s0 = 0; s0 < steps; s0 += KB) {
        const ptrdiff_t s1 = s0 + KB < steps ? s0 + KB : steps;
        for (ptrdiff_t m = mb; m < me; m += 32) {
          const int G = me - m > 16 ? 2 : 1;
          // Output rows of this group: A rows (S = 1) or source rows (S = 3, 5 a tile).
          const ptrdiff_t left = S == 3 ? M - m / 16 * 5 : me - m;
          const ptrdiff_t most = S == 3 ? 5 * G : 16 * G;
          const ptrdiff_t rows = left < most ? left : most;
          for (ptrdiff_t p = pb; p < pe; p++) {
            const uint16_t *panel = panels + p * panelElements;
            float *c = partial ? partial + ((m - mb) / 32 * NB + (p - pb)) * 1024 : NULL;
            if (G == 2) {
              panel_tile(out, x, panel, bias, c, N, K, m, rows, 32 * p, s0, s1, accumulate, 2, S);
            } else {
              panel_tile(out, x, panel, bias, c, N, K, m, rows, 32 * p, s0, s1, accumulate, 1, S);
            }
          }
        }
      }
    }
  }
  free(partial);
}

AMX void ckernels_bf16_panels_product_amx(
  float *out, const uint16_t *x, const uint16_t *panels, const float *bias,
  ptrdiff_t M, ptrdiff_t N, ptrdiff_t K, ptrdiff_t p0, ptrdiff_t p1, int accumulate) {
  panels_product(out, x, panels, bias, M, M, N, K, p0, p1, accumulate, 1);
}

// As ckernels_bf16_panels_product_amx over split activations (ckernels_bf16_split3_padded):
// the A rows are ceil(M / 5) tiles of 16, each holding 5 source rows' three parts, computed as
// ordinary rows; panel_tile (S = 3) adds each source row's three sums. Every source row is
// summed the same way whatever M or its place in a tile, so a row does not depend on the batch;
// at M = 1 one A tile per k step carries all three parts (as many products as bf16's).
AMX void ckernels_bf16_panels_product_amx_split(
  float *out, const uint16_t *x, const uint16_t *panels, const float *bias,
  ptrdiff_t M, ptrdiff_t N, ptrdiff_t K, ptrdiff_t p0, ptrdiff_t p1, int accumulate) {
  const ptrdiff_t rowsA = ckernels_bf16_split3_rows(M);
  panels_product(out, x, panels, bias, M, rowsA, N, K, p0, p1, accumulate, 3);
}

#else  // not x86-64: no AMX; the kernel must not be called.

int ckernels_amx_available(void) { return 0; }

int ckernels_has_amx(void) { return 0; }

void ckernels_bf16_panels_product_amx(
  float *out, const uint16_t *x, const uint16_t *panels, const float *bias,
  ptrdiff_t M, ptrdiff_t N, ptrdiff_t K, ptrdiff_t p0, ptrdiff_t p1, int accumulate) {
  abort();
}

void ckernels_bf16_panels_product_amx_split(
  float *out, const uint16_t *x, const uint16_t *panels, const float *bias,
  ptrdiff_t M, ptrdiff_t N, ptrdiff_t K, ptrdiff_t p0, ptrdiff_t p1, int accumulate) {
  abort();
}

#endif

ptrdiff_t ckernels_bf16_amx_row_stride(ptrdiff_t K) { return (K + 31) / 32 * 32; }

ptrdiff_t ckernels_bf16_amx_rows(ptrdiff_t M) { return (M + 15) / 16 * 16; }

void ckernels_bf16_round_padded(
  uint16_t *out, const float *x, ptrdiff_t M, ptrdiff_t K, ptrdiff_t m0, ptrdiff_t m1) {
  const ptrdiff_t ldx = ckernels_bf16_amx_row_stride(K);
  for (ptrdiff_t m = m0; m < m1; m++) {
    ptrdiff_t real = m < M ? K : 0;
    if (real) ckernels_bf16_round(out + m * ldx, x + m * K, K);
    memset(out + m * ldx + real, 0, (size_t)(ldx - real) * 2);
  }
}
