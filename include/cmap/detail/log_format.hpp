#pragma once
// The byte formats of durable_map's files, and the reader that checks them. docs/durability.md
// states the same formats for a reader without the code; this file is their definition.
//
// Both kinds of file, log segments (wal-<16 hex digits>.log) and checkpoints
// (checkpoint-<16 hex digits>.ckpt), are a 32-byte file header followed by records. Every
// integer is little-endian.
//
// File header (32 bytes):
//   0   8  magic: "cmap-log" in a log segment, "cmap-ckp" in a checkpoint
//   8   4  format version: 1
//   12  4  header size: 32
//   16  8  number: a segment's sequence number; a checkpoint's is the first log segment to
//          replay on top of it. It equals the number in the file's name.
//   24  4  zero
//   28  4  CRC-32C of bytes 0..27
//
// Record (11-byte header, then the payload):
//   0   4  CRC-32C of the payload
//   4   4  payload length, at most max_payload (256 MiB)
//   8   1  type (record_type)
//   9   2  the low 16 bits of the CRC-32C of bytes 0..8: the header's own check, so that a
//          damaged length is caught before it is followed (a length bent to point past the
//          end of the file would otherwise pass for a torn tail). 16 bits and not 32: a
//          small write is 16 bytes of key and value, and the header is most of its cost on
//          disk; a damaged header still fails the payload's check unless the length points
//          past the end of the file, so what gets through is a 2^-16 chance on top of that.
//   11  payload
// Records follow one another with no padding; a file ends after its last record.
//
// Payloads:
//   batch (type 1, log): varint count, then count writes, each
//       1 byte kind (1 put, 2 erase), varint key length, the key's bytes (its key_traits
//       encoding), and for a put: varint value length, the value's bytes (its codec).
//     A single write is a batch of one; a write_batch is one record, so a crash keeps all of
//     it or none of it.
//   clear (type 2, log): empty. Every key is erased.
//   entries (type 16, checkpoint): as a batch, of puts only.
//   end (type 17, checkpoint): 8 bytes entry count, 8 bytes count of entries records. A
//     checkpoint without it is incomplete.
// A varint is LEB128: 7 bits a byte, least significant first, the high bit set on every
// byte but the last; at most 10 bytes.
//
// A torn tail. A crash can cut the log's last record short: the process died inside write(2),
// or the machine lost power before the file's last pages reached the disk. In the last
// segment, record_reader reports it (instead of throwing) when tail_may_be_torn is set and
//   - fewer than 11 bytes remain for a header, or
//   - the header's checksum fails and zeros run from inside it to the end of the file (an
//     extended file whose data never arrived, or arrived only up to a point inside the
//     header), or
//   - the header is valid but the payload runs past the end of the file, or
//   - the payload's checksum fails and the record is the last thing in the file, or zeros
//     run from inside its payload to the end of the file, or
//   - the file header itself does not check out and zeros run from inside it to the end of
//     the file (a segment created just before the power loss, whose header never fully
//     arrived): the file holds nothing.
// Everything else that does not match the format is corruption: corruption_error with the
// file, the byte offset and what was expected.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <string>
#include <string_view>

#include "../durability.hpp"
#include "../file_system.hpp"
#include "crc32c.hpp"

namespace cmap::detail::log_format {

inline constexpr std::size_t file_header_size = 32;
inline constexpr std::size_t record_header_size = 11;
inline constexpr std::uint32_t max_payload = std::uint32_t{1} << 28;
inline constexpr std::uint32_t format_version = 1;
inline constexpr std::string_view log_magic = "cmap-log";
inline constexpr std::string_view checkpoint_magic = "cmap-ckp";

enum class record_type : std::uint8_t { batch = 1, clear = 2, entries = 16, end = 17 };
enum class write_kind : std::uint8_t { put = 1, erase = 2 };

inline void put_u32(std::string& out, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xFF));
}
inline void put_u64(std::string& out, std::uint64_t v) {
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xFF));
}
inline void store_u32(char* p, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<char>((v >> (8 * i)) & 0xFF);
}
[[nodiscard]] inline std::uint32_t get_u32(const char* p) {
  std::uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v |= std::uint32_t{static_cast<unsigned char>(p[i])} << (8 * i);
  return v;
}
[[nodiscard]] inline std::uint64_t get_u64(const char* p) {
  std::uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v |= std::uint64_t{static_cast<unsigned char>(p[i])} << (8 * i);
  return v;
}

