// Fires every cmap probe with known arguments, in a loop, until killed: the slow-path probes
// (lock waits, resizes, reclamation, serial batches, log syncs) fire in the maps only under
// contention or growth, and cmap-watch's scripts for them must still load and report.
// Prints its PID, then the addresses standing in for a map and a lock.

#include <unistd.h>

#include <chrono>
#include <cmap/detail/probes.hpp>
#include <cstdio>
#include <thread>

int main() {
  static int map, lock, table, domain, executor, log;
  std::printf("%d %p %p\n", static_cast<int>(::getpid()), static_cast<void*>(&map),
              static_cast<void*>(&lock));
  std::fflush(stdout);
  const unsigned kind = 4;  // concurrent_hash_map
  const unsigned find = 64;
  const unsigned stripe = 4;
  for (unsigned long i = 0;; ++i) {
    CMAP_PROBE(op_begin, &map, kind, find, i);
    CMAP_PROBE(lock_wait_begin, &lock, stripe);
    std::this_thread::sleep_for(std::chrono::microseconds(50));
    CMAP_PROBE(lock_wait_end, &lock, stripe);
    if (i % 100 == 0) {
      CMAP_PROBE(resize_begin, &table, 1024ul, 2048ul);
      CMAP_PROBE(resize_end, &table, 1024ul, 2048ul);
    }
    CMAP_PROBE(op_end, &map, kind, find, 1ul);
    CMAP_PROBE(reclaim, &domain, 3ul, i % 50);
    CMAP_PROBE(serial_batch, &executor, 7ul);
    CMAP_PROBE(log_sync, &log, 4096ul, 100000ul);
    std::this_thread::sleep_for(std::chrono::microseconds(200));
  }
}
