// JPEG through libjpeg-turbo. libjpeg reports fatal errors through error_exit, which longjmps to
// the setjmp in the calling function here.
#include "codecs.h"

#include <setjmp.h>
#include <stdlib.h>
#include <string.h>

#include <jpeglib.h>
#include <jerror.h>

typedef struct {
  struct jpeg_error_mgr base;
  jmp_buf jump;
  char *err;
  size_t cap;
} cic_jpeg_error;

static void cic_jpeg_fail(j_common_ptr cinfo) {
  cic_jpeg_error *error = (cic_jpeg_error *)cinfo->err;
  char message[JMSG_LENGTH_MAX];
  (*cinfo->err->format_message)(cinfo, message);
  CIC_ERROR(error->err, error->cap, "corrupt JPEG: %s", message);
  longjmp(error->jump, 1);
}

// Warnings are ignored, except running out of data: libjpeg would pad a truncated file with grey,
// where PIL raises "image file is truncated".
static void cic_jpeg_message(j_common_ptr cinfo, int level) {
  if (level < 0 && cinfo->err->msg_code == JWRN_JPEG_EOF) cic_jpeg_fail(cinfo);
}

// Progressive files may carry thousands of tiny scans to burn CPU; djpeg's -maxscans idea.
static void cic_jpeg_progress(j_common_ptr cinfo) {
  j_decompress_ptr d = (j_decompress_ptr)cinfo;
  if (d->input_scan_number > CIC_JPEG_MAX_SCANS) {
    cic_jpeg_error *error = (cic_jpeg_error *)cinfo->err;
    CIC_ERROR(error->err, error->cap, "corrupt JPEG: more than %d scans", CIC_JPEG_MAX_SCANS);
    longjmp(error->jump, 1);
  }
}

static void cic_jpeg_setup(struct jpeg_decompress_struct *cinfo, cic_jpeg_error *error,
                           struct jpeg_progress_mgr *progress, char *err, size_t cap) {
  cinfo->err = jpeg_std_error(&error->base);
  error->base.error_exit = cic_jpeg_fail;
  error->base.emit_message = cic_jpeg_message;
  error->err = err;
  error->cap = cap;
  progress->progress_monitor = cic_jpeg_progress;
}

cic_status cic_jpeg_probe(const uint8_t *bytes, size_t len, uint32_t *width, uint32_t *height,
                          uint32_t *channels, char *err, size_t cap) {
  struct jpeg_decompress_struct cinfo;
  cic_jpeg_error error;
  struct jpeg_progress_mgr progress;
  memset(&cinfo, 0, sizeof cinfo);
  cic_jpeg_setup(&cinfo, &error, &progress, err, cap);
  if (setjmp(error.jump)) {
    jpeg_destroy_decompress(&cinfo);
    return CIC_CORRUPT;
  }
  jpeg_create_decompress(&cinfo);
  cinfo.progress = &progress;
  jpeg_mem_src(&cinfo, bytes, (unsigned long)len);
  jpeg_read_header(&cinfo, TRUE);
  *width = cinfo.image_width;
  *height = cinfo.image_height;
  *channels = (uint32_t)cinfo.num_components;
  const J_COLOR_SPACE space = cinfo.jpeg_color_space;
  jpeg_destroy_decompress(&cinfo);
  if (*width == 0 || *height == 0) {
    CIC_ERROR(err, cap, "corrupt JPEG: header declares %ux%u", *width, *height);
    return CIC_CORRUPT;
  }
  if (space == JCS_CMYK || space == JCS_YCCK) {
    CIC_ERROR(err, cap, "CMYK/YCCK JPEG images are not supported (only greyscale and colour)");
    return CIC_UNSUPPORTED;
  }
  return CIC_OK;
}

cic_status cic_jpeg_decode(const uint8_t *bytes, size_t len, uint32_t max_width,
                           uint32_t max_height, uint8_t *out, size_t out_len, char *err,
                           size_t cap) {
  struct jpeg_decompress_struct cinfo;
  cic_jpeg_error error;
  struct jpeg_progress_mgr progress;
  memset(&cinfo, 0, sizeof cinfo);
  cic_jpeg_setup(&cinfo, &error, &progress, err, cap);
  volatile cic_status status = CIC_CORRUPT;
  if (setjmp(error.jump)) {
    jpeg_destroy_decompress(&cinfo);
    return status;
  }
  jpeg_create_decompress(&cinfo);
  cinfo.progress = &progress;
  jpeg_mem_src(&cinfo, bytes, (unsigned long)len);
  jpeg_read_header(&cinfo, TRUE);
  if (cinfo.image_width > max_width || cinfo.image_height > max_height) {
    status = CIC_TOO_LARGE;
    CIC_ERROR(err, cap, "image is %ux%u, over the limit of %ux%u", cinfo.image_width,
              cinfo.image_height, max_width, max_height);
    longjmp(error.jump, 1);
  }
  // PIL's defaults: accurate integer IDCT, fancy upsampling, colour conversion by libjpeg.
  cinfo.out_color_space = JCS_RGB;
  cinfo.dct_method = JDCT_ISLOW;
  cinfo.do_fancy_upsampling = TRUE;
  jpeg_start_decompress(&cinfo);
  const size_t stride = (size_t)cinfo.output_width * 3;
  if (cinfo.output_components != 3 || stride * cinfo.output_height != out_len) {
    status = CIC_BAD_ARGUMENT;
    CIC_ERROR(err, cap, "output buffer holds %zu bytes; the JPEG decodes to %zu", out_len,
              stride * cinfo.output_height);
    longjmp(error.jump, 1);
  }
  while (cinfo.output_scanline < cinfo.output_height) {
    JSAMPROW row = out + (size_t)cinfo.output_scanline * stride;
    if (jpeg_read_scanlines(&cinfo, &row, 1) != 1) ERREXIT(&cinfo, JERR_INPUT_EOF);
  }
  jpeg_abort_decompress(&cinfo);
  jpeg_destroy_decompress(&cinfo);
  return CIC_OK;
}
