#!/usr/bin/env bash
# Builds the plugin's krew archives, one per platform of KREW_PLATFORMS
# (os/arch), each with kubectl-kuscia and kubectl_complete-kuscia, and
# _output/krew/kuscia.yaml: plugins/kuscia.yaml with the version, each
# archive's address under KREW_URI_BASE and its sha256. Run by `make krew`.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
out="${root}/_output/krew"
: "${VERSION:?}" "${KREW_PLATFORMS:?}" "${KREW_URI_BASE:?}"
rm -rf "${out}" && mkdir -p "${out}"
# krew wants a semantic version; a build between tags (git describe's
# 7060b52-dirty) becomes a pre-release of v0.0.0.
if [[ ! "${VERSION}" =~ ^v[0-9]+\.[0-9]+\.[0-9]+ ]]; then
  VERSION="v0.0.0-${VERSION}"
fi

platforms=""
for platform in ${KREW_PLATFORMS}; do
  os="${platform%/*}" arch="${platform#*/}"
  stage="${out}/stage-${os}-${arch}"
  mkdir -p "${stage}"
  (cd "${root}" && CGO_ENABLED=0 GOOS="${os}" GOARCH="${arch}" go build -trimpath \
    -ldflags "-s -w ${LDFLAGS:-}" -o "${stage}/kubectl-kuscia" ./cmd/kubectl-kuscia)
  install -m 0755 "${root}/cmd/kubectl-kuscia/kubectl_complete-kuscia" "${stage}/"
  archive="kubectl-kuscia_${os}_${arch}.tar.gz"
  tar -C "${stage}" -czf "${out}/${archive}" kubectl-kuscia kubectl_complete-kuscia
  rm -rf "${stage}"
  sha="$(sha256sum "${out}/${archive}" | cut -d' ' -f1)"
  platforms+="  - selector:
      matchLabels:
        os: ${os}
        arch: ${arch}
    uri: ${KREW_URI_BASE}/${archive}
    sha256: ${sha}
    files:
      - from: kubectl-kuscia
        to: .
      - from: kubectl_complete-kuscia
        to: .
    bin: kubectl-kuscia
"
  echo "${out}/${archive} ${sha}"
done

# The manifest: the template without its comment, the placeholders filled.
manifest="$(sed '/^#/d' "${root}/plugins/kuscia.yaml")"
manifest="${manifest//'${VERSION}'/${VERSION}}"
manifest="${manifest//'${PLATFORMS}'/${platforms%$'\n'}}"
printf '%s\n' "${manifest}" >"${out}/kuscia.yaml"
echo "${out}/kuscia.yaml"
