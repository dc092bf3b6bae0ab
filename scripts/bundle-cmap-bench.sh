#!/usr/bin/env bash
# Makes a self-contained copy of a cmap-bench binary, for a machine whose system libraries
# are not this one's (the lent 16-core device machine, say): the binary, stripped, with every
# shared library it loads and this machine's dynamic loader. Run it there as
#   DIR/run-cmap-bench ARGS...
# which starts the bundled loader on the bundled libraries, whatever the host has.
#
# Usage: scripts/bundle-cmap-bench.sh [BINARY] DIR
#   BINARY defaults to build/release/tools/cmap-bench/cmap-bench (build it first).
set -euo pipefail

if [[ $# -eq 1 ]]; then
  binary=build/release/tools/cmap-bench/cmap-bench
  dir=$1
elif [[ $# -eq 2 ]]; then
  binary=$1
  dir=$2
else
  echo "usage: $0 [BINARY] DIR" >&2
  exit 2
fi
if [[ ! -x $binary ]]; then
  echo "$0: no executable at $binary (build it first: ninja -C build/release)" >&2
  exit 1
fi

mkdir -p "$dir/lib"
strip -o "$dir/cmap-bench" "$binary"
# Every library the loader resolves, and the loader itself.
ldd "$binary" | awk '/=> \//{print $3}' | while read -r lib; do cp -L "$lib" "$dir/lib/"; done
loader=$(ldd "$binary" | awk '/ld-linux/{print $1}')
cp -L "$loader" "$dir/lib/"
cat > "$dir/run-cmap-bench" <<'RUN'
#!/usr/bin/env bash
# Runs the bundled cmap-bench with the bundled loader and libraries.
here=$(cd "$(dirname "$0")" && pwd)
exec "$here/lib/$(basename "$(ls "$here"/lib/ld-linux*)")" --library-path "$here/lib" \
  "$here/cmap-bench" "$@"
RUN
chmod +x "$dir/run-cmap-bench"
echo "$dir: $(du -sh "$dir" | cut -f1); run it as $dir/run-cmap-bench ARGS"
