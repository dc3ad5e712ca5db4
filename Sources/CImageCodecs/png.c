// PNG through libpng 1.6. libpng reports errors by longjmp to the setjmp in cic_png_decode; the
// error callback only records the message.
#include "codecs.h"

#include <png.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
  const uint8_t *data;
  size_t len;
  size_t pos;
  char *err;
  size_t cap;
} cic_png_source;

static void cic_png_on_error(png_structp png, png_const_charp message) {
  cic_png_source *source = png_get_error_ptr(png);
  CIC_ERROR(source->err, source->cap, "corrupt PNG: %s", message);
  png_longjmp(png, 1);
}

static void cic_png_on_warning(png_structp png, png_const_charp message) {
  (void)png;
  (void)message;
}

static void cic_png_read(png_structp png, png_bytep dst, size_t n) {
  cic_png_source *source = png_get_io_ptr(png);
  if (n > source->len - source->pos) png_error(png, "data ends early (truncated file)");
  memcpy(dst, source->data + source->pos, n);
  source->pos += n;
}

static uint32_t read_be32(const uint8_t *p) {
  return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

// Bit depths the PNG specification allows for each colour type.
static int cic_png_valid_depth(uint8_t color, uint8_t depth) {
  switch (color) {
    case 0: return depth == 1 || depth == 2 || depth == 4 || depth == 8 || depth == 16;
    case 3: return depth == 1 || depth == 2 || depth == 4 || depth == 8;
    case 2: case 4: case 6: return depth == 8 || depth == 16;
    default: return 0;
  }
}

cic_status cic_png_probe(const uint8_t *bytes, size_t len, uint32_t *width, uint32_t *height,
                         uint32_t *channels, char *err, size_t cap) {
  // Signature (8), IHDR length (4) and type (4), 13 bytes of fields, CRC (4).
  if (len < 33) {
    CIC_ERROR(err, cap, "corrupt PNG: %zu bytes, too short for the IHDR header", len);
    return CIC_CORRUPT;
  }
  const uint8_t *ihdr = bytes + 8;
  if (read_be32(ihdr) != 13 || memcmp(ihdr + 4, "IHDR", 4) != 0) {
    CIC_ERROR(err, cap, "corrupt PNG: the first chunk is not a 13-byte IHDR");
    return CIC_CORRUPT;
  }
  const uint32_t w = read_be32(ihdr + 8), h = read_be32(ihdr + 12);
  const uint8_t depth = ihdr[16], color = ihdr[17];
  if (w == 0 || h == 0 || w > 0x7fffffffu || h > 0x7fffffffu) {
    CIC_ERROR(err, cap, "corrupt PNG: IHDR declares %ux%u", w, h);
    return CIC_CORRUPT;
  }
  static const uint8_t components[7] = {1, 0, 3, 1, 2, 0, 4};
  if (color > 6 || components[color] == 0 || !cic_png_valid_depth(color, depth)) {
    CIC_ERROR(err, cap, "corrupt PNG: invalid colour type %u with bit depth %u", color, depth);
    return CIC_CORRUPT;
  }
  *width = w;
  *height = h;
  *channels = components[color];
  return CIC_OK;
}

// Sets transforms so that every row reads as 8-bit RGB or RGBA; returns the channel count.
static int cic_png_set_transforms(png_structp png, png_infop info) {
  const int color = png_get_color_type(png, info);
  if (png_get_bit_depth(png, info) == 16) png_set_strip_16(png);
  if (color == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(png);  // tRNS becomes alpha
  if (color == PNG_COLOR_TYPE_GRAY && png_get_bit_depth(png, info) < 8) {
    png_set_expand_gray_1_2_4_to_8(png);
  }
  // Grey tRNS becomes alpha (PIL honours it when converting L to RGBA); an RGB image's tRNS is
  // ignored, as transformers returns RGB images unchanged.
  if (color == PNG_COLOR_TYPE_GRAY && png_get_valid(png, info, PNG_INFO_tRNS)) {
    png_set_tRNS_to_alpha(png);
  }
  if (color == PNG_COLOR_TYPE_GRAY || color == PNG_COLOR_TYPE_GRAY_ALPHA) png_set_gray_to_rgb(png);
  png_set_interlace_handling(png);
  png_read_update_info(png, info);
  return png_get_channels(png, info);
}

static void cic_rgba_to_rgb(const uint8_t *rgba, size_t pixels, cic_alpha_mode mode,
                            uint8_t *out) {
  for (size_t i = 0; i < pixels; i++, rgba += 4, out += 3) {
    for (int c = 0; c < 3; c++) {
      out[c] = mode == CIC_ALPHA_DROP ? rgba[c] : cic_composite_on_white(rgba[c], rgba[3]);
    }
  }
}

cic_status cic_png_decode(const uint8_t *bytes, size_t len, cic_alpha_mode alpha_mode,
                          uint32_t max_width, uint32_t max_height, uint8_t *out, size_t out_len,
                          char *err, size_t cap) {
  cic_png_source source = {bytes, len, 0, err, cap};
  png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &source, cic_png_on_error,
                                           cic_png_on_warning);
  png_infop info = png ? png_create_info_struct(png) : NULL;
  if (info == NULL) {
    png_destroy_read_struct(&png, NULL, NULL);
    CIC_ERROR(err, cap, "out of memory creating the PNG decoder");
    return CIC_CORRUPT;
  }
  uint8_t *volatile rgba = NULL;
  png_bytep *volatile rows = NULL;
  volatile cic_status status = CIC_CORRUPT;
  if (setjmp(png_jmpbuf(png))) {
    free(rgba);
    free(rows);
    png_destroy_read_struct(&png, &info, NULL);
    return status;
  }
  png_set_user_limits(png, max_width, max_height);
  png_set_chunk_malloc_max(png, CIC_PNG_CHUNK_MALLOC_MAX);
  png_set_chunk_cache_max(png, CIC_PNG_CHUNK_CACHE_MAX);
  png_set_read_fn(png, &source, cic_png_read);
  png_read_info(png, info);
  const size_t width = png_get_image_width(png, info), height = png_get_image_height(png, info);
  const int channels = cic_png_set_transforms(png, info);
  status = CIC_BAD_ARGUMENT;
  if (width * height * 3 != out_len || (channels != 3 && channels != 4) ||
      png_get_rowbytes(png, info) != width * (size_t)channels) {
    png_error(png, "unexpected layout after transforms");
  }
  status = CIC_CORRUPT;
  rows = malloc(height * sizeof(png_bytep));
  if (channels == 4) rgba = malloc(width * height * 4);
  if (rows == NULL || (channels == 4 && rgba == NULL)) png_error(png, "out of memory");
  uint8_t *base = channels == 4 ? rgba : out;
  for (size_t y = 0; y < height; y++) rows[y] = base + y * width * (size_t)channels;
  png_read_image(png, rows);
  if (channels == 4) cic_rgba_to_rgb(rgba, width * height, alpha_mode, out);
  free(rgba);
  free(rows);
  png_destroy_read_struct(&png, &info, NULL);
  return CIC_OK;
}
