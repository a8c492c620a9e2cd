#!/usr/bin/env bash
# Peak RSS of `strata build` on a Debian spec (issue 16 item 4).
#
# The spec is bench/debian.sh's closure (gcc + postgresql-15 + python3 +
# git + bash, bookworm), or examples/hello's packages with SMOKE=1. The
# .debs are downloaded once into a seed cache; each measured run gets a
# fresh cache holding only those .debs (hard links), as in bench/debian.sh:
#   cold, no lock   the index downloaded, parsed and cached; every .deb
#                   unpacked and laid out
#   warm, no lock   the same cache again: InRelease verified, index mapped
#   cold, lock      a fresh seeded cache with strata.lock: no index read
#   warm, lock      the same cache again
# Peak RSS is GNU time's maximum resident set size of the strata process.
# Bounds: 100 MiB cold and 50 MiB warm for any spec, 200 MiB for the
# largest closure; a run over its bound makes the script exit 1.
#
# Usage: bench/rss.sh [STRATA_BINARY]   (default: built from this tree)
#   env: SMOKE=1 (hello only), WORK (a folder kept between runs).
# bench/run calls it; it also runs on its own.
set -euo pipefail
cd "$(dirname "$0")/.."

packages='[gcc, postgresql-15, python3, git, bash]' cold_max=200 warm_max=200
if [ "${SMOKE:-}" = 1 ]; then packages='[hello]' cold_max=100 warm_max=50; fi
if [ -n "${WORK:-}" ]; then work=$WORK; mkdir -p "$work"; else
  work=$(mktemp -d)
  trap 'chmod -R u+w "$work" 2>/dev/null; rm -rf "$work"' EXIT
fi
if [ $# -gt 0 ]; then strata=$(realpath "$1"); else
  strata=$work/strata
  go build -o "$strata" ./cmd/strata
fi
[ -x /usr/bin/time ] || { echo "bench/rss.sh needs GNU time (/usr/bin/time)" >&2; exit 1; }

mkdir -p "$work/nolock" "$work/lock"
for d in nolock lock; do
  printf 'name: rss\ndebian:\n  suite: bookworm\n  packages: %s\n' "$packages" >"$work/$d/strata.yaml"
done
seed=$work/seed
"$strata" lock "$work/lock" --cache "$seed" -q
"$strata" build "$work/lock" --cache "$seed" -o "$work/seed.tar" -q
rm -f "$work/seed.tar"
mapfile -t shas < <(python3 -c '
import json, sys
for plat in json.load(open(sys.argv[1]))["sources"]["debian"].values():
    for p in plat["packages"]:
        print(p["sha256"])' "$work/lock/strata.lock")

fresh() {
  chmod -R u+w "$work/c" 2>/dev/null || true
  rm -rf "$work/c" && mkdir -p "$work/c/blobs/sha256"
  for s in "${shas[@]}"; do ln "$seed/blobs/sha256/$s" "$work/c/blobs/sha256/$s"; done
}
over=0
# peak NAME SPEC BOUND_MIB: one build on $work/c, its peak RSS printed
peak() {
  local kib
  kib=$(/usr/bin/time -f %M "$strata" build "$work/$2" --cache "$work/c" -o "$work/out.tar" -q 2>&1 >/dev/null | tail -1)
  [[ $kib =~ ^[0-9]+$ ]] || { echo "strata build $2 failed: $kib" >&2; exit 1; }
  local mib=$((kib / 1024)) mark=ok
  if [ "$mib" -gt "$3" ]; then mark=OVER over=1; fi
  printf '  %-16s %6d MiB   (<= %d MiB) %s\n' "$1" "$mib" "$3" "$mark"
}
echo "peak RSS, Debian $packages (${#shas[@]} .debs), .debs already downloaded"
fresh; peak "cold, no lock" nolock "$cold_max"; peak "warm, no lock" nolock "$warm_max"
fresh; peak "cold, lock" lock "$cold_max"; peak "warm, lock" lock "$warm_max"
rm -f "$work/out.tar"
exit "$over"
