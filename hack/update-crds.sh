#!/usr/bin/env bash
# Regenerates the CRD manifests in crds/ from the kubebuilder markers on the
# types in pkg/apis, with the controller-gen pinned in go.mod, and copies them
# with the rest of crds/ (the hand-written ValidatingAdmissionPolicy
# kusciatask-controller-policy.yaml) into deploy/base/crds/ (kustomize reads
# no files outside deploy/).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "${ROOT}"
rm -f crds/kuscia.secretflow_*.yaml
go tool controller-gen crd paths=./pkg/apis/... output:crd:dir=crds
mkdir -p deploy/base/crds
rm -f deploy/base/crds/*.yaml
cp crds/*.yaml deploy/base/crds/
