// The C API over sentencepiece::SentencePieceProcessor. Every entry point that can throw runs its
// body through `guarded`: a C++ exception must never unwind into Swift frames.
#include "csentencepiece.h"
#include "model_proto.hpp"

#include <sentencepiece_processor.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <new>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

struct csp_processor {
  sentencepiece::SentencePieceProcessor sp;
  uint32_t decode_flags = 0;
};

namespace {

void set_error(char *err, size_t cap, const std::string &message) {
  if (err == nullptr || cap == 0) return;
  const size_t n = message.size() < cap - 1 ? message.size() : cap - 1;
  std::memcpy(err, message.data(), n);
  err[n] = '\0';
}

bool in_range(const csp_processor *p, int32_t id) {
  return p != nullptr && id >= 0 && id < p->sp.GetPieceSize();
}

csp_processor *load_serialized(const std::string &bytes, uint32_t options, char *err,
                               size_t cap) {
  const std::string what =
      "not a SentencePiece model (" + std::to_string(bytes.size()) + " bytes): ";
  if (bytes.empty()) {
    set_error(err, cap, what + "empty");
    return nullptr;
  }
  std::string patched;
  std::string why;
  const std::string *source = &bytes;
  if (options & CSP_LOAD_NO_DUMMY_PREFIX) {
    if (!csp_detail::disable_dummy_prefix(bytes, patched, why)) {
      set_error(err, cap, why);
      return nullptr;
    }
    source = &patched;
  }
  std::unique_ptr<csp_processor> p(new csp_processor());
  const auto status = p->sp.LoadFromSerializedProto(*source);
  if (!status.ok()) {
    const std::string message = status.ToString();
    const bool unparsable = message.find("ParseFromArray") != std::string::npos;
    set_error(err, cap, what + (unparsable ? "the ModelProto protobuf does not parse" : message));
    return nullptr;
  }
  if (p->sp.GetPieceSize() <= 0) {
    set_error(err, cap, what + "empty vocabulary");
    return nullptr;
  }
  p->decode_flags = csp_detail::decode_flags(*source);
  return p.release();
}

// Runs `body`, turning any C++ exception into `fallback` plus a message in `err`.
template <typename R, typename F>
R guarded(char *err, size_t cap, R fallback, F body) noexcept {
  try {
    return body();
  } catch (const std::exception &e) {
    set_error(err, cap, std::string("sentencepiece: ") + e.what());
  } catch (...) {
    set_error(err, cap, "sentencepiece: unknown C++ exception");
  }
  return fallback;
}

char *copy_out(const std::string &s, size_t *len_out) {
  char *buffer = static_cast<char *>(std::malloc(s.size() + 1));
  if (buffer == nullptr) throw std::bad_alloc();
  std::memcpy(buffer, s.data(), s.size());
  buffer[s.size()] = '\0';
  *len_out = s.size();
  return buffer;
}

}  // namespace

