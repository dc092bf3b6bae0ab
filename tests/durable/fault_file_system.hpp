#pragma once
// fault_file_system: a cmap::file_system for tests that stands between durable_map and the
// real disk (cmap::posix_file_system()) and
//   - remembers what a power loss would keep: per file, how many bytes are known synced
//     (writable_file::sync() returned, or truncate()), and per directory entry whether it is
//     durable (a create, rename or remove becomes durable only when sync_directory() of its
//     directory returns);
//   - power_loss(): from that instant every call through it, and through the files it handed
//     out, throws cmap::durable_error (a dead disk), and the real directory is put in a state
//     the device could hold after the cut: unsynced directory changes are undone and unsynced
//     bytes are dropped (or, as chosen, partly kept, or left as zeros);
//   - injects faults on request: a failing sync, a full disk (with or without a short write),
//     a failing create, rename, directory sync or truncate.
//
// It never calls fdatasync: the disk it models is the one power_loss() leaves behind, and the
// machine's own disk never loses power during a test, so real syncs would only slow the
// tests down (pass_syncs_through turns them back on).
//
// Removes are not done at once: the file moves to a side directory outside the store, and is
// deleted when its directory is synced, or moved back by power_loss(). So an unsynced remove
// can be undone, as a real power cut would undo it.

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <string_view>
#include <system_error>
#include <unordered_map>
#include <vector>

#include <unistd.h>

#include <cmap/durability.hpp>
#include <cmap/file_system.hpp>

namespace cmap_test {

// What power_loss() does with the bytes of a file that were written but not synced.
enum class unsynced_bytes {
  drop,         // all of them are lost: the file ends at its synced length
  keep_prefix,  // a random prefix of them reached the disk (pages written back in order)
  zero_tail,    // a random prefix reached the disk, and the rest of its page reads as zeros
                // (the file's size reached the disk before the page's data did)
  any,          // one of the three above, chosen at random for each file
};

// One injected fault: it fires on the n-th later call of its kind (1: the next one) whose
// file's name contains name_contains (empty: any file), throwing durable_error with error.
struct fault_trigger {
  std::uint64_t countdown = 0;  // 0: off
  int error = EIO;
  std::string name_contains;

