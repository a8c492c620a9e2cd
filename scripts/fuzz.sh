#!/usr/bin/env bash
# Runs every Go fuzz target of the repository for a while each and prints
# the executions per target.
#
#   scripts/fuzz.sh           10 s per target (what scripts/test.sh runs in CI)
#   scripts/fuzz.sh 10m       a long run
#   scripts/fuzz.sh 30s FuzzExtract FuzzParseRelease   only those targets
#
# Targets are found by grep (every `func FuzzXxx(f *testing.F)` in a
# _test.go file), so a new one is picked up without editing this script.
# A crasher makes the run exit 1; `go test` writes the failing input to the
# package's testdata/fuzz/FuzzXxx/ folder: fix the parser and commit that
# file as a regression case (plain `go test` runs it from then on).
#
# FUZZ_MINIMIZE (default 1s) bounds the time spent minimizing each new
# interesting input: Go's default of 60 s would spend a short run on it.
# Executions spent minimizing are not in the counts go test prints.
set -uo pipefail
cd "$(dirname "$0")/.."

fuzztime=${1:-10s}
shift || true
only=" $* "
minimize=${FUZZ_MINIMIZE:-1s}

mapfile -t found < <(grep -rHoE --include='*_test.go' '^func Fuzz[A-Za-z0-9_]*\(f \*testing\.F\)' . |
  sed -E 's|^\./(.*)/[^/]*:func (Fuzz[A-Za-z0-9_]*).*|\1 \2|' | sort -u)
if [ ${#found[@]} -eq 0 ]; then
  echo "fuzz.sh: no fuzz targets found" >&2
  exit 1
fi

failed=()
results=()
start=$SECONDS
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cache=$(go env GOCACHE)/fuzz
built=""
for entry in "${found[@]}"; do
  pkg=${entry% *}
  name=${entry#* }
  if [ "$only" != "  " ] && [[ "$only" != *" $name "* ]]; then
    continue
  fi
  t0=$SECONDS
  # One instrumented test binary per package (go test would link one per
  # target); it runs in the package's folder, where testdata/ is, with the
  # corpus folder go test itself uses.
  bin=$work/$(echo "$pkg" | tr / _).test
  if [[ "$built" != *" $pkg "* ]]; then
    if ! go test -c -fuzz "^${name}\$" -o "$bin" "./$pkg" >"$work/log" 2>&1; then
      cat "$work/log" >&2
      failed+=("$pkg (does not build)")
      continue
    fi
    built="$built $pkg "
  fi
  importpath=$(go list "./$pkg")
  (cd "$pkg" && "$bin" -test.run '^$' -test.fuzz "^${name}\$" -test.fuzztime "$fuzztime" \
    -test.fuzzminimizetime "$minimize" -test.fuzzcachedir "$cache/$importpath") >"$work/log" 2>&1
  rc=$?
  execs=$(grep -oE 'execs: [0-9]+' "$work/log" | tail -n 1 | grep -oE '[0-9]+' || true)
  line=$(printf '%-28s %-26s %10s execs %4ds' "$pkg" "$name" "${execs:-?}" $((SECONDS - t0)))
  if [ $rc -ne 0 ] && ! grep -q 'Failing input written' "$work/log" && grep -q '^    context deadline exceeded' "$work/log" &&
    (cd "$pkg" && "$bin" -test.run "^${name}\$") >/dev/null 2>&1; then
    # Go's fuzz coordinator can report its own -fuzztime deadline as a
    # failure when a worker is busy at that instant (go.dev/issue/75804,
    # fixed in Go 1.27). No input was written and the seeds and corpus
    # replay clean, so this is not a finding.
    line="$line  (go.dev/issue/75804 at the deadline; corpus replays clean)"
    rc=0
  fi
  if [ $rc -ne 0 ]; then
    line="$line  FAILED"
    failed+=("$pkg $name")
    sed -n '/--- FAIL/,$p' "$work/log" | head -n 40 >&2
  fi
  echo "$line"
  results+=("$line")
done

echo "fuzz.sh: ${#results[@]} targets, $fuzztime each, $((SECONDS - start))s in all"
if [ ${#failed[@]} -gt 0 ]; then
  printf 'fuzz.sh: failed: %s\n' "${failed[@]}" >&2
  echo "fuzz.sh: crashers are written to each package's testdata/fuzz/ (rerun one with go test -run FuzzXxx/NAME ./PKG)" >&2
  exit 1
fi
