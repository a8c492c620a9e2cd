#!/usr/bin/env bash
# Installs what the tests need when it is missing, then runs every test
# (unit, external validators, Docker end to end). Used by the README and .ci/run.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$(go env GOPATH)/bin:$PATH"

need_apt=()
while read -r pkg; do
  [ -z "$pkg" ] && continue
  case "$pkg" in \#*) continue ;; esac
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || need_apt+=("$pkg")
done < scripts/apt-packages.txt
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "test.sh: installing ${need_apt[*]}"
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
  # Wait up to 5 minutes for another apt or dpkg (unattended-upgrades, a
  # parallel job) instead of failing on its lock.
  apt=(apt-get -o DPkg::Lock::Timeout=300)
  $SUDO "${apt[@]}" update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO "${apt[@]}" install -y -qq "${need_apt[@]}" >/dev/null
fi

while read -r mod; do
  [ -z "$mod" ] && continue
  case "$mod" in \#*) continue ;; esac
  bin=$(basename "${mod%@*}")
  command -v "$bin" >/dev/null || { echo "test.sh: go install $mod"; go install "$mod"; }
done < scripts/go-tools.txt

[ -x scripts/test-setup.sh ] && scripts/test-setup.sh

go vet ./...
# The peer benchmark on a tiny workload: every step of bench/run runs (< 60 s).
bench/run --smoke
go test -count=1 -timeout 45m "$@" ./...

# Fuzzing: every fuzz target for 10 s (scripts/fuzz.sh finds them by grep
# and prints the executions per target; a crasher fails the run and leaves
# its input in the package's testdata/fuzz/). About 4 minutes on 2 cores.
echo "test.sh: fuzzing every target for 10s"
scripts/fuzz.sh 10s
