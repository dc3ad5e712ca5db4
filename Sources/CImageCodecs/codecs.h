// Internal interface between shim.c (format dispatch) and the per-format decoders.
#ifndef CIMAGECODECS_INTERNAL_H
#define CIMAGECODECS_INTERNAL_H

#include "include/cimagecodecs.h"

#include <stdio.h>

/// Writes a formatted message into the caller's error buffer.
#define CIC_ERROR(err, cap, ...)                 \
  do {                                           \
    if ((err) != NULL && (cap) > 0) {            \
      snprintf((err), (cap), __VA_ARGS__);       \
    }                                            \
  } while (0)

/// Upper bound on JPEG scans (progressive files can carry thousands to burn CPU), as djpeg's
/// `-maxscans` does.
#define CIC_JPEG_MAX_SCANS 1000

/// Upper bound on memory libpng may allocate for one ancillary chunk, and on cached chunks.
#define CIC_PNG_CHUNK_MALLOC_MAX (8u << 20)
#define CIC_PNG_CHUNK_CACHE_MAX 256u

cic_status cic_png_probe(const uint8_t *bytes, size_t len, uint32_t *width, uint32_t *height,
                         uint32_t *channels, char *err, size_t cap);
cic_status cic_png_decode(const uint8_t *bytes, size_t len, cic_alpha_mode alpha_mode,
                          uint32_t max_width, uint32_t max_height, uint8_t *out, size_t out_len,
                          char *err, size_t cap);

cic_status cic_jpeg_probe(const uint8_t *bytes, size_t len, uint32_t *width, uint32_t *height,
                          uint32_t *channels, char *err, size_t cap);
cic_status cic_jpeg_decode(const uint8_t *bytes, size_t len, uint32_t max_width,
                           uint32_t max_height, uint8_t *out, size_t out_len, char *err,
                           size_t cap);

/// PIL's `Image.alpha_composite(white, rgba)` for one pixel channel, exact integer arithmetic
/// (libImaging/AlphaComposite.c with an opaque white destination).
static inline uint8_t cic_composite_on_white(uint8_t value, uint8_t alpha) {
  if (alpha == 0) return 255;
  const uint32_t precision = 7;
  const uint32_t blend = 255u * (255u - alpha);
  const uint32_t outa255 = alpha * 255u + blend;
  const uint32_t coef1 = alpha * 255u * 255u * (1u << precision) / outa255;
  const uint32_t coef2 = 255u * (1u << precision) - coef1;
  const uint32_t tmp = value * coef1 + 255u * coef2 + (0x80u << precision);
  return (uint8_t)(((tmp >> 8) + tmp) >> 8 >> precision);
}

#endif  // CIMAGECODECS_INTERNAL_H
