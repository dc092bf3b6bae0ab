#pragma once
// log_writer: appends durable_map's records to the log's segment files, with group commit.
//
// Writers append framed records to one buffer in memory (pending_) under a mutex; one of them,
// the leader, takes the whole buffer, writes it with one write(2), and, when any of the
// records in it was written with sync::group, makes one fdatasync for all of them. Writers
// that arrive while the leader is on the disk add their records to the next buffer and wait;
// when the leader is back, one of them leads the next round. So N writers that wait together
// share one write and one sync, and a lone writer pays for its own at once (no timer: a group
// forms only from writers that would otherwise wait for the disk anyway).
//
// Positions are counted in bytes over the whole log (all segments), from 0 at open:
//   appended_  bytes put into pending_ (or written), the end of the newest record;
//   written_   bytes handed to the operating system;
//   synced_    bytes known to be on the device.
// appended_ >= written_ >= synced_. A record ending at e is durable once synced_ >= e.
//
// Failure. A failed write or sync leaves the log in an unknown state (after a failed
// fdatasync the kernel may have dropped the dirty pages, and a later sync would report
// success: PostgreSQL's fsync lesson). So the first failure is final: it is reported to every
// writer whose record it concerned and to every later call, until the store is reopened and
// recovery reads what is really on the disk. A write that reported an error may or may not
// be found after reopening; a write that returned is.
//
// Segments. A segment is closed once it holds segment_bytes (or when a checkpoint asks):
// the closing leader syncs it, then creates the next, writes and syncs its header, and syncs
// the directory. Syncing a segment before the next one exists is what lets recovery treat
// damage at the end of any segment but the last as corruption rather than a torn tail.

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "../durability.hpp"
#include "../file_system.hpp"
#include "log_format.hpp"
#include "observation.hpp"

namespace cmap::detail {

[[nodiscard]] inline std::string segment_name(std::uint64_t number) {
  char name[32];
  std::snprintf(name, sizeof name, "wal-%016llx.log", static_cast<unsigned long long>(number));
  return name;
}

class log_writer {
 public:
  // Creates segment `number` in dir and makes it durable.
  log_writer(file_system& fs, std::filesystem::path dir, std::uint64_t number,
             std::uint64_t segment_bytes)
      : fs_(fs), dir_(std::move(dir)), segment_bytes_(segment_bytes) {
    open_segment(number);
    number_ = number;
  }

  log_writer(const log_writer&) = delete;
  log_writer& operator=(const log_writer&) = delete;

  // Appends one framed record (log_format::finish_record) and returns once mode's promise
  // holds for it. Throws durable_error if the log failed, now or earlier.
  // user_bytes: the key and value bytes in it, for the statistics.
  void append(std::string_view record, cmap::sync mode, std::uint64_t user_bytes) {
    std::unique_lock l(m_);
    check_healthy();
    // Counted here, under the mutex every append takes anyway, rather than in shared atomics
    // that every writer would also have to write.
    ++records_;
    user_bytes_ += user_bytes;
    if (mode == cmap::sync::every_write) {
      // Its own sync: wait for the disk to be free, then lead a round that holds this record.
      idle_.wait(l, [&] { return !busy_ || failure_; });
      check_healthy();
      add(record, true);
      const std::uint64_t end = appended_;
      lead(l);
      check_done(end, true);
      return;
    }
    const bool want_sync = mode == cmap::sync::group;
    add(record, want_sync);
    const std::uint64_t end = appended_;
    while (!(want_sync ? synced_ >= end : written_ >= end)) {
      check_healthy();
      if (!busy_) {
        lead(l);
      } else {
        idle_.wait(l);
      }
    }
  }

  // Closes the current segment (everything appended so far is synced) and begins the next;
  // returns its number. Records appended afterwards go to the new segment.
  std::uint64_t rotate() {
    std::unique_lock l(m_);
    check_healthy();
    idle_.wait(l, [&] { return !busy_ || failure_; });
    check_healthy();
    busy_ = true;
    std::string batch;
    batch.swap(pending_);
    const std::uint64_t end = appended_;
    l.unlock();
    std::exception_ptr error;
    try {
      write_out(batch);
      sync_segment();
      open_segment(file_number_ + 1);
    } catch (...) {
      error = std::current_exception();
    }
    l.lock();
    finish_round(end, true, error);
    if (error) std::rethrow_exception(error);
    return number_;
  }

  // Writes and syncs everything appended so far. Throws if the log failed (now or earlier).
  void sync_now() {
    std::unique_lock l(m_);
    check_healthy();
    idle_.wait(l, [&] { return !busy_ || failure_; });
    check_healthy();
    const std::uint64_t end = appended_;
    if (synced_ >= end) return;
    want_sync_ = end;
    lead(l);
    check_done(end, true);
  }
  // The same at a clean close, where a failed log has nothing more to do.
  void sync_all() noexcept {
    try {
      sync_now();
    } catch (...) {
    }
  }

