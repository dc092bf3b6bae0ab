#pragma once
// cmap::file_system: every file operation durable_map makes, behind one interface, so that a
// test can stand between the store and the disk: drop every byte not yet synced (a power
// loss), fail an fdatasync, run out of space, write short. posix_file_system() is the real
// one; durable_options::fs chooses.
//
// The contract an implementation keeps (the store's correctness rests on it):
//   - writable_file::append writes all of its bytes or throws; bytes appended are readable at
//     once by this process and others, and survive a power loss only after sync() returned.
//   - sync() is fdatasync: the file's bytes and size are on the device when it returns. A
//     failed sync throws, and the store then treats the file's unsynced bytes as lost.
//   - a new file's name, a rename and a removal survive a power loss only after
//     sync_directory() on the directory holding them returned.
//   - every failure throws cmap::durable_error naming the file and carrying errno.
// An implementation is used from several threads at once, on different files.

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "durability.hpp"

namespace cmap {

class writable_file {
 public:
  virtual ~writable_file() = default;
  virtual void append(std::string_view bytes) = 0;
  virtual void sync() = 0;
  // Bytes in the file (appended so far, whether synced or not).
  virtual std::uint64_t size() const = 0;
};

class readable_file {
 public:
  virtual ~readable_file() = default;
  // Reads up to n bytes from where the last read ended; fewer than n only at the end of the file.
  virtual std::size_t read(char* out, std::size_t n) = 0;
  virtual std::uint64_t size() const = 0;
};

// Held while the store owns a directory; the destructor releases it.
class directory_lock {
 public:
  virtual ~directory_lock() = default;
};

class file_system {
 public:
  virtual ~file_system() = default;
  virtual bool exists(const std::filesystem::path& p) = 0;
  // Creates the directory and any missing parents, each made durable in its parent.
  virtual void create_directories(const std::filesystem::path& dir) = 0;
  // The names in dir, without "." and "..", in no particular order.
  virtual std::vector<std::string> list(const std::filesystem::path& dir) = 0;
  // A new, empty file; fails if one exists.
  virtual std::unique_ptr<writable_file> create(const std::filesystem::path& p) = 0;
  virtual std::unique_ptr<readable_file> open_read(const std::filesystem::path& p) = 0;
  // Cuts the file to size bytes and syncs it.
  virtual void truncate(const std::filesystem::path& p, std::uint64_t size) = 0;
  virtual void rename(const std::filesystem::path& from, const std::filesystem::path& to) = 0;
  virtual void remove(const std::filesystem::path& p) = 0;
  virtual void sync_directory(const std::filesystem::path& dir) = 0;
  // An exclusive advisory lock on the file p (created if missing); throws if another holder
  // has it, in this process or another.
  virtual std::unique_ptr<directory_lock> lock(const std::filesystem::path& p) = 0;
};

namespace detail {

[[noreturn]] inline void throw_errno(const std::string& what, const std::filesystem::path& p,
                                     int err) {
  const std::error_code ec(err, std::generic_category());
  throw durable_error(what + " " + p.string() + ": " + ec.message(), p, ec);
}

// A file descriptor that closes itself.
class posix_fd {
 public:
  posix_fd() = default;
  explicit posix_fd(int fd) noexcept : fd_(fd) {}
  posix_fd(posix_fd&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
  posix_fd& operator=(posix_fd&& o) noexcept {
    if (this != &o) {
      reset();
      fd_ = std::exchange(o.fd_, -1);
    }
    return *this;
  }
  ~posix_fd() { reset(); }
  int get() const noexcept { return fd_; }
  void reset() noexcept {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  int fd_ = -1;
};

inline posix_fd open_or_throw(const std::filesystem::path& p, int flags, const char* what,
                              mode_t mode = 0644) {
  int fd;
  do {
    fd = ::open(p.c_str(), flags | O_CLOEXEC, mode);
  } while (fd < 0 && errno == EINTR);
  if (fd < 0) throw_errno(what, p, errno);
  return posix_fd(fd);
}

class posix_writable_file final : public writable_file {
 public:
  posix_writable_file(posix_fd fd, std::filesystem::path p) : fd_(std::move(fd)), path_(std::move(p)) {}
  void append(std::string_view bytes) override {
    while (!bytes.empty()) {
      const ::ssize_t n = ::write(fd_.get(), bytes.data(), bytes.size());
      if (n < 0) {
        if (errno == EINTR) continue;
        throw_errno("cannot write to", path_, errno);
      }
      // A short write (the disk filled, or a signal) goes on from where it stopped; the next
      // write reports the reason if there is one.
      size_ += static_cast<std::uint64_t>(n);
      bytes.remove_prefix(static_cast<std::size_t>(n));
    }
  }
  void sync() override {
    if (::fdatasync(fd_.get()) != 0) throw_errno("cannot sync", path_, errno);
  }
  std::uint64_t size() const override { return size_; }

 private:
  posix_fd fd_;
  std::filesystem::path path_;
  std::uint64_t size_ = 0;
};

class posix_readable_file final : public readable_file {
 public:
  posix_readable_file(posix_fd fd, std::filesystem::path p, std::uint64_t size)
      : fd_(std::move(fd)), path_(std::move(p)), size_(size) {}
  std::size_t read(char* out, std::size_t n) override {
    std::size_t got = 0;
    while (got < n) {
      const ::ssize_t r = ::read(fd_.get(), out + got, n - got);
      if (r < 0) {
        if (errno == EINTR) continue;
        throw_errno("cannot read", path_, errno);
      }
      if (r == 0) break;
      got += static_cast<std::size_t>(r);
    }
    return got;
  }
  std::uint64_t size() const override { return size_; }

 private:
  posix_fd fd_;
  std::filesystem::path path_;
  std::uint64_t size_;
};

class posix_directory_lock final : public directory_lock {
 public:
  explicit posix_directory_lock(posix_fd fd) : fd_(std::move(fd)) {}
  // Closing the descriptor releases the flock.

 private:
  posix_fd fd_;
};

class posix_file_system final : public file_system {
 public:
  bool exists(const std::filesystem::path& p) override {
    struct stat st;
    return ::stat(p.c_str(), &st) == 0;
  }
  void create_directories(const std::filesystem::path& dir) override {
    if (dir.empty() || exists(dir)) return;
    const std::filesystem::path parent = dir.parent_path();
    if (!parent.empty() && parent != dir) create_directories(parent);
    if (::mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST) {
      throw_errno("cannot create directory", dir, errno);
    }
    sync_directory(parent.empty() ? std::filesystem::path(".") : parent);
  }
  std::vector<std::string> list(const std::filesystem::path& dir) override {
    std::unique_ptr<DIR, int (*)(DIR*)> d(::opendir(dir.c_str()), &::closedir);
    if (!d) throw_errno("cannot list directory", dir, errno);
    std::vector<std::string> names;
    errno = 0;
    while (const dirent* e = ::readdir(d.get())) {
      const std::string_view name = e->d_name;
      if (name != "." && name != "..") names.emplace_back(name);
    }
    if (errno != 0) throw_errno("cannot list directory", dir, errno);
    return names;
  }
  std::unique_ptr<writable_file> create(const std::filesystem::path& p) override {
    return std::make_unique<posix_writable_file>(
        open_or_throw(p, O_WRONLY | O_CREAT | O_EXCL | O_APPEND, "cannot create"), p);
  }
  std::unique_ptr<readable_file> open_read(const std::filesystem::path& p) override {
    posix_fd fd = open_or_throw(p, O_RDONLY, "cannot open");
    struct stat st;
    if (::fstat(fd.get(), &st) != 0) throw_errno("cannot stat", p, errno);
    if (!S_ISREG(st.st_mode)) {
      throw durable_error(p.string() + " is not a regular file", p);
    }
    return std::make_unique<posix_readable_file>(std::move(fd), p,
                                                 static_cast<std::uint64_t>(st.st_size));
  }
  void truncate(const std::filesystem::path& p, std::uint64_t size) override {
    posix_fd fd = open_or_throw(p, O_WRONLY, "cannot open");
    if (::ftruncate(fd.get(), static_cast<off_t>(size)) != 0) {
      throw_errno("cannot truncate", p, errno);
    }
    if (::fdatasync(fd.get()) != 0) throw_errno("cannot sync", p, errno);
  }
  void rename(const std::filesystem::path& from, const std::filesystem::path& to) override {
    if (::rename(from.c_str(), to.c_str()) != 0) throw_errno("cannot rename", from, errno);
  }
  void remove(const std::filesystem::path& p) override {
    if (::unlink(p.c_str()) != 0) throw_errno("cannot remove", p, errno);
  }
  void sync_directory(const std::filesystem::path& dir) override {
    posix_fd fd = open_or_throw(dir, O_RDONLY | O_DIRECTORY, "cannot open directory");
    if (::fsync(fd.get()) != 0) throw_errno("cannot sync directory", dir, errno);
  }
  std::unique_ptr<directory_lock> lock(const std::filesystem::path& p) override {
    posix_fd fd = open_or_throw(p, O_RDWR | O_CREAT, "cannot open lock file");
    // flock rather than fcntl locks: an flock belongs to the open file description, so a
    // second open of the same store in this process is refused too (fcntl locks are per
    // process and would let it through).
    if (::flock(fd.get(), LOCK_EX | LOCK_NB) != 0) {
      const int err = errno;
      if (err == EWOULDBLOCK) {
        throw durable_error(p.parent_path().string() +
                                " is in use: another durable_map (in this process or another) "
                                "holds its lock file " + p.string(),
                            p, std::error_code(err, std::generic_category()));
      }
      throw_errno("cannot lock", p, err);
    }
    return std::make_unique<posix_directory_lock>(std::move(fd));
  }
};

}  // namespace detail

// The file system of the operating system (one shared instance).
inline std::shared_ptr<file_system> posix_file_system() {
  static const std::shared_ptr<file_system> fs = std::make_shared<detail::posix_file_system>();
  return fs;
}

}  // namespace cmap
