#pragma once
// The vocabulary of cmap::durable_map (<cmap/durable_map.hpp>): how durable a write is
// (cmap::sync), how recovery treats a damaged log (cmap::recovery_mode), the options of a
// store, what recovery reports, the errors a store throws, and cmap::codec, which turns values
// into the bytes the log and the checkpoints hold. docs/durability.md states the file formats
// byte by byte.

#include <chrono>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <type_traits>
#include <utility>

namespace cmap {

class file_system;

// When a write call returns, what has happened to its log record.
//   none         the record has been handed to the operating system (write(2)): it survives
//                the process's crash or kill, not a power loss or a kernel crash. Concurrent
//                writers share one write(2).
//   group        the record is on the device (fdatasync(2) returned after the record was
//                written): it survives a power loss. Concurrent writers share one fdatasync,
//                so N writers waiting together cost one sync (group commit).
//   every_write  as group, but the call makes its own fdatasync, never sharing one with
//                other writers: one sync per call, as a store that syncs each write alone.
// In every mode a write is applied to the map (and seen by readers) only after its record
// reached the state its mode promises, so a reader never sees a write that a crash of that
// kind could take back.
enum class sync : std::uint8_t { none, group, every_write };

// What open() does with a log whose last segment ends in a damaged record.
//   tolerate_torn_tail    (RocksDB's kTolerateCorruptedTailRecords) the last segment may end
//                         in a record that a crash cut short (its header or payload runs past
//                         the end of the file, or its checksum fails and it is the
//                         file's last record or zeros run from inside it to the end of
//                         the file, as when the file's size reached the disk and its last
//                         page did not): that
//                         record was never acknowledged, so it is dropped and the file is
//                         truncated before it. Damage anywhere else is corruption.
//   absolute_consistency  (kAbsoluteConsistency) any damaged record is corruption.
// Corruption makes open() throw cmap::corruption_error naming the file and byte offset; open()
// then truncates, overwrites and deletes nothing.
enum class recovery_mode : std::uint8_t { tolerate_torn_tail, absolute_consistency };

struct durable_options {
  // The mode of every write that does not name one (durable_map::with(sync) names one).
  cmap::sync default_sync = cmap::sync::group;
  recovery_mode recovery = recovery_mode::tolerate_torn_tail;
  // Create the directory (and its parent's entry for it) if it does not exist.
  bool create_if_missing = true;
  // Refuse to open a directory that already holds a store.
  bool error_if_exists = false;
  // A log segment is closed (synced) and a new one begun once it holds this many bytes.
  std::uint64_t segment_bytes = std::uint64_t{64} << 20;
  // A checkpoint is taken in the background once the log holds this many bytes beyond the
  // last checkpoint; 0 turns automatic checkpoints off (checkpoint() still works).
  std::uint64_t checkpoint_log_bytes = std::uint64_t{256} << 20;
  // Every file operation goes through it; null means the POSIX one. Tests pass a layer that
  // injects faults and simulates power loss.
  std::shared_ptr<cmap::file_system> fs;
};

// What open() found and did.
struct recovery_info {
  std::chrono::nanoseconds duration{0};
  std::uint64_t checkpoint_number = 0;  // the first log segment the checkpoint needs; 0: none
  std::uint64_t checkpoint_entries = 0;  // entries loaded from the checkpoint
  std::uint64_t segments_replayed = 0;
  std::uint64_t records_replayed = 0;  // log records (a write_batch is one)
  std::uint64_t writes_replayed = 0;  // single-key writes inside them
  std::uint64_t torn_bytes_dropped = 0;  // bytes of a torn tail record truncated away
};

struct checkpoint_info {
  std::chrono::nanoseconds duration{0};
  std::uint64_t number = 0;  // the first log segment replayed on top of it
  std::uint64_t entries = 0;
  std::uint64_t bytes = 0;  // size of the checkpoint file
  std::uint64_t segments_deleted = 0;
};

struct durable_stats {
  std::uint64_t records = 0;  // log records appended since open
  std::uint64_t user_bytes = 0;  // encoded key and value bytes of the writes in them
  std::uint64_t log_bytes = 0;  // bytes appended to the log since open (headers included)
  std::uint64_t writes_to_os = 0;  // write(2) calls on the log
  std::uint64_t syncs = 0;  // fdatasync calls on the log
  std::uint64_t checkpoints = 0;
  std::uint64_t checkpoint_bytes = 0;  // bytes of checkpoint files written since open
};

// Every error a store reports: what went wrong, on which file, and where in it.
class durable_error : public std::runtime_error {
 public:
  durable_error(const std::string& what, std::filesystem::path file = {},
                std::error_code code = {})
      : std::runtime_error(what), file_(std::move(file)), code_(code) {}
  const std::filesystem::path& file() const noexcept { return file_; }
  // The system's error for a failed system call; empty otherwise.
  std::error_code code() const noexcept { return code_; }

