#pragma once
// The umbrella header: every cmap map. See docs/choosing.md for which one to use.

#include "checked_map.hpp"
#include "concurrent_hash_map.hpp"
#include "locked_map.hpp"
#include "read_mostly_map.hpp"
#include "serial_map.hpp"
#include "sharded_map.hpp"
#include "snapshot_map.hpp"
