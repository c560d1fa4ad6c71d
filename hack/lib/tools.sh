# shellcheck shell=bash
# shellcheck disable=SC2034 # the variables are for the scripts that source this file
#
# Shared definitions for the locally built control-plane tools (etcd,
# kube-apiserver, kube-controller-manager, kube-scheduler, kubectl, kwok) and
# the optional kubelet of a real node (built only on request: see
# TOOLS_OPTIONAL_NAMES).
# Source it; it only defines (unexported) variables and functions:
#
#   source hack/lib/tools.sh
#   "${KUBECTL}" version --client      # path of a binary (may not exist yet)
#   tools::ensure                      # build what is missing (hack/build-tools.sh)
#   PATH="$(tools::bin_dir):${PATH}"   # a directory holding all six binaries
#
# Versions are read from the tools modules' go.mod files (hack/tools/*/go.mod),
# the single place where they are pinned. Binaries are cached outside the clone,
# keyed by version (<cache> = ${KUSCIA_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/kusciatask-controller}):
#   <cache>/bin/<name>-<version>/<name>
# and symlinked together into
#   <cache>/bin/current-<hash of the versions>/

TOOLS_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
# KUSCIA_CACHE_DIR is the project's cache root (hack/update-codegen.sh uses it too).
TOOLS_CACHE_DIR="${KUSCIA_CACHE_DIR:-${XDG_CACHE_HOME:-${HOME}/.cache}/kusciatask-controller}/bin"

# The binaries, in build order (fastest first so a broken setup fails early).
TOOLS_NAMES=(etcd kube-scheduler kubectl kube-controller-manager kube-apiserver kwok)
# Built only when asked for (`hack/build-tools.sh kubelet`): only a real node
# (LOCAL_UP_REAL_NODES) needs the kubelet, and kwok-only runs should not pay
# its build (~2 min warm, more cold). Linked into the bin directory once built.
TOOLS_OPTIONAL_NAMES=(kubelet)

# tools::module_version <tools module dir> <module path>
# Prints the version of <module path> required by hack/tools/<dir>/go.mod.
tools::module_version() {
  local gomod="${TOOLS_ROOT}/hack/tools/$1/go.mod" v
  # The line is "<module> <version> [// indirect]" or "require <module> <version>".
  v="$(awk -v m="$2" '{ for (i = 1; i < NF; i++) if ($i == m && $(i+1) ~ /^v[0-9]/) { print $(i+1); exit } }' "${gomod}")"
  if [[ -z "${v}" ]]; then
    echo "tools.sh: cannot find $2 in ${gomod}" >&2
    return 1
  fi
  echo "${v}"
}

TOOLS_K8S_VERSION="$(tools::module_version k8s k8s.io/kubernetes)"
TOOLS_ETCD_VERSION="$(tools::module_version etcd go.etcd.io/etcd/server/v3)"
TOOLS_KWOK_VERSION="$(tools::module_version kwok sigs.k8s.io/kwok)"

# tools::module_of <name>: the tools module (hack/tools/<dir>) that builds <name>.
tools::module_of() {
  case "$1" in
    etcd) echo etcd ;;
    kwok) echo kwok ;;
    kube-apiserver | kube-controller-manager | kube-scheduler | kubectl | kubelet) echo k8s ;;
    *) echo "tools.sh: unknown tool $1" >&2; return 1 ;;
  esac
}

# tools::package_of <name>: the Go main package of <name>.
tools::package_of() {
  case "$1" in
    etcd) echo go.etcd.io/etcd/server/v3 ;; # the module root is package main
    kwok) echo sigs.k8s.io/kwok/cmd/kwok ;;
    kube-*|kubectl|kubelet) echo "k8s.io/kubernetes/cmd/$1" ;;
    *) echo "tools.sh: unknown tool $1" >&2; return 1 ;;
  esac
}

# tools::version_of <name>
tools::version_of() {
  case "$(tools::module_of "$1")" in
    etcd) echo "${TOOLS_ETCD_VERSION}" ;;
    kwok) echo "${TOOLS_KWOK_VERSION}" ;;
    k8s) echo "${TOOLS_K8S_VERSION}" ;;
  esac
}

# tools::bin_path <name>: where the cached binary of <name> lives (or will live).
tools::bin_path() {
  echo "${TOOLS_CACHE_DIR}/$1-$(tools::version_of "$1")/$1"
}

# tools::bin_dir: the symlink farm holding all six binaries at these versions.
# hack/build-tools.sh creates it; it changes whenever a version changes.
tools::bin_dir() {
  local n key=""
  for n in "${TOOLS_NAMES[@]}"; do
    key+="${n}-$(tools::version_of "${n}") "
  done
  if command -v sha256sum >/dev/null; then
    key="$(printf '%s' "${key}" | sha256sum)"
  else
    key="$(printf '%s' "${key}" | shasum -a 256)" # macOS
  fi
  echo "${TOOLS_CACHE_DIR}/current-${key:0:12}"
}

# tools::ensure: build the missing binaries (prints one line per binary).
tools::ensure() {
  "${TOOLS_ROOT}/hack/build-tools.sh" "$@"
}

ETCD="$(tools::bin_path etcd)"
KUBE_APISERVER="$(tools::bin_path kube-apiserver)"
KUBE_CONTROLLER_MANAGER="$(tools::bin_path kube-controller-manager)"
KUBE_SCHEDULER="$(tools::bin_path kube-scheduler)"
KUBECTL="$(tools::bin_path kubectl)"
KWOK="$(tools::bin_path kwok)"
KUBELET="$(tools::bin_path kubelet)"
