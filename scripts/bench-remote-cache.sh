#!/usr/bin/env bash
# Times, side by side in one run, a build of each Debian example given
# (default: hello python):
#   fully cold     an empty cache, no remote cache (downloads every .deb);
#   B, warm remote an empty cache reading a remote cache machine A wrote;
#   warm local     the fully cold build's cache again.
# The remote cache is Debian's docker-registry on 127.0.0.1. Every build
# uses the example's strata.lock (made first, in a cache of its own).
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
printf '%-8s %18s %18s %18s %8s\n' example "fully cold" "B, warm remote" "warm local" "cold/B"
for ex in "${examples[@]}"; do
  dir=$work/$ex
  cp -r "examples/$ex" "$dir"
  "$work/strata" lock "$dir" --cache "$work/lock-cache" -q
  read -r cw cc <<<"$(secs "$work/strata" build "$dir" --cache "$work/cold-$ex" -o "$work/$ex-cold.tar" -q)"
  "$work/strata" build "$dir" --cache "$work/a-$ex" -o "$work/$ex-a.tar" -q --cache-to "$repo" --cache-sign-key "$work/ci.key"
  read -r rw rc <<<"$(secs "$work/strata" build "$dir" --cache "$work/b-$ex" -o "$work/$ex-b.tar" -q --cache-from "$repo" --cache-trust "$work/ci.pub")"
  read -r ww wc <<<"$(secs "$work/strata" build "$dir" --cache "$work/cold-$ex" -o "$work/$ex-warm.tar" -q)"
  cmp -s "$work/$ex-cold.tar" "$work/$ex-b.tar" || { echo "machine B's $ex differs from the cold build"; exit 1; }
  printf '%-8s %8.2fs (%5.2fs) %8.2fs (%5.2fs) %8.2fs (%5.2fs) %7.1fx\n' "$ex" "$cw" "$cc" "$rw" "$rc" "$ww" "$wc" "$(echo "$cw / $rw" | bc -l)"
done
