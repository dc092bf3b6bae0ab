#!/usr/bin/env bash
# Checks that the Debian packages needed to build, test and benchmark cmap are installed.
# As root it installs the missing ones; otherwise it prints the command to run and exits 1.
set -euo pipefail

# Add packages here (one list, so optional peers can join it later).
packages=(
  cmake
  ninja-build
  g++
  clang
  libclang-rt-14-dev
  libgtest-dev
  libgmock-dev
  libbenchmark-dev
  make
  # cmap-bench: command line, formatting, workload files and JSON output
  libcli11-dev
  libfmt-dev
  nlohmann-json3-dev
  # cmap-bench peers (each optional at configure time; installed so that CI compares them)
  libtbb-dev
  libcuckoo-dev
  libabsl-dev
  libboost1.81-dev
  libcds-dev
  # cmap-bench's durable-store peers (each optional at configure time, like the others)
  librocksdb-dev
  libleveldb-dev
  liblmdb-dev
  # cmap-bench: TOML workload files (optional at configure time)
  libtomlplusplus-dev
  # USDT probes (<sys/sdt.h>), and what cmap-watch drives and its tests attach with
  systemtap-sdt-dev
  bpftrace
  # metrics: promtool and a Prometheus server for the exposition tests, cpp-httplib for the
  # /metrics demo
  prometheus
  libcpp-httplib-dev
  # cmap-bench's tests: a headless browser renders the HTML report (found at configure time;
  # without it the test parses the report instead)
  chromium
)

if ! command -v dpkg-query >/dev/null 2>&1; then
  echo "deps.sh: dpkg-query not found (not Debian?); make sure these are installed:" \
       "${packages[*]}" >&2
  exit 0
fi

missing=()
for package in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$package" 2>/dev/null || true)
  if [[ "$status" != "install ok installed" ]]; then
    missing+=("$package")
  fi
done

if (( ${#missing[@]} == 0 )); then
  exit 0
fi

if [[ "$(id -u)" == 0 ]]; then
  echo "deps.sh: installing ${missing[*]}"
  apt-get update
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"
else
  echo "deps.sh: these Debian packages are missing; install them (as root) with:" >&2
  echo "sudo apt-get install -y ${missing[*]}" >&2
  exit 1
fi
