#!/usr/bin/env bash
#
# Builds the local control-plane binaries from Go modules (no downloads other
# than the Go module proxy): etcd, kube-apiserver, kube-controller-manager,
# kube-scheduler, kubectl and kwok, pinned in hack/tools/{etcd,k8s,kwok}/go.mod;
# and, only when named, the kubelet of a real node (same module and version as
# kube-apiserver).
#
# Binaries are cached outside the clone, keyed by version, and built only when
# missing (<cache> = ${KUSCIA_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/kusciatask-controller}):
#   <cache>/bin/<name>-<version>/<name>
# All six are symlinked into one directory (see hack/lib/tools.sh):
#   <cache>/bin/current-<hash of the versions>/
#
# Usage:
#   hack/build-tools.sh                  build what is missing; one line per binary
#   hack/build-tools.sh --print-bin-dir  the same, progress on stderr, then the
#                                        bin directory on stdout:
#                                          PATH="$(hack/build-tools.sh --print-bin-dir):$PATH"
#   hack/build-tools.sh [--print-bin-dir] kubelet
#                                        also build the kubelet (hack/local-up.sh
#                                        asks for it when LOCAL_UP_REAL_NODES > 0)
#
# A cold build takes ~8 minutes on 2 cores and ~6 GB of Go caches.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=hack/lib/tools.sh
source "${ROOT}/hack/lib/tools.sh"

print_bin_dir=false
extra=()
for arg in "$@"; do
  case "${arg}" in
    --print-bin-dir) print_bin_dir=true ;;
    -h | --help) sed -n '2,/^set -euo/s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"; exit 0 ;;
    kubelet) extra+=("${arg}") ;;
    *) echo "usage: $0 [--print-bin-dir] [kubelet]" >&2; exit 2 ;;
  esac
done

# Progress goes to fd 3: stdout normally, stderr with --print-bin-dir so that
# $(hack/build-tools.sh --print-bin-dir) captures only the directory.
if ${print_bin_dir}; then exec 3>&2; else exec 3>&1; fi

command -v go >/dev/null || { echo "build-tools.sh: go is not on PATH" >&2; exit 1; }
mkdir -p "${TOOLS_CACHE_DIR}"

# Serialize concurrent runs (e.g. a demo and an e2e run starting together) so a
# binary is built once and never seen half-written.
if command -v flock >/dev/null; then
  exec 9>"${TOOLS_CACHE_DIR}/.lock"
  flock 9
fi

# The kube binaries report this version (default: v0.0.0-master, which makes
# kubectl warn about version skew).
k8s_minor="${TOOLS_K8S_VERSION#v}"
k8s_major="${k8s_minor%%.*}"
k8s_minor="${k8s_minor#*.}"
k8s_minor="${k8s_minor%%.*}"
kube_ldflags="-s -w"
kube_ldflags+=" -X k8s.io/component-base/version.gitVersion=${TOOLS_K8S_VERSION}"
kube_ldflags+=" -X k8s.io/component-base/version.gitMajor=${k8s_major}"
kube_ldflags+=" -X k8s.io/component-base/version.gitMinor=${k8s_minor}"
kube_ldflags+=" -X k8s.io/component-base/version.gitTreeState=clean"

build_log="$(mktemp "${TMPDIR:-/tmp}/build-tools.XXXXXX")"
trap 'rm -f "${build_log}"' EXIT

# build <name>: builds <name> into its cache slot unless it is already there.
build() {
  local name="$1" version bin module ldflags="-s -w" start
  version="$(tools::version_of "${name}")"
  bin="$(tools::bin_path "${name}")"
  if [[ -x "${bin}" ]]; then
    echo "cached ${name} ${version}" >&3
    return 0
  fi
  module="$(tools::module_of "${name}")"
  [[ "${module}" == k8s ]] && ldflags="${kube_ldflags}"
  printf 'building %s %s ... ' "${name}" "${version}" >&3
  start="${SECONDS}"
  mkdir -p "$(dirname "${bin}")"
  # GOWORK=off: never let a go.work above pull these modules into a workspace.
  # GOOS/GOARCH unset: always build for this machine.
  # -mod=readonly: use exactly the committed go.mod/go.sum.
  # Build to a temporary name and rename, so an interrupted build leaves nothing.
  if ! (cd "${ROOT}/hack/tools/${module}" &&
    env -u GOOS -u GOARCH GOWORK=off CGO_ENABLED=0 \
      go build -trimpath -mod=readonly -buildvcs=false -ldflags "${ldflags}" \
      -o "${bin}.tmp" "$(tools::package_of "${name}")") >"${build_log}" 2>&1; then
    echo "FAILED" >&3
    cat "${build_log}" >&2
    rm -f "${bin}.tmp"
    exit 1
  fi
  mv -f "${bin}.tmp" "${bin}"
  echo "done ($((SECONDS - start))s)" >&3
}

for name in "${TOOLS_NAMES[@]}" "${extra[@]}"; do
  build "${name}"
done

# The symlink farm: one directory holding the six binaries at these versions,
# and the optional ones that were built.
bin_dir="$(tools::bin_dir)"
mkdir -p "${bin_dir}"
for name in "${TOOLS_NAMES[@]}" "${TOOLS_OPTIONAL_NAMES[@]}"; do
  [[ -x "$(tools::bin_path "${name}")" ]] || continue
  # Relative links, so the cache directory can be moved.
  ln -sfn "../${name}-$(tools::version_of "${name}")/${name}" "${bin_dir}/${name}"
done

if ${print_bin_dir}; then
  echo "${bin_dir}"
fi
