#pragma once
// Small helpers shared by the maps' public templates: transparent lookup, and walks that a
// callback may stop early.

#include <concepts>
#include <functional>
#include <type_traits>
#include <utility>

namespace cmap::detail {

// Heterogeneous lookup (find(std::string_view) on a std::string map) is offered only when
// both the hash and the equality are transparent, as in the standard's unordered containers:
// then they promise to treat a K and the Key it stands for alike.
template <class Hash, class KeyEqual>
concept transparent_lookup = requires {
  typename Hash::is_transparent;
  typename KeyEqual::is_transparent;
};

// Calls f(args...). A for_each callback may return bool to stop the walk (false = stop) or
// return nothing; this returns whether the walk goes on.
template <class F, class... Args>
bool invoke_continue(F& f, Args&&... args) {
  if constexpr (std::is_same_v<std::invoke_result_t<F&, Args...>, void>) {
    std::invoke(f, std::forward<Args>(args)...);
    return true;
  } else {
    return static_cast<bool>(std::invoke(f, std::forward<Args>(args)...));
  }
}

}  // namespace cmap::detail
