#!/usr/bin/env bash
# bench/fleet-docker.sh: the cluster side of the fleet strategy (issue 16
# item 6). Builds the 8 images of bench/fleet with --strategy fleet, loads
# them one after another into the local Docker Engine and counts the
# layers the engine extracts ("Loading layer" lines of docker load: a layer
# whose ChainID the engine already has is not extracted again). It prints,
# per image, its layers and the layers extracted, and the total against
# the number of distinct layers of the fleet; with per-package layering
# for comparison. Needs the Debian archive of the host's apt sources and a
# running Docker Engine; removes the images it loads.
#
#   bench/fleet-docker.sh [STRATEGY...]   (default: fleet per-package)
set -euo pipefail
strategies=("$@")
here=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
strata=${STRATA:-$work/strata}
[ -x "$strata" ] || (cd "$here" && go build -o "$strata" ./cmd/strata)
export STRATA_CACHE=${STRATA_CACHE:-$HOME/.cache/strata}
fleet=(
  "python-flask python3 python3-flask"
  "python-django python3 python3-django"
  "nginx nginx-light"
  "caddy caddy"
  "curl curl ca-certificates"
  "postgresql-client postgresql-client-15"
  "ruby ruby3.1"
  "nodejs nodejs"
)
specs=()
for line in "${fleet[@]}"; do
  set -- $line
  n=$1; shift
  mkdir -p "$work/specs/$n"
  { echo "name: fleet-$n"; echo "debian:"; echo "  suite: bookworm"; echo "  packages: [$(echo "$@" | sed 's/ /, /g')]"; } > "$work/specs/$n/strata.yaml"
  specs+=("$work/specs/$n")
done
[ ${#strategies[@]} -gt 0 ] || strategies=(fleet per-package)
# The engine's layer store: one entry per extracted layer (ChainID).
layerdb=$(docker info --format '{{.DockerRootDir}}')/image/$(docker info --format '{{.Driver}}')/layerdb/sha256
for strat in "${strategies[@]}"; do
  out="$work/out-$strat"
  "$strata" build -q --strategy "$strat" --out-dir "$out" "${specs[@]}"
  for line in "${fleet[@]}"; do set -- $line; docker rmi -f "fleet-$1:latest" >/dev/null 2>&1 || true; done
  total=0 layers=0
  declare -A distinct=()
  printf '%-12s %-20s %7s %10s\n' strategy image layers extracted
  for line in "${fleet[@]}"; do
    set -- $line
    n=$1
    ids=$(tar -xOf "$out/fleet-$n.tar" manifest.json | python3 -c 'import json,sys; print(" ".join(json.load(sys.stdin)[0]["Layers"]))')
    nl=0; for l in $ids; do distinct[$l]=1; nl=$((nl+1)); done
    if [ -d "$layerdb" ]; then
      before=$(ls "$layerdb" | wc -l)
      docker load -q -i "$out/fleet-$n.tar" >/dev/null
      ex=$(( $(ls "$layerdb" | wc -l) - before ))
    else
      ex=$(docker load -i "$out/fleet-$n.tar" | grep 'Loading layer' | sort -u | wc -l)
    fi
    printf '%-12s %-20s %7d %10d\n' "$strat" "$n" "$nl" "$ex"
    total=$((total+ex)) layers=$((layers+nl))
  done
  echo "$strat: $layers layers in 8 images, ${#distinct[@]} distinct, $total extracted (ideal: ${#distinct[@]})"
  unset distinct
  for line in "${fleet[@]}"; do set -- $line; docker rmi -f "fleet-$1:latest" >/dev/null 2>&1 || true; done
done