inline void put_varint(std::string& out, std::uint64_t v) {
  while (v >= 0x80) {
    out.push_back(static_cast<char>((v & 0x7F) | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
}
// Reads a varint from the front of in; false if in ends first or it is over 10 bytes.
[[nodiscard]] inline bool get_varint(std::string_view& in, std::uint64_t& v) {
  v = 0;
  for (unsigned shift = 0; shift < 70 && !in.empty(); shift += 7) {
    const auto b = static_cast<unsigned char>(in.front());
    in.remove_prefix(1);
    if (shift == 63 && b > 1) return false;  // beyond 64 bits
    v |= std::uint64_t{b & 0x7Fu} << shift;
    if ((b & 0x80) == 0) return true;
  }
  return false;
}

[[nodiscard]] inline std::string file_header(std::string_view magic, std::uint64_t number) {
  std::string h(magic);
  put_u32(h, format_version);
  put_u32(h, static_cast<std::uint32_t>(file_header_size));
  put_u64(h, number);
  put_u32(h, 0);
  put_u32(h, crc32c(h.data(), h.size()));
  return h;
}

// The header check of a record header at h (bytes 9 and 10 hold it).
[[nodiscard]] inline std::uint32_t header_check(const char* h) {
  return crc32c(h, 9) & 0xFFFFu;
}
[[nodiscard]] inline std::uint32_t stored_header_check(const char* h) {
  return std::uint32_t{static_cast<unsigned char>(h[9])} |
         std::uint32_t{static_cast<unsigned char>(h[10])} << 8;
}

// Records are built in place: begin_record reserves the header, the caller appends the
// payload to the same string, and finish_record fills the header in.
[[nodiscard]] inline std::size_t begin_record(std::string& out) {
  const std::size_t at = out.size();
  out.append(record_header_size, '\0');
  return at;
}
inline void finish_record(std::string& out, std::size_t at, record_type type) {
  const std::size_t length = out.size() - at - record_header_size;
  char* h = out.data() + at;
  store_u32(h, crc32c(h + record_header_size, length));
  store_u32(h + 4, static_cast<std::uint32_t>(length));
  h[8] = static_cast<char>(type);
  const std::uint32_t check = header_check(h);
  h[9] = static_cast<char>(check & 0xFF);
  h[10] = static_cast<char>(check >> 8);
}

inline void put_write(std::string& out, write_kind kind, std::string_view key,
                      std::string_view value) {
  out.push_back(static_cast<char>(kind));
  put_varint(out, key.size());
  out.append(key);
  if (kind == write_kind::put) {
    put_varint(out, value.size());
    out.append(value);
  }
}

// Calls f(kind, key, value) for each write of a batch or entries payload (value empty for an
// erase). Returns an empty string, or what is malformed.
template <class F>
[[nodiscard]] std::string for_each_write(std::string_view payload, bool puts_only, F&& f) {
  std::uint64_t count = 0;
  if (!get_varint(payload, count)) return "the write count is cut short";
  // Each write takes at least 2 bytes: a count beyond that is damage, not a long loop.
  if (count > payload.size() / 2) return "a write count of " + std::to_string(count) + " in a payload of " + std::to_string(payload.size()) + " bytes";
  for (std::uint64_t i = 0; i < count; ++i) {
    if (payload.empty()) return "write " + std::to_string(i) + " is missing";
    const auto kind = static_cast<write_kind>(static_cast<unsigned char>(payload.front()));
    payload.remove_prefix(1);
    if (kind != write_kind::put && (puts_only || kind != write_kind::erase)) {
      return "write " + std::to_string(i) + " has unknown kind " +
             std::to_string(static_cast<unsigned>(kind));
    }
    std::uint64_t n = 0;
    if (!get_varint(payload, n) || n > payload.size()) {
      return "the key of write " + std::to_string(i) + " is cut short";
    }
    const std::string_view key = payload.substr(0, n);
    payload.remove_prefix(n);
    std::string_view value;
    if (kind == write_kind::put) {
      if (!get_varint(payload, n) || n > payload.size()) {
        return "the value of write " + std::to_string(i) + " is cut short";
      }
      value = payload.substr(0, n);
      payload.remove_prefix(n);
    }
    f(kind, key, value);
  }
  if (!payload.empty()) {
    return std::to_string(payload.size()) + " bytes follow the last write";
  }
  return {};
}

// Reads the records of one file in order, checking every byte of the format.
class record_reader {
 public:
  struct record {
    record_type type;
    std::string_view payload;  // valid until the next call of next()
    std::uint64_t offset;  // of the record's header in the file
  };

  // Reads and checks the file header. A file shorter than a header is a torn file where
  // tail_may_be_torn allows it (a crash between creating the file and syncing its header),
  // and corruption otherwise.
  record_reader(readable_file& file, std::filesystem::path path, std::string_view magic,
                bool tail_may_be_torn)
      : file_(file), path_(std::move(path)), size_(file.size()), torn_ok_(tail_may_be_torn) {
    if (size_ < file_header_size) {
      // An empty file was created and never written: it holds nothing, whatever the mode.
      if (size_ == 0 || torn_ok_) {
        torn_ = true;
        return;
      }
      throw corruption_error(path_, 0,
                             "the file has " + std::to_string(size_) +
                                 " bytes, fewer than its 32-byte header");
    }
    fill(file_header_size);
    const char* h = buf_.data();
    const bool magic_matches = std::string_view(h, 8) == magic;
    if (!magic_matches || get_u32(h + 28) != crc32c(h, 28)) {
      // A header that never fully arrived, with nothing but zeros after it: the file was
      // created and extended, and the power went before its pages reached the disk. It holds
      // nothing.
      const std::string what =
          magic_matches ? "the file header's checksum does not match"
                        : "not a cmap " +
                              std::string(magic == log_magic ? "log segment" : "checkpoint") +
                              ": the file does not start with \"" + std::string(magic) + "\"";
      // The zeros must begin inside the header, so its last byte is zero: a header whose
      // checksum merely fails (a flipped bit, another program's file) is corruption even
      // with nothing after it.
      if (torn_ok_ && h[file_header_size - 1] == 0) {
        consume(file_header_size);
        if (rest_is_zero()) {
          torn_ = true;
          torn_at_ = 0;
          return;
        }
      }
      throw corruption_error(path_, magic_matches ? 28 : 0, what);
    }
    if (get_u32(h + 8) != format_version) {
      throw corruption_error(path_, 8,
                             "format version " + std::to_string(get_u32(h + 8)) +
                                 "; this build reads version " + std::to_string(format_version));
    }
    if (get_u32(h + 12) != file_header_size || get_u32(h + 24) != 0) {
      throw corruption_error(path_, 12, "header size or reserved bytes are not as version 1 has them");
    }
    number_ = get_u64(h + 16);
    consume(file_header_size);
  }

  std::uint64_t number() const noexcept { return number_; }
  // Where the torn tail starts (the bytes to keep), once next() returned false with torn().
  bool torn() const noexcept { return torn_; }
  std::uint64_t torn_at() const noexcept { return torn_at_; }
  std::uint64_t size() const noexcept { return size_; }
  const std::filesystem::path& path() const noexcept { return path_; }

  // The next record; false at the end of the file, or at a torn tail (torn()).
  [[nodiscard]] bool next(record& r) {
    if (torn_) return false;
    const std::uint64_t at = pos_;
    const std::uint64_t left = size_ - at;
    if (left == 0) return false;
    if (left < record_header_size) {
      return torn_tail(at, "the file ends inside a record header (11 bytes, " +
                               std::to_string(left) + " present)");
    }
    fill(record_header_size);
    const char* h = buf_.data() + head_;
    if (stored_header_check(h) != header_check(h)) {
      // Torn if only zeros follow the header: the file's size reached the disk and its last
      // page did not, or only in part, so zeros may begin anywhere inside the header.
      // (The zeros begin inside the header, so its last byte is zero.)
      if (torn_ok_ && h[record_header_size - 1] == 0) {
        consume(record_header_size);
        if (rest_is_zero()) return torn_tail(at, "zero bytes to the end of the file");
      }
      throw corruption_error(path_, at, "the record header's checksum does not match");
    }
    const std::uint32_t length = get_u32(h + 4);
    const auto type = static_cast<record_type>(static_cast<unsigned char>(h[8]));
    const std::uint32_t payload_crc = get_u32(h);
    if (length > max_payload) {
      throw corruption_error(path_, at + 4,
                             "a record length of " + std::to_string(length) +
                                 " bytes, above the limit of " + std::to_string(max_payload));
    }
    if (length > left - record_header_size) {
      return torn_tail(at, "the file ends inside a record (a payload of " +
                               std::to_string(length) + " bytes, " +
                               std::to_string(left - record_header_size) + " present)");
    }
    consume(record_header_size);
    fill(length);
    const std::string_view payload(buf_.data() + head_, length);
    if (crc32c(payload.data(), payload.size()) != payload_crc) {
      if (at + record_header_size + length == size_) {
        return torn_tail(at, "the payload checksum of the file's last record does not match");
      }
      // Torn too if only zeros follow the record: its last page reached the disk only in
      // part, and the file's size went further (zeros from inside the payload to the end).
      // (The zeros begin inside the payload, so its last byte is zero.)
      if (torn_ok_ && length != 0 && payload.back() == 0) {
        consume(length);
        if (rest_is_zero()) {
          return torn_tail(at, "the payload checksum of the last record before zeros does not match");
        }
      }
      throw corruption_error(path_, at, "the record's payload checksum does not match");
    }
    consume(length);
    r = record{type, payload, at};
    return true;
  }

 private:
  // A damaged last record: a torn tail where allowed, else corruption described by what.
  bool torn_tail(std::uint64_t at, const std::string& what) {
    if (!torn_ok_) throw corruption_error(path_, at, what);
    torn_ = true;
    torn_at_ = at;
    return false;
  }

  bool rest_is_zero() {
    // Whether every byte from the current position to the end of the file is zero; reads on
    // through the file, the buffer holding what was read.
    while (true) {
      const std::string_view have(buf_.data() + head_, buf_.size() - head_);
      if (std::any_of(have.begin(), have.end(), [](char c) { return c != 0; })) return false;
      if (pos_ + have.size() >= size_) return true;
      consume(have.size());
      fill(std::min<std::uint64_t>(chunk, size_ - pos_));
    }
  }

  // Makes n bytes from pos_ available at buf_[head_..]; n never exceeds what the file has.
  void fill(std::size_t n) {
    const std::size_t have = buf_.size() - head_;
    if (have >= n) return;
    buf_.erase(0, head_);
    head_ = 0;
    const std::size_t want = std::max<std::size_t>(
        n, static_cast<std::size_t>(std::min<std::uint64_t>(chunk, size_ - pos_)));
    const std::size_t old = buf_.size();
    buf_.resize(want);
    const std::size_t got = file_.read(buf_.data() + old, want - old);
    buf_.resize(old + got);
    if (buf_.size() < n) {
      throw corruption_error(path_, pos_ + buf_.size(),
                             "the file changed size while it was read");
    }
  }
  void consume(std::size_t n) {
    head_ += n;
    pos_ += n;
  }

  static constexpr std::size_t chunk = std::size_t{1} << 20;

  readable_file& file_;
  std::filesystem::path path_;
  std::uint64_t size_;
  bool torn_ok_;
  std::string buf_;
  std::size_t head_ = 0;  // buf_[head_] is the file's byte at pos_
  std::uint64_t pos_ = 0;
  std::uint64_t number_ = 0;
  bool torn_ = false;
  std::uint64_t torn_at_ = 0;
};

}  // namespace cmap::detail::log_format