  // True when this call is the one that fails (then the trigger is spent).
  bool fires(const std::filesystem::path& p) {
    if (countdown == 0) return false;
    if (!name_contains.empty() &&
        p.filename().string().find(name_contains) == std::string::npos) {
      return false;
    }
    return --countdown == 0;
  }
};

struct fault_options {
  unsynced_bytes on_power_loss = unsynced_bytes::drop;
  std::uint64_t seed = 1;  // for the random choices of power_loss()
  bool pass_syncs_through = false;
};

class fault_file_system final : public cmap::file_system,
                                public std::enable_shared_from_this<fault_file_system> {
 public:
  using options = fault_options;

  explicit fault_file_system(options o = {})
      : options_(o), real_(cmap::posix_file_system()), rng_(o.seed) {
    static std::atomic<std::uint64_t> next{0};
    trash_ = std::filesystem::temp_directory_path() /
             ("cmap-fault-fs-trash-" + std::to_string(::getpid()) + "-" +
              std::to_string(next.fetch_add(1)));
    std::filesystem::create_directories(trash_);
  }
  ~fault_file_system() override {
    std::error_code ec;
    std::filesystem::remove_all(trash_, ec);
  }

  // ---- faults -------------------------------------------------------------------------------
  // The n-th later writable_file::sync (on a file whose name contains name_contains) throws.
  void fail_sync_after(std::uint64_t n, std::string name_contains = {}, int error = EIO) {
    std::lock_guard l(m_);
    sync_fault_ = {n, error, std::move(name_contains)};
  }
  // Appends throw ENOSPC once `bytes` more bytes were appended (to files whose name contains
  // name_contains). With short_write, the append that crosses the limit first writes the
  // bytes that still fit, then throws: a short write followed by the error.
  void no_space_after(std::uint64_t bytes, bool short_write = false,
                      std::string name_contains = {}) {
    std::lock_guard l(m_);
    space_limited_ = true;
    space_left_ = bytes;
    short_write_ = short_write;
    space_filter_ = std::move(name_contains);
  }
  void fail_create_after(std::uint64_t n, std::string name_contains = {}, int error = EIO) {
    std::lock_guard l(m_);
    create_fault_ = {n, error, std::move(name_contains)};
  }
  // Counts renames by the name of the file renamed (from).
  void fail_rename_after(std::uint64_t n, std::string name_contains = {}, int error = EIO) {
    std::lock_guard l(m_);
    rename_fault_ = {n, error, std::move(name_contains)};
  }
  void fail_directory_sync_after(std::uint64_t n, int error = EIO) {
    std::lock_guard l(m_);
    directory_sync_fault_ = {n, error, {}};
  }
  // Every later truncate throws (the store then cannot take a short write back out).
  void fail_truncates(int error = EIO) {
    std::lock_guard l(m_);
    truncate_error_ = error;
  }

  // ---- power loss ---------------------------------------------------------------------------
  // The power goes out now; see the top of the file.
  void power_loss() {
    std::lock_guard l(m_);
    if (dead_) return;
    dead_ = true;
    // Directory entries first, newest change first, so that each undo finds the names as the
    // change left them.
    for (auto it = pending_.rbegin(); it != pending_.rend(); ++it) {
      switch (it->kind) {
        case entry_change::create:
          std::filesystem::remove(it->path);
          files_.erase(it->path.string());
          break;
        case entry_change::rename: {
          std::filesystem::rename(it->path, it->from);
          auto node = files_.extract(it->path.string());
          if (!node.empty()) {
            node.key() = it->from.string();
            files_.insert(std::move(node));
          }
          break;
        }
        case entry_change::remove:
          std::filesystem::rename(it->trash, it->path);
          if (it->state) files_[it->path.string()] = it->state;
          break;
      }
    }
    pending_.clear();
    // Then the bytes of every file it wrote to.
    for (auto& [name, state] : files_) {
      const std::filesystem::path p = name;
      std::error_code ec;
      const std::uint64_t size = std::filesystem::file_size(p, ec);
      if (ec || size <= state->synced) continue;
      drop_unsynced(p, state->synced, size);
    }
  }
  [[nodiscard]] bool dead() const {
    std::lock_guard l(m_);
    return dead_;
  }
  // How many syncs of files reached it (statistics for the tests).
  [[nodiscard]] std::uint64_t syncs() const {
    std::lock_guard l(m_);
    return syncs_;
  }

  // ---- cmap::file_system --------------------------------------------------------------------
  bool exists(const std::filesystem::path& p) override {
    std::lock_guard l(m_);
    check_alive(p);
    return real_->exists(p);
  }
  void create_directories(const std::filesystem::path& dir) override {
    std::lock_guard l(m_);
    check_alive(dir);
    // The real one syncs each new directory into its parent: durable at once.
    real_->create_directories(dir);
  }
  std::vector<std::string> list(const std::filesystem::path& dir) override {
    std::lock_guard l(m_);
    check_alive(dir);
    return real_->list(dir);
  }
  std::unique_ptr<cmap::writable_file> create(const std::filesystem::path& p) override {
    std::lock_guard l(m_);
    check_alive(p);
    if (create_fault_.fires(p)) fail("injected: cannot create", p, create_fault_.error);
    auto file = real_->create(p);
    auto state = std::make_shared<file_state>();
    files_[p.string()] = state;
    pending_.push_back({entry_change::create, p, {}, {}, nullptr});
    return std::make_unique<fault_writable_file>(shared_from_this(), std::move(file), p,
                                                 std::move(state));
  }
  std::unique_ptr<cmap::readable_file> open_read(const std::filesystem::path& p) override {
    std::lock_guard l(m_);
    check_alive(p);
    return std::make_unique<fault_readable_file>(shared_from_this(), real_->open_read(p), p);
  }
  void truncate(const std::filesystem::path& p, std::uint64_t size) override {
    std::lock_guard l(m_);
    check_alive(p);
    if (truncate_error_ != 0) fail("injected: cannot truncate", p, truncate_error_);
    real_->truncate(p, size);
    // The real truncate syncs the file: every byte it keeps is on the device.
    state_of(p)->synced = size;
  }
  void rename(const std::filesystem::path& from, const std::filesystem::path& to) override {
    std::lock_guard l(m_);
    check_alive(from);
    if (rename_fault_.fires(from)) fail("injected: cannot rename", from, rename_fault_.error);
    // A rename over an existing file removes that file: as a remove, so that it can return.
    if (real_->exists(to)) remove_locked(to);
    real_->rename(from, to);
    auto node = files_.extract(from.string());
    if (!node.empty()) {
      node.key() = to.string();
      files_.insert(std::move(node));
    }
    pending_.push_back({entry_change::rename, to, from, {}, nullptr});
  }
  void remove(const std::filesystem::path& p) override {
    std::lock_guard l(m_);
    check_alive(p);
    remove_locked(p);
  }
  void sync_directory(const std::filesystem::path& dir) override {
    std::lock_guard l(m_);
    check_alive(dir);
    if (directory_sync_fault_.fires(dir)) {
      fail("injected: cannot sync directory", dir, directory_sync_fault_.error);
    }
    if (options_.pass_syncs_through) real_->sync_directory(dir);
    std::erase_if(pending_, [&](const pending_change& c) {
      if (c.path.parent_path() != dir) return false;
      if (c.kind == entry_change::remove) std::filesystem::remove(c.trash);
      return true;
    });
  }
  std::unique_ptr<cmap::directory_lock> lock(const std::filesystem::path& p) override {
    std::lock_guard l(m_);
    check_alive(p);
    return real_->lock(p);
  }

 private:
  struct file_state {
    std::uint64_t synced = 0;
  };
  enum class entry_change { create, rename, remove };
  struct pending_change {
    entry_change kind;
    std::filesystem::path path;   // the name the change made (rename: the new name)
    std::filesystem::path from;   // rename: the old name
    std::filesystem::path trash;  // remove: where the file waits
    std::shared_ptr<file_state> state;  // remove: the file's, to bring back
  };

  class fault_writable_file final : public cmap::writable_file {
   public:
    fault_writable_file(std::shared_ptr<fault_file_system> fs,
                        std::unique_ptr<cmap::writable_file> file, std::filesystem::path p,
                        std::shared_ptr<file_state> state)
        : fs_(std::move(fs)), file_(std::move(file)), path_(std::move(p)),
          state_(std::move(state)) {}
    void append(std::string_view bytes) override {
      std::lock_guard l(fs_->m_);
      fs_->check_alive(path_);
      if (fs_->space_limited_ && (fs_->space_filter_.empty() ||
                                  path_.filename().string().find(fs_->space_filter_) !=
                                      std::string::npos)) {
        if (bytes.size() > fs_->space_left_) {
          if (fs_->short_write_ && fs_->space_left_ > 0) {
            const auto part = bytes.substr(0, static_cast<std::size_t>(fs_->space_left_));
            file_->append(part);
            size_ += part.size();
          }
          fs_->space_left_ = 0;
          fail("injected: cannot write to", path_, ENOSPC);
        }
        fs_->space_left_ -= bytes.size();
      }
      file_->append(bytes);
      size_ += bytes.size();
    }
    void sync() override {
      std::lock_guard l(fs_->m_);
      fs_->check_alive(path_);
      if (fs_->sync_fault_.fires(path_)) fail("injected: cannot sync", path_, fs_->sync_fault_.error);
      if (fs_->options_.pass_syncs_through) file_->sync();
      ++fs_->syncs_;
      state_->synced = std::max(state_->synced, size_);
    }
    std::uint64_t size() const override { return size_; }

   private:
    std::shared_ptr<fault_file_system> fs_;
    std::unique_ptr<cmap::writable_file> file_;
    std::filesystem::path path_;
    std::shared_ptr<file_state> state_;
    std::uint64_t size_ = 0;
  };

  class fault_readable_file final : public cmap::readable_file {
   public:
    fault_readable_file(std::shared_ptr<fault_file_system> fs,
                        std::unique_ptr<cmap::readable_file> file, std::filesystem::path p)
        : fs_(std::move(fs)), file_(std::move(file)), path_(std::move(p)) {}
    std::size_t read(char* out, std::size_t n) override {
      {
        std::lock_guard l(fs_->m_);
        fs_->check_alive(path_);
      }
      return file_->read(out, n);
    }
    std::uint64_t size() const override { return file_->size(); }

   private:
    std::shared_ptr<fault_file_system> fs_;
    std::unique_ptr<cmap::readable_file> file_;
    std::filesystem::path path_;
  };

  [[noreturn]] static void fail(const std::string& what, const std::filesystem::path& p,
                                int error) {
    const std::error_code ec(error, std::generic_category());
    throw cmap::durable_error(what + " " + p.string() + ": " + ec.message(), p, ec);
  }
  void check_alive(const std::filesystem::path& p) const {
    if (dead_) fail("the power is out: cannot reach", p, EIO);
  }

  // The state of a file; one this file system did not create is taken as synced whole.
  std::shared_ptr<file_state> state_of(const std::filesystem::path& p) {
    auto& s = files_[p.string()];
    if (!s) {
      s = std::make_shared<file_state>();
      s->synced = std::filesystem::file_size(p);
    }
    return s;
  }

  void remove_locked(const std::filesystem::path& p) {
    if (!real_->exists(p)) fail("cannot remove", p, ENOENT);
    const std::filesystem::path waiting = trash_ / std::to_string(next_trash_++);
    std::filesystem::rename(p, waiting);
    std::shared_ptr<file_state> state;
    if (auto it = files_.find(p.string()); it != files_.end()) {
      state = it->second;
      files_.erase(it);
    }
    pending_.push_back({entry_change::remove, p, {}, waiting, std::move(state)});
  }

  // Leaves p as the device could hold it: its first `synced` bytes, then what the chosen
  // model keeps of the bytes up to `size`.
  void drop_unsynced(const std::filesystem::path& p, std::uint64_t synced, std::uint64_t size) {
    unsynced_bytes how = options_.on_power_loss;
    if (how == unsynced_bytes::any) {
      how = static_cast<unsynced_bytes>(std::uniform_int_distribution<int>(0, 2)(rng_));
    }
    std::uint64_t keep = synced;
    std::uint64_t end = synced;
    if (how != unsynced_bytes::drop) {
      keep = std::uniform_int_distribution<std::uint64_t>(synced, size)(rng_);
      end = keep;
      if (how == unsynced_bytes::zero_tail) {
        constexpr std::uint64_t page = 4096;
        end = std::min(size, (keep / page + 1) * page);
      }
    }
    std::filesystem::resize_file(p, keep);
    if (end > keep) {
      std::ofstream out(p, std::ios::binary | std::ios::app);
      const std::string zeros(static_cast<std::size_t>(end - keep), '\0');
      out.write(zeros.data(), static_cast<std::streamsize>(zeros.size()));
    }
  }

  const options options_;
  const std::shared_ptr<cmap::file_system> real_;
  std::filesystem::path trash_;

  mutable std::mutex m_;  // guards everything below, and every call to real_
  bool dead_ = false;
  std::mt19937_64 rng_;
  std::unordered_map<std::string, std::shared_ptr<file_state>> files_;  // by current name
  std::vector<pending_change> pending_;  // oldest first
  std::uint64_t next_trash_ = 0;
  std::uint64_t syncs_ = 0;

  fault_trigger sync_fault_;
  fault_trigger create_fault_;
  fault_trigger rename_fault_;
  fault_trigger directory_sync_fault_;
  int truncate_error_ = 0;
  bool space_limited_ = false;
  std::uint64_t space_left_ = 0;
  bool short_write_ = false;
  std::string space_filter_;
};

}  // namespace cmap_test