 private:
  std::filesystem::path file_;
  std::error_code code_;
};

// A file of the store whose bytes are not what the format requires (docs/durability.md):
// damaged, cut short, or not a file of this store at all.
class corruption_error : public durable_error {
 public:
  corruption_error(const std::filesystem::path& file, std::uint64_t offset,
                   const std::string& what)
      : durable_error(file.string() + " at byte " + std::to_string(offset) + ": " + what, file),
        offset_(offset) {}
  std::uint64_t offset() const noexcept { return offset_; }

 private:
  std::uint64_t offset_;
};

// codec<T>: the bytes a value is stored as in the log and in checkpoints.
//   static void encode(const T& v, std::string& out)    appends v's bytes to out
//   static T decode(std::string_view bytes)             the value; throws
//                                                       std::invalid_argument on bytes that
//                                                       encode no value
// decode(encode(v)) must equal v. Ready: integers, enums and bool (little-endian, fixed
// width), floating point (its bits), std::string, and any other trivially copyable type (its
// object representation: only for types without pointers, and only between builds with the
// same layout). Specialise it for a type of one's own.
template <class T, class = void>
struct codec;

namespace detail {
template <class T, bool = std::is_enum_v<T>>
struct codec_integer {
  using type = T;
};
template <class T>
struct codec_integer<T, true> {
  using type = std::underlying_type_t<T>;
};
}  // namespace detail
// The unsigned integer of an integer's or enum's width.
template <class T>
using codec_unsigned_t = std::make_unsigned_t<typename detail::codec_integer<T>::type>;

template <class T>
struct codec<T, std::enable_if_t<std::is_trivially_copyable_v<T> && !std::is_pointer_v<T>>> {
  static void encode(const T& v, std::string& out) {
    if constexpr (std::is_same_v<T, bool>) {
      out.push_back(v ? '\1' : '\0');
    } else if constexpr (std::is_integral_v<T> || std::is_enum_v<T>) {
      // Little-endian whatever the host, so that a store moves between machines.
      using U = codec_unsigned_t<T>;
      auto u = static_cast<U>(v);
      for (std::size_t i = 0; i < sizeof(U); ++i) {
        out.push_back(static_cast<char>(static_cast<unsigned char>(u >> (8 * i))));
      }
    } else {
      const std::size_t at = out.size();
      out.resize(at + sizeof(T));
      std::memcpy(out.data() + at, &v, sizeof(T));
    }
  }
  static T decode(std::string_view bytes) {
    if (bytes.size() != sizeof(T)) {
      throw std::invalid_argument("a value of " + std::to_string(sizeof(T)) +
                                  " bytes expected, " + std::to_string(bytes.size()) +
                                  " found");
    }
    if constexpr (std::is_same_v<T, bool>) {
      if (static_cast<unsigned char>(bytes[0]) > 1) {
        throw std::invalid_argument("a bool is 0 or 1");
      }
      return bytes[0] != 0;
    } else if constexpr (std::is_integral_v<T> || std::is_enum_v<T>) {
      using U = codec_unsigned_t<T>;
      U u = 0;
      for (std::size_t i = 0; i < sizeof(U); ++i) {
        u |= static_cast<U>(static_cast<U>(static_cast<unsigned char>(bytes[i])) << (8 * i));
      }
      return static_cast<T>(u);
    } else {
      T v;
      std::memcpy(&v, bytes.data(), sizeof(T));
      return v;
    }
  }
};

template <>
struct codec<std::string> {
  static void encode(const std::string& v, std::string& out) { out.append(v); }
  static std::string decode(std::string_view bytes) { return std::string(bytes); }
};

}  // namespace cmap
