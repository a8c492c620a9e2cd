#!/usr/bin/env bash
# Times, side by side in one run, a build of each Debian example given
# (default: hello python; an argument with a slash is a spec folder, e.g.
# bench/big, a ~500 MB image):
#   fully cold     an empty cache, no remote cache (downloads every .deb);
#   B, warm remote an empty cache reading a remote cache machine A wrote;
#   warm local     the fully cold build's cache again.
# The remote cache is Debian's docker-registry on 127.0.0.1. Every build
# uses the example's strata.lock (made first, in a cache of its own).
# Then the fleet (FLEET=0 skips it) and the second push of a changed image.
# Usage: bash scripts/bench-remote-cache.sh [EXAMPLE...]
set -euo pipefail
cd "$(dirname "$0")/.."

examples=("$@")
[ $# -eq 0 ] && examples=(hello python)
work=$(mktemp -d)
reg_pid=
cleanup() { [ -n "$reg_pid" ] && kill "$reg_pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

go build -o "$work/strata" ./cmd/strata
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat >"$work/registry.yml" <<CFG
version: 0.1
log: {level: error, accesslog: {disabled: true}}
storage: {filesystem: {rootdirectory: $work/registry}}
http: {addr: 127.0.0.1:$port}
CFG
docker-registry serve "$work/registry.yml" >"$work/registry.log" 2>&1 &
reg_pid=$!
for _ in $(seq 50); do curl -fs "http://127.0.0.1:$port/v2/" >/dev/null && break; sleep 0.1; done
repo=127.0.0.1:$port/bench/cache
"$work/strata" cache keygen "$work/ci" >/dev/null

# secs CMD... prints "WALL CPU" in seconds (CPU: user + system of strata
# itself; the registry's own work is not counted).
secs() {
  /usr/bin/time -f '%e %U %S' -o "$work/time" "$@" >/dev/null 2>"$work/last.err" || { cat "$work/last.err"; exit 1; }
  awk '{printf "%.2f %.2f", $1, $2 + $3}' "$work/time"
}

echo "wall seconds (CPU seconds), one run each; load: $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-8s %18s %18s %18s %8s %9s\n' example "fully cold" "B, warm remote" "warm local" "cold/B" "unpacked"
for arg in "${examples[@]}"; do
  ex=$(basename "$arg")
  src=examples/$arg
  case $arg in */*) src=$arg ;; esac
  dir=$work/$ex
  cp -r "$src" "$dir"
  "$work/strata" lock "$dir" --cache "$work/lock-cache" -q
  read -r cw cc <<<"$(secs "$work/strata" build "$dir" --cache "$work/cold-$ex" -o "$work/$ex-cold.tar" -q)"
  "$work/strata" build "$dir" --cache "$work/a-$ex" -o "$work/$ex-a.tar" -q --cache-to "$repo" --cache-sign-key "$work/ci.key"
  read -r rw rc <<<"$(secs "$work/strata" build "$dir" --cache "$work/b-$ex" -o "$work/$ex-b.tar" -q --cache-from "$repo" --cache-trust "$work/ci.pub")"
  read -r ww wc <<<"$(secs "$work/strata" build "$dir" --cache "$work/cold-$ex" -o "$work/$ex-warm.tar" -q)"
  cmp -s "$work/$ex-cold.tar" "$work/$ex-b.tar" || { echo "machine B's $ex differs from the cold build"; exit 1; }
  mb=$(python3 -c 'import sys, tarfile, zlib
n = 0
with tarfile.open(sys.argv[1]) as t:
    for m in t:
        f = t.extractfile(m) if m.isfile() else None
        if f is None or f.read(2) != b"\x1f\x8b":
            continue
        f.seek(0)
        d = zlib.decompressobj(31)
        for b in iter(lambda: f.read(1 << 20), b""):
            n += len(d.decompress(b))
print(n // 1000000)' "$work/$ex-cold.tar")
  printf '%-8s %8.2fs (%5.2fs) %8.2fs (%5.2fs) %8.2fs (%5.2fs) %7.1fx %6s MB\n' "$ex" "$cw" "$cc" "$rw" "$rc" "$ww" "$wc" "$(echo "$cw / $rw" | bc -l)" "$mb"
done

# Fleet: 8 small Debian specs planned jointly (strategy fleet), built on
# one machine, then as 4 shards (4 processes in parallel, 4 empty caches,
# one remote cache) and assembled on a fifth empty cache. CPU is the sum
# over every process; the shards' wall is the slowest shard.
[ "${FLEET:-1}" = 0 ] && exit 0
fleet=(hello curl python3 "python3 python3-yaml" "ca-certificates curl" bash "perl-base libssl3" "openssl")
fdirs=()
for i in "${!fleet[@]}"; do
  d=$work/fleet/img$i
  mkdir -p "$d"
  pk=$(echo "${fleet[$i]}" | sed 's/ /, /g')
  printf 'name: fleet/img%d\ndebian: {suite: bookworm, packages: [%s]}\nlayering: {strategy: fleet}\n' "$i" "$pk" >"$d/strata.yaml"
  "$work/strata" lock "$d" --cache "$work/lock-cache" -q
  fdirs+=("$d")
done
read -r ow oc <<<"$(secs "$work/strata" build "${fdirs[@]}" --cache "$work/fleet-one" --out-dir "$work/fleet-one-out" -q)"
frepo=127.0.0.1:$port/bench/fleet-cache
start=$(date +%s.%N)
pids=()
for i in 1 2 3 4; do
  /usr/bin/time -f '%e %U %S' -o "$work/shard$i.time" "$work/strata" build "${fdirs[@]}" --shard "$i/4" --cache "$work/shard$i" \
    --cache-to "$frepo" --cache-sign-key "$work/ci.key" -q >"$work/shard$i.err" 2>&1 &
  pids+=($!)
done
for p in "${pids[@]}"; do wait "$p" || { cat "$work"/shard?.err; exit 1; }; done
sw=$(echo "$(date +%s.%N) - $start" | bc -l)
sc=$(cat "$work"/shard?.time | awk '{s += $2 + $3} END {printf "%.2f", s}')
read -r aw ac <<<"$(secs "$work/strata" build "${fdirs[@]}" --cache "$work/fleet-asm" --out-dir "$work/fleet-asm-out" -q --cache-from "$frepo" --cache-trust "$work/ci.pub")"
for f in "$work"/fleet-one-out/*.tar; do
  cmp -s "$f" "$work/fleet-asm-out/$(basename "$f")" || { echo "the assembled $(basename "$f") differs from the one-machine build"; exit 1; }
done
echo
echo "fleet of 8 (${fleet[*]}):"
printf '  one machine          %8.2fs wall %8.2fs CPU\n' "$ow" "$oc"
printf '  4 shards (parallel)  %8.2fs wall %8.2fs CPU (sum of 4)\n' "$sw" "$sc"
printf '  assembly after them  %8.2fs wall %8.2fs CPU\n' "$aw" "$ac"
printf '  shards + assembly    %8.2fs wall %8.2fs CPU\n' "$(echo "$sw + $aw" | bc -l)" "$(echo "$sc + $ac" | bc -l)"

# Bytes uploaded by the second push of a changed image: python pushed,
# its script changed, pushed again; the registry's storage grows by what
# was uploaded (blobs it has already are skipped or mounted).
pdir=$work/python
"$work/strata" build "$pdir" --cache "$work/cold-python" --push "127.0.0.1:$port/bench/python:v1" -q
before=$(du -sb "$work/registry" | cut -f1)
echo "print('changed')" >>"$pdir/main.py"
"$work/strata" build "$pdir" --cache "$work/cold-python" --push "127.0.0.1:$port/bench/python:v2" -q
after=$(du -sb "$work/registry" | cut -f1)
echo
echo "second push of python with main.py changed: $((after - before)) bytes uploaded (registry storage growth)"
