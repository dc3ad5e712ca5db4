// Format detection by signature and dispatch to png.c / jpeg.c.
#include "codecs.h"

#include <string.h>

static int has_prefix(const uint8_t *bytes, size_t len, const char *magic, size_t n) {
  return len >= n && memcmp(bytes, magic, n) == 0;
}

static cic_format sniff(const uint8_t *bytes, size_t len) {
  if (has_prefix(bytes, len, "\x89PNG\r\n\x1a\n", 8)) return CIC_FORMAT_PNG;
  if (has_prefix(bytes, len, "\xff\xd8\xff", 3)) return CIC_FORMAT_JPEG;
  if (has_prefix(bytes, len, "GIF87a", 6) || has_prefix(bytes, len, "GIF89a", 6)) {
    return CIC_FORMAT_GIF;
  }
  if (has_prefix(bytes, len, "BM", 2) && len >= 26) return CIC_FORMAT_BMP;
  if (len >= 12 && memcmp(bytes, "RIFF", 4) == 0 && memcmp(bytes + 8, "WEBP", 4) == 0) {
    return CIC_FORMAT_WEBP;
  }
  if (has_prefix(bytes, len, "II*\0", 4) || has_prefix(bytes, len, "MM\0*", 4)) {
    return CIC_FORMAT_TIFF;
  }
  return CIC_FORMAT_UNKNOWN;
}

static const char *format_name(cic_format format) {
  switch (format) {
    case CIC_FORMAT_PNG: return "PNG";
    case CIC_FORMAT_JPEG: return "JPEG";
    case CIC_FORMAT_GIF: return "GIF";
    case CIC_FORMAT_BMP: return "BMP";
    case CIC_FORMAT_WEBP: return "WebP";
    case CIC_FORMAT_TIFF: return "TIFF";
    default: return "unknown";
  }
}

cic_status cic_probe(const uint8_t *bytes, size_t len, int32_t *format, uint32_t *width,
                     uint32_t *height, uint32_t *channels, char *err, size_t cap) {
  *format = CIC_FORMAT_UNKNOWN;
  *width = *height = *channels = 0;
  if (bytes == NULL || len == 0) {
    CIC_ERROR(err, cap, "no image data (0 bytes)");
    return CIC_NOT_AN_IMAGE;
  }
  const cic_format found = sniff(bytes, len);
  *format = found;
  switch (found) {
    case CIC_FORMAT_PNG:
      return cic_png_probe(bytes, len, width, height, channels, err, cap);
    case CIC_FORMAT_JPEG:
      return cic_jpeg_probe(bytes, len, width, height, channels, err, cap);
    case CIC_FORMAT_UNKNOWN:
      CIC_ERROR(err, cap, "not a PNG or JPEG image (%zu bytes, no known signature)", len);
      return CIC_NOT_AN_IMAGE;
    default:
      CIC_ERROR(err, cap, "%s images are not supported (only PNG and JPEG)", format_name(found));
      return CIC_UNSUPPORTED;
  }
}

cic_status cic_decode_rgb8(const uint8_t *bytes, size_t len, cic_alpha_mode alpha_mode,
                           uint32_t max_width, uint32_t max_height, uint8_t *out, size_t out_len,
                           char *err, size_t cap) {
  int32_t format = CIC_FORMAT_UNKNOWN;
  uint32_t width = 0, height = 0, channels = 0;
  const cic_status probed =
      cic_probe(bytes, len, &format, &width, &height, &channels, err, cap);
  if (probed != CIC_OK) return probed;
  if (width > max_width || height > max_height) {
    CIC_ERROR(err, cap, "image is %ux%u, over the limit of %ux%u", width, height, max_width,
              max_height);
    return CIC_TOO_LARGE;
  }
  if (out == NULL || out_len != (size_t)width * height * 3) {
    CIC_ERROR(err, cap, "output buffer holds %zu bytes; a %ux%u RGB image needs %zu", out_len,
              width, height, (size_t)width * height * 3);
    return CIC_BAD_ARGUMENT;
  }
  if (format == CIC_FORMAT_PNG) {
    return cic_png_decode(bytes, len, alpha_mode, max_width, max_height, out, out_len, err, cap);
  }
  return cic_jpeg_decode(bytes, len, max_width, max_height, out, out_len, err, cap);
}
