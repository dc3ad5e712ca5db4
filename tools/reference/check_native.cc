// Cross-check of the fixtures against the Debian system libraries the Swift side links
// (libsentencepiece 0.1.97, libjpeg-turbo 2.1.5). Not needed by CI.
//   g++ -O1 -std=c++17 tools/reference/check_native.cc -lsentencepiece -ljpeg -o .build-ref/check_native
//   .build-ref/check_native Tests/Fixtures
// Run through `make_fixtures.py native`: stdin has one hex-encoded UTF-8 text per line (the
// `encode` cases of tokenizer/reference.json); stdout gets each text's ids; stderr reports the
// JPEG decode of images/rgb_64x48_q90.jpg compared with PIL's rgb_64x48_q90_jpg.decoded.u8.
#include <sentencepiece_processor.h>
#include <jpeglib.h>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

static std::string unhex(const std::string &h) {
  std::string s;
  for (size_t i = 0; i + 1 < h.size(); i += 2) s.push_back((char)std::stoi(h.substr(i, 2), nullptr, 16));
  return s;
}

int main(int argc, char **argv) {
  std::string dir = argc > 1 ? argv[1] : "Tests/Fixtures";
  sentencepiece::SentencePieceProcessor sp;
  auto st = sp.Load(dir + "/tokenizer/tokenizer.model");
  if (!st.ok()) { std::cerr << st.ToString() << "\n"; return 1; }
  // stdin: one hex-encoded UTF-8 text per line; stdout: ids per line
  std::string line;
  while (std::getline(std::cin, line)) {
    std::vector<int> ids;
    sp.Encode(unhex(line), &ids);
    for (size_t i = 0; i < ids.size(); i++) std::cout << (i ? " " : "") << ids[i];
    std::cout << "\n";
  }
  // JPEG
  FILE *f = fopen((dir + "/images/rgb_64x48_q90.jpg").c_str(), "rb");
  jpeg_decompress_struct cinfo; jpeg_error_mgr jerr;
  cinfo.err = jpeg_std_error(&jerr);
  jpeg_create_decompress(&cinfo);
  jpeg_stdio_src(&cinfo, f);
  jpeg_read_header(&cinfo, TRUE);
  cinfo.out_color_space = JCS_RGB;
  jpeg_start_decompress(&cinfo);
  std::vector<unsigned char> px(cinfo.output_width * cinfo.output_height * 3);
  while (cinfo.output_scanline < cinfo.output_height) {
    unsigned char *row = &px[cinfo.output_scanline * cinfo.output_width * 3];
    jpeg_read_scanlines(&cinfo, &row, 1);
  }
  jpeg_finish_decompress(&cinfo);
  fclose(f);
  std::ifstream ref(dir + "/images/rgb_64x48_q90_jpg.decoded.u8", std::ios::binary);
  std::vector<unsigned char> want((std::istreambuf_iterator<char>(ref)), {});
  int maxd = 0; size_t ndiff = 0;
  for (size_t i = 0; i < px.size() && i < want.size(); i++) {
    int d = std::abs((int)px[i] - (int)want[i]);
    if (d) ndiff++;
    if (d > maxd) maxd = d;
  }
  std::cerr << "jpeg: libjpeg " << JPEG_LIB_VERSION << " size " << px.size() << " vs " << want.size()
            << " max|diff| " << maxd << " differing bytes " << ndiff << "\n";
  return 0;
}
