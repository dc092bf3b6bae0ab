#pragma once
// durable_files: a durable_map's directory. It owns the lock file, finds the newest checkpoint
// and the log segments after it, replays them into a replay_sink (recovery), and writes
// checkpoints. It knows bytes, not types: durable_map decodes keys and values in its sink.
//
// The directory holds only:
//   LOCK                              an empty file; the owner holds an flock on it
//   wal-<16 hex digits>.log           log segments, numbered 1, 2, ... without gaps
//   checkpoint-<16 hex digits>.ckpt   a complete checkpoint; its number is the first segment
//                                     replayed on top of it
//   checkpoint-<16 hex digits>.ckpt.tmp   one being written (or left by a crash: ignored, and
//                                     removed once the store has opened)
// Any other name is refused: it is not a store (or not only one), and writing into it could
// damage what is there.
//
// Recovery: the newest checkpoint C (if any) is loaded; then every segment from C's number
// (from 1 without a checkpoint) is replayed in order; the last one may end in a torn record
// (recovery_mode). Only after all of that succeeded does open change anything: it truncates
// a torn tail, removes segments and checkpoints older than C (left by a crash between a
// checkpoint and its clean-up) and leftover .tmp files, and begins a new segment.
//
// Checkpoints: durable_map first closes the current segment (log_writer::rotate, with every
// writer held back for that moment, so that each write in the closed segments has reached
// the map) and passes its successor's number N; the map's entries are written to
// checkpoint-N.ckpt.tmp, which is synced, renamed to checkpoint-N.ckpt and made durable by a
// directory sync; only then are segments below N and older checkpoints removed. A crash at
// any point leaves either the old checkpoint with every segment it needs, or the new one.

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "../durability.hpp"
#include "../file_system.hpp"
#include "log_format.hpp"
#include "log_writer.hpp"