  // Log bytes appended since open, headers included.
  std::uint64_t appended() const {
    std::lock_guard l(m_);
    return appended_;
  }
  // Records appended since open (including any whose write then failed), and their key and
  // value bytes.
  std::uint64_t records() const {
    std::lock_guard l(m_);
    return records_;
  }
  std::uint64_t user_bytes() const {
    std::lock_guard l(m_);
    return user_bytes_;
  }
  std::uint64_t writes() const { return writes_.load(std::memory_order_relaxed); }
  std::uint64_t syncs() const { return syncs_.load(std::memory_order_relaxed); }
  bool failed() const {
    std::lock_guard l(m_);
    return failure_ != nullptr;
  }
  // Makes every later call fail with this error (the store failed elsewhere).
  void fail(std::exception_ptr error) {
    std::lock_guard l(m_);
    if (!failure_) failure_ = std::move(error);
    idle_.notify_all();
  }

 private:
  void check_healthy() const {
    if (!failure_) return;
    try {
      std::rethrow_exception(failure_);
    } catch (const durable_error& e) {
      throw durable_error(std::string("the store's log failed earlier, and writes are refused "
                                      "until it is reopened: ") + e.what(),
                          e.file(), e.code());
    }
  }
  void check_done(std::uint64_t end, bool need_sync) const {
    if (need_sync ? synced_ < end : written_ < end) check_healthy();
  }

  void add(std::string_view record, bool want_sync) {
    pending_.append(record);
    appended_ += record.size();
    if (want_sync) want_sync_ = appended_;
  }

  // One round, with m_ held on entry and exit: write what is pending, sync if a record in it
  // (or before it) asked for a sync, close the segment if it is full.
  void lead(std::unique_lock<std::mutex>& l) {
    busy_ = true;
    std::string batch;
    batch.swap(pending_);
    const std::uint64_t end = appended_;
    const bool do_sync = want_sync_ > synced_;
    l.unlock();
    std::exception_ptr error;
    bool rotated = false;
    try {
      write_out(batch);
      if (do_sync) sync_segment();
      if (file_->size() >= segment_bytes_) {
        if (!do_sync) sync_segment();
        open_segment(file_number_ + 1);
        rotated = true;  // the closed segment was synced whole
      }
    } catch (...) {
      error = std::current_exception();
    }
    l.lock();
    finish_round(end, do_sync || rotated, error);
    // Keep the larger buffer, so that a steady load stops allocating.
    batch.clear();
    if (batch.capacity() > pending_.capacity()) {
      batch.append(pending_);
      pending_.swap(batch);
    }
  }

  void finish_round(std::uint64_t end, bool synced, const std::exception_ptr& error) {
    if (error) {
      if (!failure_) failure_ = error;
    } else {
      written_ = end;
      if (synced) synced_ = end;
    }
    number_ = file_number_;
    busy_ = false;
    idle_.notify_all();
  }

  // The leader's (busy_ set), called without m_.
  void write_out(const std::string& batch) {
    if (batch.empty()) return;
    const std::uint64_t before = file_->size();
    try {
      file_->append(batch);
      unsynced_bytes_ += batch.size();
      writes_.fetch_add(1, std::memory_order_relaxed);  // a statistic: no ordering needed
    } catch (...) {
      // Take a partly written round back out of the file if the file system lets us, so that
      // reopening finds the log as it was; if it does not, recovery drops it as a torn tail.
      try {
        fs_.truncate(dir_ / segment_name(file_number_), before);
      } catch (...) {
      }
      throw;
    }
  }
  void sync_segment() {
    {
      const log_sync_scope observed(this, unsynced_bytes_);
      file_->sync();
    }
    unsynced_bytes_ = 0;
    syncs_.fetch_add(1, std::memory_order_relaxed);  // a statistic
  }
  // The leader's, or the constructor's.
  void open_segment(std::uint64_t number) {
    const std::filesystem::path p = dir_ / segment_name(number);
    auto file = fs_.create(p);
    file->append(log_format::file_header(log_format::log_magic, number));
    file->sync();
    fs_.sync_directory(dir_);
    file_ = std::move(file);
    file_number_ = number;
  }

  file_system& fs_;
  const std::filesystem::path dir_;
  const std::uint64_t segment_bytes_;

  mutable std::mutex m_;
  std::condition_variable idle_;  // busy_ became false, or the log failed
  // The current segment and its number: the leader's (busy_ set), used outside m_.
  std::unique_ptr<writable_file> file_;
  std::uint64_t file_number_ = 0;
  std::uint64_t unsynced_bytes_ = 0;  // written to file_ since its last sync (log_sync's bytes)
  std::uint64_t number_ = 0;  // file_number_ as of the last round, for readers under m_
  std::string pending_;
  std::uint64_t appended_ = 0;
  std::uint64_t written_ = 0;
  std::uint64_t synced_ = 0;
  std::uint64_t want_sync_ = 0;  // the end of the newest record that asked for a sync
  bool busy_ = false;  // a leader is writing: only it touches file_
  std::exception_ptr failure_;
  std::uint64_t records_ = 0;
  std::uint64_t user_bytes_ = 0;
  std::atomic<std::uint64_t> writes_{0};
  std::atomic<std::uint64_t> syncs_{0};
};

}  // namespace cmap::detail
