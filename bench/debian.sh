#!/usr/bin/env bash
# Cold Debian build against the `dpkg -x` floor (issue 16, items 1b and 2).
#
# The closure is gcc + postgresql-15 + python3 + git + bash (bookworm, about
# 140 .debs). The .debs are downloaded once into a seed cache; every timed
# strata run gets a fresh cache holding only those .debs (hard links), so it
# unpacks, lays out and compresses everything: "cold, .debs already
# downloaded". The floor is `dpkg -x` of every .deb, $JOBS at a time.
#
# Runs are interleaved (floor, then each strata binary, ROUNDS times) and
# reported as medians and ratios, because other work on the machine moves
# absolute times. CPU is user + system of the process and its children (the
# xz subprocesses included).
#
# Usage: bench/debian.sh [NAME=STRATA_BINARY ...]
#   default: one binary built from this tree, named "strata".
#   env: ROUNDS (3), JOBS (nproc), COMPRESSION (gzip), WORK (a temp folder,
#        kept when given so the seed cache is reused), SMOKE=1 (one round,
#        python3 only: what a CI smoke run can afford).
# bench/run calls it; it also runs on its own.
set -euo pipefail
cd "$(dirname "$0")/.."

rounds=${ROUNDS:-3}
jobs=${JOBS:-$(nproc)}
compression=${COMPRESSION:-gzip}
packages='[gcc, postgresql-15, python3, git, bash]'
if [ "${SMOKE:-}" = 1 ]; then rounds=1 packages='[python3]'; fi
if [ -n "${WORK:-}" ]; then
  work=$WORK
  mkdir -p "$work"
else
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
fi

names=() bins=()
if [ $# -eq 0 ]; then
  go build -o "$work/strata" ./cmd/strata
  names=(strata) bins=("$work/strata")
else
  for a in "$@"; do names+=("${a%%=*}") bins+=("$(realpath "${a#*=}")"); done
fi
for t in dpkg python3 bc; do
  command -v "$t" >/dev/null || { echo "bench/debian.sh needs $t" >&2; exit 1; }
done

mkdir -p "$work/spec"
cat >"$work/spec/strata.yaml" <<SPEC
name: debian-closure
debian:
  suite: bookworm
  packages: $packages
SPEC
seed=$work/seed
if [ ! -f "$work/spec/strata.lock" ] || [ ! -f "$work/seeded" ]; then
  "${bins[0]}" lock "$work/spec" --cache "$seed" -q
  "${bins[0]}" build "$work/spec" --cache "$seed" -o "$work/seed.tar" -q
  touch "$work/seeded"
fi
mapfile -t shas < <(python3 -c '
import json, sys
lock = json.load(open(sys.argv[1]))
for plat in lock["sources"]["debian"].values():
    for p in plat["packages"]:
        print(p["sha256"])' "$work/spec/strata.lock")
mkdir -p "$work/debs"
for s in "${shas[@]}"; do ln -f "$seed/blobs/sha256/$s" "$work/debs/$s.deb"; done
mb=$(du -smL "$work/debs" | cut -f1)

# secs CMD... prints "WALL CPU" in seconds (bash's time: CPU of CMD and
# every process it waited for).
secs() {
  local TIMEFORMAT='%R %U %S'
  if ! { time "$@" >/dev/null 2>"$work/last.err"; } 2>"$work/time"; then cat "$work/last.err" >&2; exit 1; fi
  awk '{printf "%.2f %.2f", $1, $2 + $3}' "$work/time"
}
floor() {
  rm -rf "$work/x" && mkdir "$work/x"
  # shellcheck disable=SC2016
  printf '%s\n' "$work"/debs/*.deb | xargs -P "$jobs" -I{} sh -c 'd=$1/x/$(basename "$2" .deb); mkdir "$d"; dpkg -x "$2" "$d"' _ "$work" {}
}
cold() {
  rm -rf "$work/c" "$work/out.tar" && mkdir -p "$work/c/blobs/sha256"
  for s in "${shas[@]}"; do ln "$seed/blobs/sha256/$s" "$work/c/blobs/sha256/$s"; done
  local j=()
  # strata before --jobs existed used one job per CPU.
  "$1" build --help | grep -q -- --jobs && j=(--jobs "$jobs")
  "$1" build "$work/spec" --cache "$work/c" "${j[@]}" --compression "$compression" -o "$work/out.tar" -q
}

declare -A wall cpu
for ((r = 1; r <= rounds; r++)); do
  read -r w c <<<"$(secs floor)"
  wall[floor]+="$w " cpu[floor]+="$c "
  for i in "${!bins[@]}"; do
    read -r w c <<<"$(secs cold "${bins[$i]}")"
    [ -n "$c" ] || exit 1
    wall[${names[$i]}]+="$w " cpu[${names[$i]}]+="$c "
  done
done
rm -rf "$work/x" "$work/c" "$work/out.tar"

median() { tr ' ' '\n' | grep . | sort -g | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
fw=$(median <<<"${wall[floor]}") fc=$(median <<<"${cpu[floor]}")
echo "debian closure cold: ${#shas[@]} .debs, $mb MB; jobs $jobs; $compression; medians of $rounds interleaved rounds; load $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-16s %8s %8s %10s %10s %9s\n' run wall cpu wall/floor cpu/floor wall/cpu
printf '%-16s %7.2fs %7.2fs %10s %10s %9.2f\n' "dpkg -x" "$fw" "$fc" 1.00x 1.00x "$(echo "$fw / $fc" | bc -l)"
for n in "${names[@]}"; do
  w=$(median <<<"${wall[$n]}") c=$(median <<<"${cpu[$n]}")
  printf '%-16s %7.2fs %7.2fs %9.2fx %9.2fx %9.2f\n' "$n" "$w" "$c" "$(echo "$w / $fw" | bc -l)" "$(echo "$c / $fc" | bc -l)" "$(echo "$w / $c" | bc -l)"
done
