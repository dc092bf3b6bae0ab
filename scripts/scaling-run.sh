#!/usr/bin/env bash
# A thread-scaling run of cmap-bench: one process per (preset, thread count), so that a cell
# that runs past its time limit loses that cell only; the rows of each preset are appended to
# OUT/PRESET.csv, each cell's --json output is kept as OUT/json/PRESET-THREADS.json (what
# `cmap-bench results --scaling OUT/json/*.json` and `make results SCALING=...` render), and the
# printed tables go to OUT/log.txt. The run of 2026-11-27 in
# docs/journal/thread-scaling-16-cores.md used these defaults.
#
# Usage: scripts/scaling-run.sh CMAP_BENCH OUT
#   CMAP_BENCH: a cmap-bench binary, or the run-cmap-bench of a bundle
#   (scripts/bundle-cmap-bench.sh). Environment, all optional:
#   PRESETS (default "parallel-load mixed read-heavy insert-only"),
#   THREADS (default "1 2 4 8 12 16 32"), MAPS (comma-separated), CELL_LIMIT (seconds per cell,
#   default 60).
set -uo pipefail

if [[ $# -ne 2 ]]; then
  echo "usage: $0 CMAP_BENCH OUT" >&2
  exit 2
fi
bench=$1
out=$2
mkdir -p "$out/json"
maps=${MAPS:-concurrent_hash_map,read_mostly_map,locked_map,sharded_map,tbb_hash_map,cuckoo,absl_flat_map,boost_flat_map}
{ nproc; lscpu; free -g; uname -a; } > "$out/machine.txt" 2>&1
cell=$(mktemp)
start=$(date +%s)
for preset in ${PRESETS:-parallel-load mixed read-heavy insert-only}; do
  extra=()
  # 16M operations, so that a run at 16 threads lasts about 0.1 s.
  case $preset in mixed | read-heavy) extra=(--ops 16000000) ;; esac
  for threads in ${THREADS:-1 2 4 8 12 16 32}; do
    rm -f "$cell"
    timeout "${CELL_LIMIT:-60}" "$bench" --preset "$preset" --maps "$maps" --threads "$threads" \
      --reps 3 --baseline tbb_hash_map "${extra[@]}" --csv "$cell" \
      --json "$out/json/$preset-$threads.json" >> "$out/log.txt" 2>&1
    rc=$?
    if [[ -s $cell ]]; then
      if [[ -f $out/$preset.csv ]]; then tail -n +2 "$cell" >> "$out/$preset.csv"; else cp "$cell" "$out/$preset.csv"; fi
    fi
    echo "$preset, $threads threads: exit $rc, $(($(date +%s) - start)) s since the start"
  done
done
rm -f "$cell"