namespace cmap::detail {

// Where recovery puts what it reads. put and erase throw std::invalid_argument for bytes that
// do not decode (the error becomes a corruption_error naming the record).
class replay_sink {
 public:
  virtual void put(std::string_view key, std::string_view value) = 0;
  virtual void erase(std::string_view key) = 0;
  virtual void clear() = 0;
  virtual ~replay_sink() = default;
};

[[nodiscard]] inline std::string checkpoint_name(std::uint64_t number) {
  char name[40];
  std::snprintf(name, sizeof name, "checkpoint-%016llx.ckpt",
                static_cast<unsigned long long>(number));
  return name;
}

// The number in name if it is prefix + 16 lowercase hex digits + suffix.
[[nodiscard]] inline std::optional<std::uint64_t> numbered_name(std::string_view name,
                                                                std::string_view prefix,
                                                                std::string_view suffix) {
  if (name.size() != prefix.size() + 16 + suffix.size() || !name.starts_with(prefix) ||
      !name.ends_with(suffix)) {
    return std::nullopt;
  }
  std::uint64_t n = 0;
  for (const char c : name.substr(prefix.size(), 16)) {
    int d;
    if (c >= '0' && c <= '9') {
      d = c - '0';
    } else if (c >= 'a' && c <= 'f') {
      d = c - 'a' + 10;
    } else {
      return std::nullopt;
    }
    n = n << 4 | static_cast<std::uint64_t>(d);
  }
  return n;
}

// What a log segment replayed.
struct segment_replay {
  std::uint64_t records = 0;
  std::uint64_t writes = 0;
  bool torn = false;
  std::uint64_t torn_at = 0;  // the bytes to keep, when torn
  std::uint64_t size = 0;
};

// Applies one record's writes, naming the record in any error.
inline void apply_writes(const log_format::record_reader& reader,
                         const log_format::record_reader::record& r, bool puts_only,
                         replay_sink& sink, std::uint64_t& writes) {
  std::string malformed;
  try {
    malformed = log_format::for_each_write(
        r.payload, puts_only,
        [&](log_format::write_kind kind, std::string_view key, std::string_view value) {
          if (kind == log_format::write_kind::put) {
            sink.put(key, value);
          } else {
            sink.erase(key);
          }
          ++writes;
        });
  } catch (const std::invalid_argument& e) {
    throw corruption_error(reader.path(), r.offset,
                           std::string("a write in this record does not decode: ") + e.what());
  }
  if (!malformed.empty()) {
    throw corruption_error(reader.path(), r.offset, "malformed record: " + malformed);
  }
}

// Replays one log segment (its number checked against `number`) into sink.
inline segment_replay replay_segment(readable_file& file, const std::filesystem::path& path,
                                     std::uint64_t number, bool tail_may_be_torn,
                                     replay_sink& sink) {
  log_format::record_reader reader(file, path, log_format::log_magic, tail_may_be_torn);
  segment_replay out;
  out.size = reader.size();
  if (!reader.torn() && reader.number() != number) {
    throw corruption_error(path, 16,
                           "the header names segment " + std::to_string(reader.number()) +
                               ", the file name segment " + std::to_string(number));
  }
  log_format::record_reader::record r;
  while (reader.next(r)) {
    switch (r.type) {
      case log_format::record_type::batch:
        apply_writes(reader, r, false, sink, out.writes);
        break;
      case log_format::record_type::clear:
        if (!r.payload.empty()) throw corruption_error(path, r.offset, "a clear record with a payload");
        sink.clear();
        break;
      default:
        throw corruption_error(path, r.offset + 8,
                               "record type " + std::to_string(static_cast<unsigned>(r.type)) +
                                   ", which a log segment does not hold");
    }
    ++out.records;
  }
  out.torn = reader.torn();
  out.torn_at = reader.torn_at();
  return out;
}

// Loads a checkpoint into sink; returns {its number, entries}.
inline std::pair<std::uint64_t, std::uint64_t> read_checkpoint(readable_file& file,
                                                               const std::filesystem::path& path,
                                                               replay_sink& sink) {
  log_format::record_reader reader(file, path, log_format::checkpoint_magic, false);
  if (reader.torn()) throw corruption_error(path, 0, "an empty checkpoint file");
  std::uint64_t entries = 0;
  std::uint64_t records = 0;
  log_format::record_reader::record r;
  while (reader.next(r)) {
    if (r.type == log_format::record_type::entries) {
      apply_writes(reader, r, true, sink, entries);
      ++records;
    } else if (r.type == log_format::record_type::end) {
      if (r.payload.size() != 16) {
        throw corruption_error(path, r.offset, "an end record of " + std::to_string(r.payload.size()) + " bytes, 16 expected");
      }
      const std::uint64_t want_entries = log_format::get_u64(r.payload.data());
      const std::uint64_t want_records = log_format::get_u64(r.payload.data() + 8);
      if (want_entries != entries || want_records != records) {
        throw corruption_error(path, r.offset,
                               "the end record counts " + std::to_string(want_entries) +
                                   " entries in " + std::to_string(want_records) +
                                   " records; the file holds " + std::to_string(entries) +
                                   " in " + std::to_string(records));
      }
      if (reader.next(r)) throw corruption_error(path, r.offset, "a record after the end record");
      return {reader.number(), entries};
    } else {
      throw corruption_error(path, r.offset + 8,
                             "record type " + std::to_string(static_cast<unsigned>(r.type)) +
                                 ", which a checkpoint does not hold");
    }
  }
  throw corruption_error(path, reader.size(), "the checkpoint has no end record (it is incomplete)");
}

class durable_files {
 public:
  // Opens (creating if allowed) and locks dir, and replays the store into sink.
  durable_files(std::filesystem::path dir, const durable_options& options, replay_sink& sink)
      : fs_(options.fs ? options.fs : cmap::posix_file_system()), dir_(std::move(dir)) {
    const auto start = std::chrono::steady_clock::now();
    if (!fs_->exists(dir_)) {
      if (!options.create_if_missing) {
        throw durable_error("no store at " + dir_.string() + " (create_if_missing is off)", dir_);
      }
      fs_->create_directories(dir_);
    }
    lock_ = fs_->lock(dir_ / "LOCK");
    listing found = list();
    if (options.error_if_exists && (!found.segments.empty() || !found.checkpoints.empty())) {
      throw durable_error("a store already exists at " + dir_.string() + " (error_if_exists is on)",
                          dir_);
    }
    recover(found, options.recovery, sink);
    recovery_.duration = std::chrono::steady_clock::now() - start;
  }

