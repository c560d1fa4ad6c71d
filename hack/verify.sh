#!/usr/bin/env bash
# Fails when the tree is not as `make generate`, gofmt and `go mod tidy` would
# leave it, or when go vet complains. Generation runs in a scratch copy, so
# the working tree is never touched.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "${ROOT}"
fail=0

echo "verify: gofmt"
unformatted=$(gofmt -l cmd pkg examples test hack/models-schema hack/image hack/realnode)
if [[ -n "${unformatted}" ]]; then
  echo "gofmt would change:"; echo "${unformatted}"; fail=1
fi

echo "verify: go vet"
go vet ./... || fail=1
go vet -tags e2e ./pkg/e2e/... || fail=1
go vet -tags "e2e bench" ./pkg/e2e/... || fail=1
go vet -tags "e2e soak" ./pkg/e2e/... || fail=1
go vet -tags realnode ./pkg/e2e/realnode/... || fail=1
go vet -tags "realnode bench" ./pkg/e2e/realnode/... || fail=1

echo "verify: go mod tidy and generated code"
scratch=$(mktemp -d)
trap 'rm -rf "${scratch}"' EXIT
tar -C "${ROOT}" --exclude=./bin --exclude=./_output --exclude=./.git -cf - . | tar -C "${scratch}" -xf -
(
  cd "${scratch}"
  go mod tidy
  hack/update-codegen.sh >/dev/null
  hack/update-crds.sh >/dev/null
  go mod tidy
)
for path in go.mod go.sum pkg/apis pkg/generated crds deploy/base/crds hack/api-rule-violations.list; do
  if ! diff -r -q "${ROOT}/${path}" "${scratch}/${path}" >/dev/null; then
    echo "drift in ${path}; run 'make generate':"
    diff -r -u "${ROOT}/${path}" "${scratch}/${path}" | head -40 || true
    fail=1
  fi
done

if [[ ${fail} -ne 0 ]]; then
  echo "verify: FAILED"; exit 1
fi
echo "verify: OK"
