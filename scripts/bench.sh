#!/usr/bin/env bash
# Runs strata's benchmarks and prints each one's ratio to the floor run
# side by side in the same process (sha256 alone; sha256 + klauspost gzip).
# Usage: bash scripts/bench.sh [-benchtime 3x]
set -euo pipefail
cd "$(dirname "$0")/.."
benchtime=${1:-3x}
out=$(mktemp)
trap 'rm -f "$out"' EXIT

echo "== layer writer on ~200 MB of this machine's binaries (MB/s)"
go test ./layer -run '^$' -bench 'BenchmarkLayer' -benchtime "$benchtime" | tee "$out" | grep '^Benchmark'
awk '
  /^BenchmarkLayer\// { split($1, a, "/"); sub(/-[0-9]+$/, "", a[2]); mbs[a[2]] = $(NF-1) }
  END {
    printf "\nratios (>= 0.80 is the target):\n"
    printf "  writer-none / floor-sha256       = %.2f\n", mbs["writer-none"] / mbs["floor-sha256"]
    printf "  writer-gzip / floor-sha256+gzip  = %.2f\n", mbs["writer-gzip"] / mbs["floor-sha256+gzip"]
    printf "  writer-zstd / floor-sha256+gzip  = %.2f (zstd against the gzip floor)\n", mbs["writer-zstd"] / mbs["floor-sha256+gzip"]
  }' "$out"

echo
echo "== fleet layering: share of the ideal saving per strategy and budget"
go run ./bench/fleet
