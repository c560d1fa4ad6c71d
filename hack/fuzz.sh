#!/usr/bin/env bash
# Runs every fuzz target of the module (each func Fuzz* in a _test.go file)
# for FUZZTIME each, one after another, and prints each target's figures.
# A failing input is written by go test to the package's testdata/fuzz/, to
# be checked in once fixed (it then runs as a seed in every `go test`).
#   FUZZTIME=30s   time per target (go test -fuzztime: a duration or Nx)
#   FUZZ=regexp    only the targets whose name matches
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "${ROOT}"
FUZZTIME=${FUZZTIME:-30s}
FUZZ=${FUZZ:-.}

mapfile -t targets < <(grep -rEo --include='*_test.go' '^func Fuzz[A-Za-z0-9_]+' cmd pkg |
	sed -E 's#^(.*)/[^/]+:func (Fuzz.*)$#\1 \2#' | sort -u | grep -E " .*${FUZZ}" || true)
if [[ ${#targets[@]} -eq 0 ]]; then
	echo "no fuzz targets match ${FUZZ}" >&2
	exit 1
fi

logs=$(mktemp -d)
trap 'rm -rf "${logs}"' EXIT
failed=0
summary=()
for t in "${targets[@]}"; do
	dir=${t% *} name=${t#* }
	echo "== ${name} (./${dir}, ${FUZZTIME})"
	log="${logs}/${name}.log"
	start=$(date +%s)
	if go test -run '^$' -fuzz "^${name}\$" -fuzztime "${FUZZTIME}" "./${dir}" >"${log}" 2>&1; then
		result=ok
	else
		result=FAIL
		failed=1
		tail -n 30 "${log}"
	fi
	# The last progress line reads "fuzz: elapsed: 30s, execs: 123 (4/sec),
	# new interesting: 5 (total: 20)"; its rate is the last interval's.
	last=$(grep -E '^fuzz: elapsed: .*execs:' "${log}" | tail -n 1 || true)
	execs=$(sed -nE 's/.*execs: ([0-9]+).*/\1/p' <<<"${last}")
	found=$(sed -nE 's/.*new interesting: ([0-9]+) \(total: ([0-9]+)\).*/\1 new, corpus \2/p' <<<"${last}")
	secs=$(($(date +%s) - start))
	summary+=("$(printf '%-20s %-6s %5ss %10s  %s' "${name}" "${result}" "${secs}" "${execs:--}" "${found:-(still gathering baseline coverage; raise FUZZTIME)}")")
done

echo
echo "== fuzz summary (FUZZTIME=${FUZZTIME})"
printf '%-20s %-6s %6s %10s  %s\n' target result time execs "interesting inputs"
printf '%s\n' "${summary[@]}"
exit "${failed}"
