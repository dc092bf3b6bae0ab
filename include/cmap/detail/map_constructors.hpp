#pragma once
// map_constructors: the constructor set every map offers (docs/api.md, "Construction"),
// written once. A map is `class M : public map_constructors<Core> { using base::base; }`,
// where Core holds the map and has one constructor,
//   Core(size_type capacity, const hasher&, const key_equal&, const allocator_type&,
//        const options_type&)
// and options_type names its other knobs (options.hpp), or is no_options.
//
// The set (n: room for n entries without growth, on every map):
//   M()                          M(n, hash = {}, equal = {}, alloc = {})
//   M(n, alloc)                  M(n, hash, alloc)               M(alloc)
//   M(n, options, hash = {}, equal = {}, alloc = {})             M(options)
//   M(first, last, n = 0, hash = {}, equal = {}, alloc = {})  (and the two shorter forms)
//   M({{k, v}, ...}, n = 0, hash = {}, equal = {}, alloc = {}) (and the two shorter forms)
// A range or list is inserted as insert(first, last) would (the first of equal keys wins);
// with forward iterators and n = 0, the map first makes room for the range's length.

#include <initializer_list>
#include <iterator>
#include <type_traits>

namespace cmap::detail {

// The options_type of a map that has no knobs besides the four every map has.
struct no_options {};

template <class Core>
class map_constructors : public Core {
 public:
  using options_type = typename Core::options_type;

 private:
  static constexpr bool has_options = !std::is_same_v<options_type, no_options>;

 public:
  using typename Core::allocator_type;
  using typename Core::hasher;
  using typename Core::key_equal;
  using typename Core::size_type;
  using typename Core::value_type;

  map_constructors() : Core(0, hasher(), key_equal(), allocator_type(), options_type()) {}
  explicit map_constructors(size_type n, const hasher& hash = hasher(),
                            const key_equal& eq = key_equal(),
                            const allocator_type& alloc = allocator_type())
      : Core(n, hash, eq, alloc, options_type()) {}
  map_constructors(size_type n, const allocator_type& alloc)
      : map_constructors(n, hasher(), key_equal(), alloc) {}
  map_constructors(size_type n, const hasher& hash, const allocator_type& alloc)
      : map_constructors(n, hash, key_equal(), alloc) {}
  explicit map_constructors(const allocator_type& alloc)
      : map_constructors(0, hasher(), key_equal(), alloc) {}

  map_constructors(size_type n, const options_type& options, const hasher& hash = hasher(),
                   const key_equal& eq = key_equal(),
                   const allocator_type& alloc = allocator_type()) requires has_options
      : Core(n, hash, eq, alloc, options) {}
  explicit map_constructors(const options_type& options) requires has_options
      : Core(0, hasher(), key_equal(), allocator_type(), options) {}

  template <std::input_iterator It>
  map_constructors(It first, It last, size_type n = 0, const hasher& hash = hasher(),
                   const key_equal& eq = key_equal(),
                   const allocator_type& alloc = allocator_type())
      : map_constructors(room_for(first, last, n), hash, eq, alloc) {
    this->insert(first, last);
  }
  template <std::input_iterator It>
  map_constructors(It first, It last, size_type n, const allocator_type& alloc)
      : map_constructors(first, last, n, hasher(), key_equal(), alloc) {}
  template <std::input_iterator It>
  map_constructors(It first, It last, size_type n, const hasher& hash, const allocator_type& alloc)
      : map_constructors(first, last, n, hash, key_equal(), alloc) {}

  map_constructors(std::initializer_list<value_type> init, size_type n = 0,
                   const hasher& hash = hasher(), const key_equal& eq = key_equal(),
                   const allocator_type& alloc = allocator_type())
      : map_constructors(init.begin(), init.end(), n, hash, eq, alloc) {}
  map_constructors(std::initializer_list<value_type> init, size_type n, const allocator_type& alloc)
      : map_constructors(init.begin(), init.end(), n, hasher(), key_equal(), alloc) {}
  map_constructors(std::initializer_list<value_type> init, size_type n, const hasher& hash,
                   const allocator_type& alloc)
      : map_constructors(init.begin(), init.end(), n, hash, key_equal(), alloc) {}

 private:
  template <class It>
  static size_type room_for(It first, It last, size_type n) {
    if constexpr (std::forward_iterator<It>) {
      if (n == 0) return static_cast<size_type>(std::distance(first, last));
    }
    return n;
  }
};

}  // namespace cmap::detail
