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
	# The last progress line: "fuzz: elapsed: 30s, execs: 123 (4/sec), new interesting: 5 (total: 20)"
	figures=$(grep -E '^fuzz: elapsed:' "${log}" | tail -n 1 | sed -E 's/^fuzz: //')
	summary+=("$(printf '%-20s %-4s %4ss  %s' "${name}" "${result}" "$(($(date +%s) - start))" "${figures:-no figures (see above)}")")
done

echo
echo "== fuzz summary (FUZZTIME=${FUZZTIME})"
printf '%s\n' "${summary[@]}"
exit "${failed}"
