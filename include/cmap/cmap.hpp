#pragma once
// The umbrella header: every cmap map and the public vocabulary they share (hash,
// growth_policy, options, map_stats, access_violation, key_traits). See docs/choosing.md for
// which map to use.

#include "access_violation.hpp"
#include "art_map.hpp"
#include "checked_map.hpp"
#include "concurrent_hash_map.hpp"
#include "growth_policy.hpp"
#include "hash.hpp"
#include "key_traits.hpp"
#include "locked_map.hpp"
#include "map_stats.hpp"
#include "options.hpp"
#include "read_mostly_map.hpp"
#include "serial_map.hpp"
#include "sharded_map.hpp"
#include "snapshot_map.hpp"
