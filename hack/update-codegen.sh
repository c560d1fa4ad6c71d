#!/usr/bin/env bash
# Regenerates deepcopy, register, OpenAPI, clientset (with the field-tracking
# fake), listers, informers and apply configurations for pkg/apis with
# k8s.io/code-generator's kube_codegen.sh, at the version pinned in go.mod.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "${ROOT}"
PKG=kusciatask.io/controller
BOILERPLATE="${ROOT}/hack/boilerplate.go.txt"
# On a fresh machine the module is not in the cache yet, and `go list -m`
# would print an empty Dir.
go mod download k8s.io/code-generator
CODEGEN_DIR=$(go list -m -f '{{.Dir}}' k8s.io/code-generator)
# kube_codegen.sh installs the generators into GOBIN; keep them out of the
# user's ~/go/bin and out of the clone.
export GOBIN="${KUSCIA_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/kusciatask-controller}/codegen-bin/$(go list -m -f '{{.Version}}' k8s.io/code-generator)"
mkdir -p "${GOBIN}"

# shellcheck source=/dev/null
source "${CODEGEN_DIR}/kube_codegen.sh"
# The pod template types reference k8s.io/api/core/v1: it is an input of
# openapi-gen, but it lives in the read-only module cache and must not be
# written to.
KUBE_CODEGEN_READONLY_PKGS+=(k8s.io/api/core/v1)

kube::codegen::gen_helpers \
    --boilerplate "${BOILERPLATE}" \
    "${ROOT}/pkg/apis"

# k8s.io/api/core/v1 and intstr are referenced by the pod template types.
kube::codegen::gen_openapi \
    --output-dir "${ROOT}/pkg/generated/openapi" \
    --output-pkg "${PKG}/pkg/generated/openapi" \
    --output-model-name-file zz_generated.model_name.go \
    --extra-pkgs k8s.io/api/core/v1 \
    --extra-pkgs k8s.io/apimachinery/pkg/util/intstr \
    --report-filename "${ROOT}/hack/api-rule-violations.list" \
    --update-report \
    --boilerplate "${BOILERPLATE}" \
    "${ROOT}/pkg/apis"

kube::codegen::gen_client \
    --with-watch \
    --with-applyconfig \
    --applyconfig-openapi-schema <(go run "${PKG}/hack/models-schema") \
    --output-dir "${ROOT}/pkg/generated" \
    --output-pkg "${PKG}/pkg/generated" \
    --boilerplate "${BOILERPLATE}" \
    "${ROOT}/pkg/apis"

kube::codegen::gen_register \
    --boilerplate "${BOILERPLATE}" \
    "${ROOT}/pkg/apis"
