#pragma once
// Which sanitizer this translation unit is built with, detected once for the whole project:
// GCC defines __SANITIZE_THREAD__ / __SANITIZE_ADDRESS__, Clang answers __has_feature.
//   CMAP_DETAIL_TSAN  1 under ThreadSanitizer, else 0
//   CMAP_DETAIL_ASAN  1 under AddressSanitizer, else 0
// Code that must differ under a sanitizer (a fence TSan cannot model, a pool allocator it
// cannot see, a workload scaled down for an instrumented build) tests these with #if.

#ifndef CMAP_DETAIL_TSAN
#if defined(__SANITIZE_THREAD__)
#define CMAP_DETAIL_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define CMAP_DETAIL_TSAN 1
#endif
#endif
#endif
#ifndef CMAP_DETAIL_TSAN
#define CMAP_DETAIL_TSAN 0
#endif

#ifndef CMAP_DETAIL_ASAN
#if defined(__SANITIZE_ADDRESS__)
#define CMAP_DETAIL_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define CMAP_DETAIL_ASAN 1
#endif
#endif
#endif
#ifndef CMAP_DETAIL_ASAN
#define CMAP_DETAIL_ASAN 0
#endif