extern "C" {

csp_processor *csp_load_file(const char *path, uint32_t options, char *err, size_t cap) {
  return guarded(err, cap, static_cast<csp_processor *>(nullptr), [&]() -> csp_processor * {
    std::ifstream file(path, std::ios::binary);
    if (!file) {
      set_error(err, cap, std::string("cannot open '") + path + "': " + std::strerror(errno));
      return nullptr;
    }
    std::string bytes((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
    if (file.bad()) {
      set_error(err, cap, std::string("cannot read '") + path + "'");
      return nullptr;
    }
    csp_processor *p = load_serialized(bytes, options, err, cap);
    if (p == nullptr && err != nullptr) set_error(err, cap, std::string(path) + ": " + err);
    return p;
  });
}

csp_processor *csp_load_bytes(const uint8_t *bytes, size_t len, uint32_t options, char *err,
                              size_t cap) {
  return guarded(err, cap, static_cast<csp_processor *>(nullptr), [&]() -> csp_processor * {
    const std::string data(reinterpret_cast<const char *>(bytes), bytes == nullptr ? 0 : len);
    return load_serialized(data, options, err, cap);
  });
}

void csp_free(csp_processor *processor) { delete processor; }

int32_t csp_vocab_size(const csp_processor *p) { return p ? p->sp.GetPieceSize() : 0; }
int32_t csp_bos_id(const csp_processor *p) { return p ? p->sp.bos_id() : -1; }
int32_t csp_eos_id(const csp_processor *p) { return p ? p->sp.eos_id() : -1; }
int32_t csp_unk_id(const csp_processor *p) { return p ? p->sp.unk_id() : -1; }
int32_t csp_pad_id(const csp_processor *p) { return p ? p->sp.pad_id() : -1; }
uint32_t csp_decode_flags(const csp_processor *p) { return p ? p->decode_flags : 0; }

int csp_is_byte(const csp_processor *p, int32_t id) { return in_range(p, id) && p->sp.IsByte(id); }
int csp_is_control(const csp_processor *p, int32_t id) {
  return in_range(p, id) && p->sp.IsControl(id);
}
int csp_is_unknown(const csp_processor *p, int32_t id) {
  return in_range(p, id) && p->sp.IsUnknown(id);
}
int csp_is_unused(const csp_processor *p, int32_t id) {
  return in_range(p, id) && p->sp.IsUnused(id);
}

int32_t csp_piece_to_id(const csp_processor *p, const char *piece, size_t len) {
  return guarded(nullptr, 0, static_cast<int32_t>(-1), [&]() -> int32_t {
    if (p == nullptr) return -1;
    return p->sp.PieceToId(std::string_view(piece == nullptr ? "" : piece, len));
  });
}

int csp_id_to_piece(const csp_processor *p, int32_t id, char **piece_out, size_t *len_out,
                    char *err, size_t cap) {
  return guarded(err, cap, -1, [&]() -> int {
    if (!in_range(p, id)) {
      set_error(err, cap, "id " + std::to_string(id) + " is out of range");
      return -1;
    }
    *piece_out = copy_out(p->sp.IdToPiece(id), len_out);
    return 0;
  });
}

int csp_encode(const csp_processor *p, const char *text, size_t len, int32_t **ids_out,
               size_t *count_out, char *err, size_t cap) {
  *ids_out = nullptr;
  *count_out = 0;
  return guarded(err, cap, -1, [&]() -> int {
    if (p == nullptr) throw std::invalid_argument("null processor");
    std::vector<int> ids;
    const auto status = p->sp.Encode(std::string_view(text == nullptr ? "" : text, len), &ids);
    if (!status.ok()) {
      set_error(err, cap, "encode failed: " + status.ToString());
      return -1;
    }
    if (ids.empty()) return 0;
    auto *buffer = static_cast<int32_t *>(std::malloc(ids.size() * sizeof(int32_t)));
    if (buffer == nullptr) throw std::bad_alloc();
    for (size_t i = 0; i < ids.size(); ++i) buffer[i] = ids[i];
    *ids_out = buffer;
    *count_out = ids.size();
    return 0;
  });
}

int csp_decode(const csp_processor *p, const int32_t *ids, size_t count, char **text_out,
               size_t *len_out, char *err, size_t cap) {
  *text_out = nullptr;
  *len_out = 0;
  return guarded(err, cap, -1, [&]() -> int {
    if (p == nullptr) throw std::invalid_argument("null processor");
    const std::vector<int> input(ids, ids + (ids == nullptr ? 0 : count));
    std::string text;
    const auto status = p->sp.Decode(input, &text);
    if (!status.ok()) {
      set_error(err, cap, "decode failed: " + status.ToString());
      return -1;
    }
    *text_out = copy_out(text, len_out);
    return 0;
  });
}

void csp_free_ids(int32_t *ids) { std::free(ids); }
void csp_free_string(char *text) { std::free(text); }

}  // extern "C"
