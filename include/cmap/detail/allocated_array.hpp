#pragma once
// allocated_array<T, Allocator>: a fixed number of T, each built from the same arguments, in
// one block from the map's allocator (rebound to T). For the arrays of locks a map builds
// once (sharded_map's shards, concurrent_hash_map's stripes), so that with a stateful
// allocator all of a map's memory comes from it, and T need be neither default constructible
// nor movable.

#include <cstddef>
#include <memory>
#include <utility>

namespace cmap::detail {

template <class T, class Allocator>
class allocated_array {
  using alloc_type = typename std::allocator_traits<Allocator>::template rebind_alloc<T>;
  using traits = std::allocator_traits<alloc_type>;

 public:
  // n objects T(args...); if one of them throws, those built are destroyed, the block freed,
  // and the exception propagates.
  template <class... Args>
  allocated_array(std::size_t n, const Allocator& alloc, const Args&... args)
      : alloc_(alloc), size_(n), data_(traits::allocate(alloc_, n)) {
    std::size_t built = 0;
    try {
      for (; built < n; ++built) traits::construct(alloc_, data_ + built, args...);
    } catch (...) {
      destroy(built);
      throw;
    }
  }
  ~allocated_array() { destroy(size_); }

  allocated_array(const allocated_array&) = delete;
  allocated_array& operator=(const allocated_array&) = delete;

  [[nodiscard]] T& operator[](std::size_t i) noexcept { return data_[i]; }
  [[nodiscard]] const T& operator[](std::size_t i) const noexcept { return data_[i]; }
  [[nodiscard]] std::size_t size() const noexcept { return size_; }

 private:
  // Destroys the first `built` objects (in reverse) and frees the block.
  void destroy(std::size_t built) noexcept {
    while (built > 0) traits::destroy(alloc_, data_ + --built);
    traits::deallocate(alloc_, data_, size_);
  }

  [[no_unique_address]] alloc_type alloc_;
  std::size_t size_;
  T* data_;
};

}  // namespace cmap::detail