  file_system& fs() noexcept { return *fs_; }
  const std::filesystem::path& directory() const noexcept { return dir_; }
  const recovery_info& recovery() const noexcept { return recovery_; }
  // The number the log's first segment after open takes.
  std::uint64_t next_segment() const noexcept { return next_segment_; }

  // Writes checkpoint `number` from produce(emit), where emit(key, value) adds an entry, then
  // removes what it makes unnecessary.
  template <class Produce>
  checkpoint_info write_checkpoint(std::uint64_t number, Produce&& produce) {
    const auto start = std::chrono::steady_clock::now();
    const std::filesystem::path final_path = dir_ / checkpoint_name(number);
    const std::filesystem::path tmp = dir_ / (checkpoint_name(number) + ".tmp");
    if (fs_->exists(tmp)) fs_->remove(tmp);  // an attempt of this process that failed
    auto file = fs_->create(tmp);
    checkpoint_info info;
    info.number = number;
    std::string out = log_format::file_header(log_format::checkpoint_magic, number);
    std::string payload;
    std::uint64_t in_payload = 0;
    std::uint64_t records = 0;
    const auto flush_payload = [&] {
      if (in_payload == 0) return;
      const std::size_t at = log_format::begin_record(out);
      log_format::put_varint(out, in_payload);
      out.append(payload);
      log_format::finish_record(out, at, log_format::record_type::entries);
      payload.clear();
      in_payload = 0;
      ++records;
      if (out.size() >= (std::size_t{1} << 20)) {
        file->append(out);
        out.clear();
      }
    };
    produce([&](std::string_view key, std::string_view value) {
      log_format::put_write(payload, log_format::write_kind::put, key, value);
      ++in_payload;
      ++info.entries;
      if (payload.size() >= (std::size_t{64} << 10)) flush_payload();
    });
    flush_payload();
    const std::size_t at = log_format::begin_record(out);
    log_format::put_u64(out, info.entries);
    log_format::put_u64(out, records);
    log_format::finish_record(out, at, log_format::record_type::end);
    file->append(out);
    file->sync();
    info.bytes = file->size();
    file.reset();
    fs_->rename(tmp, final_path);
    fs_->sync_directory(dir_);
    // The checkpoint is durable: what came before it is no longer needed.
    const listing found = list();
    for (const auto& [n, name] : found.segments) {
      if (n < number) {
        fs_->remove(dir_ / name);
        ++info.segments_deleted;
      }
    }
    for (const auto& [n, name] : found.checkpoints) {
      if (n < number) fs_->remove(dir_ / name);
    }
    fs_->sync_directory(dir_);
    info.duration = std::chrono::steady_clock::now() - start;
    return info;
  }

 private:
  struct listing {
    std::map<std::uint64_t, std::string> segments;
    std::map<std::uint64_t, std::string> checkpoints;
    std::vector<std::string> temporaries;
  };

  listing list() {
    listing l;
    for (std::string& name : fs_->list(dir_)) {
      if (name == "LOCK") continue;
      if (auto n = numbered_name(name, "wal-", ".log")) {
        l.segments.emplace(*n, std::move(name));
      } else if (auto c = numbered_name(name, "checkpoint-", ".ckpt")) {
        l.checkpoints.emplace(*c, std::move(name));
      } else if (numbered_name(name, "checkpoint-", ".ckpt.tmp")) {
        l.temporaries.push_back(std::move(name));
      } else {
        throw durable_error("unexpected file " + (dir_ / name).string() +
                                ": a durable_map directory holds only LOCK, wal-<16 hex "
                                "digits>.log and checkpoint-<16 hex digits>.ckpt files; is "
                                "this the right directory?",
                            dir_ / name);
      }
    }
    return l;
  }

  void recover(const listing& found, recovery_mode mode, replay_sink& sink) {
    std::uint64_t first = 1;
    if (found.checkpoints.empty() && !found.segments.empty() && found.segments.begin()->first == 0) {
      throw corruption_error(dir_ / found.segments.begin()->second, 0,
                             "segment numbers start at 1: this is not the store's file");
    }
    if (!found.checkpoints.empty()) {
      const auto& [number, name] = *found.checkpoints.rbegin();
      const std::filesystem::path p = dir_ / name;
      auto file = fs_->open_read(p);
      const auto [header_number, entries] = read_checkpoint(*file, p, sink);
      if (header_number != number) {
        throw corruption_error(p, 16,
                               "the header names checkpoint " + std::to_string(header_number) +
                                   ", the file name " + std::to_string(number));
      }
      recovery_.checkpoint_number = number;
      recovery_.checkpoint_entries = entries;
      first = number;
    }
    // The segments to replay: first, first + 1, ... with no gap, up to the newest.
    std::vector<std::uint64_t> replay;
    for (auto it = found.segments.lower_bound(first); it != found.segments.end(); ++it) {
      const std::uint64_t expected = replay.empty() ? first : replay.back() + 1;
      if (it->first != expected) {
        throw corruption_error(dir_ / segment_name(expected), 0,
                               "this log segment is missing (" +
                                   (replay.empty() ? std::string("the store's log starts here")
                                                   : "found " + segment_name(expected - 1)) +
                                   ", and " + it->second + " follows)");
      }
      replay.push_back(it->first);
    }
    if (replay.empty() && !found.checkpoints.empty()) {
      throw corruption_error(dir_ / segment_name(first), 0,
                             "this log segment is missing: the checkpoint " +
                                 found.checkpoints.rbegin()->second + " needs it");
    }
    segment_replay last;
    for (std::size_t i = 0; i < replay.size(); ++i) {
      const bool is_last = i + 1 == replay.size();
      const std::filesystem::path p = dir_ / found.segments.at(replay[i]);
      auto file = fs_->open_read(p);
      const segment_replay s = replay_segment(
          *file, p, replay[i], is_last && mode == recovery_mode::tolerate_torn_tail, sink);
      if (s.torn && !is_last) {
        // Only an empty file can report torn here: a segment before the last is synced whole.
        throw corruption_error(p, 0, "an empty log segment before the last");
      }
      recovery_.records_replayed += s.records;
      recovery_.writes_replayed += s.writes;
      ++recovery_.segments_replayed;
      last = s;
    }
    // Everything was read: now the directory may change.
    next_segment_ = replay.empty() ? first : replay.back() + 1;
    if (!replay.empty() && last.torn) {
      const std::filesystem::path p = dir_ / found.segments.at(replay.back());
      recovery_.torn_bytes_dropped = last.size - last.torn_at;
      if (last.torn_at < log_format::file_header_size) {
        // The segment's header never reached the disk: it holds nothing; its number is reused.
        fs_->remove(p);
        next_segment_ = replay.back();
      } else {
        fs_->truncate(p, last.torn_at);
      }
    }
    for (const auto& [n, name] : found.segments) {
      if (n < first) fs_->remove(dir_ / name);
    }
    for (auto it = found.checkpoints.begin(); it != found.checkpoints.end(); ++it) {
      if (std::next(it) != found.checkpoints.end()) fs_->remove(dir_ / it->second);
    }
    for (const std::string& name : found.temporaries) fs_->remove(dir_ / name);
    fs_->sync_directory(dir_);
  }

  std::shared_ptr<file_system> fs_;
  std::filesystem::path dir_;
  std::unique_ptr<directory_lock> lock_;
  recovery_info recovery_;
  std::uint64_t next_segment_ = 1;
};

}  // namespace cmap::detail
