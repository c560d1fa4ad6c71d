# shellcheck shell=bash
#
# A real node for hack/local-up.sh: containerd + runc + a CNI bridge + kubelet,
# joined to the local control plane (LOCAL_UP_REAL_NODES=1). Sourced by
# local-up.sh after its own variables and helpers (log, die, launch, pid_of,
# terminate, wait_for, sign, PKI, LOGS, PIDS) are defined.
#
# What it needs, installed by itself when missing (Debian, as root):
#   runc, containernetworking-plugins (bridge, host-local, loopback) and
#   iptables with `apt-get install -y --no-install-recommends` (apt-get update
#   first only when a package is unknown); kubelet v1.37.2 built by
#   hack/build-tools.sh into the versioned cache like the other binaries.
#
# Container runtime: Debian's containerd 1.6.20, unpacked from its .deb with
# `apt-get download` + `dpkg-deb -x` into <cache>/bin/containerd-<version>/,
# never installed as a package (no service, no /etc/containerd, no unit; the
# host only gains the three packages above). Why not containerd v2 built from
# its Go module: that build costs ~5.5 min on 2 cold cores on top of ~10 min
# for the control plane and kubelet, in a CI run limited to 90 min, while the
# .deb unpacks in seconds; kubelet v1.37.2 runs on 1.6.20 (it logs that
# RuntimeConfig is unimplemented and falls back to the cgroupfs driver we
# configure anyway). The cost: containerd 1.6 is old; should a kubelet drop it,
# build v2 from github.com/containerd/containerd/v2 (CGO_ENABLED=0, tags
# no_btrfs no_devmapper no_zfs no_aufs) in a tools module of its own.
#
# Only one real node per host at a time: the kubelet writes to fixed host
# paths (/var/lib/kubelet/device-plugins, /var/log/containers, the kubepods
# cgroups, iptables chains). A lock file at REALNODE_LOCK names the run owning
# them; a second run waits for it (LOCAL_UP_REAL_NODE_WAIT) and then refuses to
# start, unless nothing of the owner runs any more (see realnode::check_lock).
#
# Teardown (realnode::teardown, on stop and when start fails) restores the host
# to the snapshot taken before the node started (REALNODE_DIR/host-before):
# processes, mounts, cgroups, links, iptables chains, sysctls and fixed paths.

REALNODE_DIR="${LOCAL_UP_DIR}/realnode"
REALNODE_LOCK="/run/kusciatask-controller-realnode.lock"
REALNODE_BEFORE="${REALNODE_DIR}/host-before"
REALNODE_NAME="real-node-0"
REALNODE_PAUSE_IMAGE="localhost/kusciatask/pause:local"
CONTAINERD_DIR="${REALNODE_DIR}/containerd"
CONTAINERD_SOCK="${CONTAINERD_DIR}/containerd.sock"
KUBELET_DIR="${REALNODE_DIR}/kubelet"
CNI_CONF_DIR="${REALNODE_DIR}/cni/net.d"
# Debian's runc and CNI plugins.
RUNC_BIN=/usr/sbin/runc
CNI_BIN_DIR=/usr/lib/cni

# Host paths the kubelet or containerd create whatever their configuration:
# removed at teardown when they did not exist before.
REALNODE_FIXED_PATHS=(/var/lib/kubelet /var/lib/kubelet/pki /var/lib/kubelet/device-plugins
  /var/log/containers /var/log/pods /var/lib/cni /run/containerd /var/run/netns /run/netns
  /opt/containerd /var/lib/containerd /etc/cni /opt/cni)
# Sysctls the kubelet (and the CNI bridge with isGateway) change.
REALNODE_SYSCTLS=(vm.overcommit_memory kernel.panic kernel.panic_on_oops
  net.ipv4.ip_forward net.ipv6.conf.all.forwarding)
REALNODE_IPT_TABLES=(filter nat mangle raw)

# Where Debian's containerd was unpacked for this run (its binaries are how
# stop and status recognize the running containerd).
CONTAINERD_BIN_DIR=""
if [[ -f "${REALNODE_DIR}/containerd-bin-dir" ]]; then
  CONTAINERD_BIN_DIR="$(<"${REALNODE_DIR}/containerd-bin-dir")"
fi

# realnode::containerd_version: the candidate version of Debian's containerd
# (the cache key of its unpacked binaries).
realnode::containerd_version() {
  apt-cache policy containerd 2>/dev/null | awk '/Candidate:/ { print $2; exit }'
}

# realnode::ip_to_int <a.b.c.d>
realnode::ip_to_int() {
  local IFS=. a b c d
  read -r a b c d <<<"$1"
  echo $(((a << 24) + (b << 16) + (c << 8) + d))
}

# realnode::cidrs_overlap <cidr> <cidr>: true when the two IPv4 ranges share
# an address.
realnode::cidrs_overlap() {
  local a="${1%/*}" am="${1#*/}" b="${2%/*}" bm="${2#*/}" m
  m=$((am < bm ? am : bm))
  (((($(realnode::ip_to_int "${a}") ^ $(realnode::ip_to_int "${b}")) >> (32 - m)) == 0))
}

# realnode::detect_ip: the address of the interface of the default route, else
# the first global (non-loopback) IPv4 address.
realnode::detect_ip() {
  local ip
  ip="$(ip -4 route get 1 2>/dev/null | awk '{ for (i = 1; i < NF; i++) if ($i == "src") { print $(i+1); exit } }')"
  if [[ -z "${ip}" ]]; then
    ip="$(ip -4 -o addr show scope global 2>/dev/null | awk '{ split($4, a, "/"); print a[1]; exit }')"
  fi
  echo "${ip}"
}

# realnode::preflight: refuses, with one line naming what is missing, when a
# real node cannot run here. Sets LOCAL_UP_REAL_NODE_IP when empty.
realnode::preflight() {
  local port
  [[ "${LOCAL_UP_REAL_NODES}" =~ ^[0-9]+$ ]] || die "LOCAL_UP_REAL_NODES=${LOCAL_UP_REAL_NODES} is not a number"
  ((LOCAL_UP_REAL_NODES <= 1)) ||
    die "LOCAL_UP_REAL_NODES=${LOCAL_UP_REAL_NODES}: only 1 real node per host is supported (the kubelet's host paths and cgroups are shared)"
  [[ "$(uname -s)" == Linux ]] || die "a real node needs Linux"
  ((EUID == 0)) || die "a real node needs root (containerd, runc, mounts, cgroups, iptables)"
  grep -qw overlay /proc/filesystems || die "a real node needs overlayfs (no 'overlay' in /proc/filesystems)"
  [[ -d /sys/fs/cgroup && -n "$(ls -A /sys/fs/cgroup 2>/dev/null)" ]] || die "a real node needs cgroups mounted at /sys/fs/cgroup"
  [[ -e /sys/fs/cgroup/cgroup.controllers || -d /sys/fs/cgroup/memory ]] ||
    die "a real node needs cgroups (neither cgroup v2 nor a v1 memory hierarchy at /sys/fs/cgroup)"
  for cmd in ip mount umount apt-get dpkg-deb go; do
    command -v "${cmd}" >/dev/null || die "a real node needs '${cmd}' on PATH"
  done
  if [[ -z "${LOCAL_UP_REAL_NODE_IP}" ]]; then
    LOCAL_UP_REAL_NODE_IP="$(realnode::detect_ip)"
    [[ -n "${LOCAL_UP_REAL_NODE_IP}" ]] || die "no non-loopback IPv4 address for the real node (set LOCAL_UP_REAL_NODE_IP)"
  fi
  [[ "${LOCAL_UP_REAL_NODE_IP}" != 127.* ]] || die "LOCAL_UP_REAL_NODE_IP=${LOCAL_UP_REAL_NODE_IP}: the kubelet refuses a loopback node IP"
  [[ "${LOCAL_UP_REAL_POD_CIDR}" =~ ^[0-9.]+/[0-9]+$ ]] || die "LOCAL_UP_REAL_POD_CIDR=${LOCAL_UP_REAL_POD_CIDR} is not an IPv4 CIDR"
  if realnode::cidrs_overlap "${LOCAL_UP_REAL_POD_CIDR}" "${LOCAL_UP_POD_CIDR}"; then
    die "LOCAL_UP_REAL_POD_CIDR=${LOCAL_UP_REAL_POD_CIDR} overlaps kwok's LOCAL_UP_POD_CIDR=${LOCAL_UP_POD_CIDR}"
  fi
  realnode::check_lock
  [[ "${LOCAL_UP_BRIDGE}" =~ ^[a-zA-Z0-9_-]{1,15}$ ]] || die "LOCAL_UP_BRIDGE=${LOCAL_UP_BRIDGE} is not a valid link name"
  if ip link show "${LOCAL_UP_BRIDGE}" >/dev/null 2>&1; then
    die "link ${LOCAL_UP_BRIDGE} already exists (set LOCAL_UP_BRIDGE)"
  fi
  for port in "${LOCAL_UP_KUBELET_PORT}" "${LOCAL_UP_KUBELET_HEALTHZ_PORT}"; do
    port_free "${port}" || die "port ${port} is in use (set LOCAL_UP_KUBELET_PORT/LOCAL_UP_KUBELET_HEALTHZ_PORT)"
  done
}

# realnode::install_packages: installs runc, the CNI plugins and iptables
# when missing (apt-get update only when apt does not know a package).
realnode::install_packages() {
  local missing=()
  [[ -x "${RUNC_BIN}" ]] || missing+=(runc)
  [[ -x "${CNI_BIN_DIR}/bridge" && -x "${CNI_BIN_DIR}/host-local" && -x "${CNI_BIN_DIR}/loopback" ]] ||
    missing+=(containernetworking-plugins)
  command -v iptables-save >/dev/null || missing+=(iptables)
  # containerd is only downloaded (realnode::ensure_containerd), but apt must
  # know it too.
  if ! realnode::apt_knows "${missing[@]}" containerd; then
    log "apt-get update (apt does not know all of: ${missing[*]} containerd)"
    apt-get update >>"${LOGS}/apt.log" 2>&1 || die "apt-get update failed (see ${LOGS}/apt.log)"
  fi
  ((${#missing[@]} > 0)) || return 0
  log "installing Debian packages: ${missing[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}" >>"${LOGS}/apt.log" 2>&1 ||
    die "apt-get install ${missing[*]} failed (see ${LOGS}/apt.log)"
}

# realnode::apt_knows <package...>: apt has an installable candidate for each.
realnode::apt_knows() {
  local n
  n="$(apt-cache policy "$@" 2>/dev/null | awk '/Candidate:/ && $2 != "(none)"' | wc -l)"
  ((n == $#))
}

# realnode::ensure_containerd: unpacks Debian's containerd into the tools
# cache (once per version) and sets CONTAINERD_BIN_DIR.
realnode::ensure_containerd() {
  local version dir tmp deb
  version="$(realnode::containerd_version)"
  [[ -n "${version}" && "${version}" != "(none)" ]] || die "apt knows no containerd package"
  dir="${TOOLS_CACHE_DIR}/containerd-${version}"
  CONTAINERD_BIN_DIR="${dir}/usr/bin"
  [[ -x "${CONTAINERD_BIN_DIR}/containerd" && -x "${CONTAINERD_BIN_DIR}/ctr" ]] && return 0
  log "unpacking Debian's containerd ${version} into ${dir}"
  tmp="$(mktemp -d "${TOOLS_CACHE_DIR}/.containerd.XXXXXX")"
  (cd "${tmp}" && apt-get download "containerd=${version}") >>"${LOGS}/apt.log" 2>&1 ||
    { rm -rf "${tmp}"; die "apt-get download containerd=${version} failed (see ${LOGS}/apt.log)"; }
  deb="$(ls "${tmp}"/containerd_*.deb)"
  mkdir -p "${tmp}/root"
  dpkg-deb -x "${deb}" "${tmp}/root" || { rm -rf "${tmp}"; die "dpkg-deb -x ${deb} failed"; }
  rm -rf "${dir}"
  mv "${tmp}/root" "${dir}"
  rm -rf "${tmp}"
}

# realnode::owner_alive <dir>: true when a process's command line names
# <dir>/ (the plane of that folder, or its real node, still runs). The folder
# goes through the environment so that awk's own command line never matches.
realnode::owner_alive() {
  ps -eo args= | OWNER_DIR="$1/" awk 'index($0, ENVIRON["OWNER_DIR"]) { found = 1 } END { exit !found }'
}

# realnode::check_lock: the host-wide real-node lock names the folder of the
# run owning the host. Another run's lock is:
#   - ignored when that folder is gone;
#   - reclaimed when no process names that folder any more (its run was
#     killed without a stop): that run's own stop undoes what its node left on
#     the host, with its own snapshot, before this run goes on;
#   - waited for, up to LOCAL_UP_REAL_NODE_WAIT seconds, while it runs, and
#     then refused with the command that frees it.
realnode::check_lock() {
  local owner deadline said=""
  [[ "${LOCAL_UP_REAL_NODE_WAIT}" =~ ^[0-9]+$ ]] || die "LOCAL_UP_REAL_NODE_WAIT=${LOCAL_UP_REAL_NODE_WAIT} is not a number of seconds"
  deadline=$((SECONDS + LOCAL_UP_REAL_NODE_WAIT))
  while [[ -f "${REALNODE_LOCK}" ]]; do
    owner="$(<"${REALNODE_LOCK}")"
    [[ -n "${owner}" && "${owner}" != "${LOCAL_UP_DIR}" && -d "${owner}/realnode" ]] || return 0
    if ! realnode::owner_alive "${owner}"; then
      log "the real node of ${owner} holds this host but nothing of it runs (its run ended without a stop): stopping it first"
      LOCAL_UP_DIR="${owner}" LOCAL_UP_REAL_NODES=0 "${ROOT}/hack/local-up.sh" stop >&2 ||
        die "could not stop the leftover real node of ${owner}: LOCAL_UP_DIR=${owner} $0 stop"
      continue
    fi
    ((SECONDS < deadline)) ||
      die "a real node of ${owner} holds this host (${REALNODE_LOCK}); stop it first: LOCAL_UP_DIR=${owner} $0 stop"
    [[ -n "${said}" ]] || log "a real node of ${owner} holds this host; waiting for it to stop (up to ${LOCAL_UP_REAL_NODE_WAIT}s, LOCAL_UP_REAL_NODE_WAIT)"
    said=1
    sleep 5
  done
}

# realnode::lock: takes the host-wide real-node lock.
realnode::lock() {
  realnode::check_lock
  echo "${LOCAL_UP_DIR}" >"${REALNODE_LOCK}"
}

# realnode::unlock: removes the lock when it is ours.
realnode::unlock() {
  if [[ -f "${REALNODE_LOCK}" && "$(<"${REALNODE_LOCK}")" == "${LOCAL_UP_DIR}" ]]; then
    rm -f "${REALNODE_LOCK}"
  fi
}

# realnode::iptables_cmds: the iptables save commands present (each backend
# of each family), one per line.
realnode::iptables_cmds() {
  local c
  for c in iptables-legacy iptables-nft ip6tables-legacy ip6tables-nft; do
    command -v "${c}-save" >/dev/null && echo "${c}"
  done
  return 0
}

# realnode::ipt_table <table> <save>: the chains and rules of one table of
# <save> (a full iptables-save output), without counters. Always from a full
# save: `save -t <table>` would load a legacy table that does not exist yet (a
# change to the host of its own).
realnode::ipt_table() {
  awk -v t="*$1" '/^\*/ { on = ($0 == t); next } on && !/^#/ && $0 != "COMMIT"' <<<"$2" |
    sed 's/ \[[0-9]*:[0-9]*\]$//'
}

# realnode::snapshot <dir>: records the host state a real node changes:
# sysctls, which fixed paths exist, mount points, top-level cgroups, links and
# every iptables table of every backend.
realnode::snapshot() {
  local d="$1" s c t save
  mkdir -p "${d}"
  for s in "${REALNODE_SYSCTLS[@]}"; do
    echo "${s}=$(sysctl -n "${s}" 2>/dev/null || echo absent)"
  done >"${d}/sysctls"
  for s in "${REALNODE_FIXED_PATHS[@]}"; do
    [[ -e "${s}" ]] && echo "${s}"
  done >"${d}/paths"
  awk '{ print $5 }' /proc/self/mountinfo | sort >"${d}/mounts"
  find /sys/fs/cgroup -mindepth 1 -maxdepth 2 -type d 2>/dev/null | sort >"${d}/cgroups"
  ip -o link show | awk -F': ' '{ sub(/@.*/, "", $2); print $2 }' | sort >"${d}/links"
  for c in $(realnode::iptables_cmds); do
    save="$("${c}-save" 2>/dev/null)" || true
    for t in "${REALNODE_IPT_TABLES[@]}"; do
      realnode::ipt_table "${t}" "${save}" >"${d}/${c}-${t}" || true
    done
  done
}

# realnode::prepare: everything before the processes start: packages, the
# containerd binaries, the lock, the host snapshot, certificates, configs and
# the pause image. Runs after generate_pki.
realnode::prepare() {
  local t
  t="$(now)"
  mkdir -p "${REALNODE_DIR}" "${CONTAINERD_DIR}" "${KUBELET_DIR}" "${CNI_CONF_DIR}" "${REALNODE_DIR}/images"
  realnode::lock
  realnode::install_packages
  realnode::ensure_containerd
  echo "${CONTAINERD_BIN_DIR}" >"${REALNODE_DIR}/containerd-bin-dir"
  # Taken once per run: a restart after a failed stop must not snapshot the
  # leftovers as "before".
  [[ -d "${REALNODE_BEFORE}" ]] || realnode::snapshot "${REALNODE_BEFORE}"
  realnode::write_pki
  realnode::write_configs
  realnode::build_pause_image
  log "real node prepared ($(since "${t}"))"
}

# realnode::write_pki: the kubelet's client certificate (system:node:<name>)
# and serving certificate, and the apiserver's client certificate for the
# kubelet API (logs, exec).
realnode::write_pki() {
  sign kubelet-client "/O=system:nodes/CN=system:node:${REALNODE_NAME}" "$(printf '%s\n' \
    "basicConstraints=critical,CA:FALSE" \
    "keyUsage=critical,digitalSignature,keyEncipherment" \
    "extendedKeyUsage=clientAuth")"
  sign kubelet-serving "/CN=${REALNODE_NAME}" "$(printf '%s\n' \
    "basicConstraints=critical,CA:FALSE" \
    "keyUsage=critical,digitalSignature,keyEncipherment" \
    "extendedKeyUsage=serverAuth" \
    "subjectAltName=IP:${LOCAL_UP_REAL_NODE_IP},DNS:${REALNODE_NAME}")"
  sign apiserver-kubelet-client "/O=system:masters/CN=kube-apiserver-kubelet-client" "$(printf '%s\n' \
    "basicConstraints=critical,CA:FALSE" \
    "keyUsage=critical,digitalSignature,keyEncipherment" \
    "extendedKeyUsage=clientAuth")"
  chmod 600 "${PKI}"/*.key
}

# realnode::write_configs: containerd's config, the CNI conflist and the
# kubelet's kubeconfig and KubeletConfiguration, all under REALNODE_DIR.
realnode::write_configs() {
  cat >"${CONTAINERD_DIR}/config.toml" <<EOF
version = 2
root = "${CONTAINERD_DIR}/root"
state = "${CONTAINERD_DIR}/state"
# Plugins that need a system service or kernel feature we do not want.
disabled_plugins = ["io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs",
  "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.aufs"]

[grpc]
  address = "${CONTAINERD_SOCK}"

[ttrpc]
  address = "${CONTAINERD_SOCK}.ttrpc"

[debug]
  address = ""

# Otherwise containerd creates /opt/containerd.
[plugins."io.containerd.internal.v1.opt"]
  path = "${CONTAINERD_DIR}/opt"

[metrics]
  address = ""

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "${REALNODE_PAUSE_IMAGE}"
  # root here lacks CAP_SYS_RESOURCE: runc cannot lower oom_score_adj.
  restrict_oom_score_adj = true
  disable_apparmor = true
  disable_hugetlb_controller = true
  netns_mounts_under_state_dir = true
  enable_selinux = false
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        BinaryName = "${RUNC_BIN}"
        Root = "${CONTAINERD_DIR}/runc"
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "${CNI_BIN_DIR}"
    conf_dir = "${CNI_CONF_DIR}"
    max_conf_num = 1

[plugins."io.containerd.runtime.v1.linux"]
  runtime = "${RUNC_BIN}"
EOF

  # ipMasq off: pods need no way out, and it would add iptables rules.
  cat >"${CNI_CONF_DIR}/10-kusciatask.conflist" <<EOF
{
  "cniVersion": "0.4.0",
  "name": "kusciatask-${LOCAL_UP_BRIDGE}",
  "plugins": [
    {
      "type": "bridge",
      "bridge": "${LOCAL_UP_BRIDGE}",
      "isGateway": true,
      "ipMasq": false,
      "hairpinMode": true,
      "ipam": {
        "type": "host-local",
        "ranges": [[{ "subnet": "${LOCAL_UP_REAL_POD_CIDR}" }]],
        "routes": [{ "dst": "0.0.0.0/0" }],
        "dataDir": "${REALNODE_DIR}/cni/ipam"
      }
    }
  ]
}
EOF

  cat >"${KUBELET_DIR}/kubeconfig" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: local-up
  cluster:
    server: https://127.0.0.1:${LOCAL_UP_APISERVER_PORT}
    certificate-authority: ${PKI}/ca.crt
users:
- name: ${REALNODE_NAME}
  user:
    client-certificate: ${PKI}/kubelet-client.crt
    client-key: ${PKI}/kubelet-client.key
contexts:
- name: local-up
  context:
    cluster: local-up
    user: ${REALNODE_NAME}
current-context: local-up
EOF

  cat >"${KUBELET_DIR}/config.yaml" <<EOF
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: ${LOCAL_UP_REAL_NODE_IP}
port: ${LOCAL_UP_KUBELET_PORT}
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: ${LOCAL_UP_KUBELET_HEALTHZ_PORT}
tlsCertFile: ${PKI}/kubelet-serving.crt
tlsPrivateKeyFile: ${PKI}/kubelet-serving.key
authentication:
  anonymous:
    enabled: false
  webhook:
    enabled: true
  x509:
    clientCAFile: ${PKI}/ca.crt
authorization:
  mode: Webhook
containerRuntimeEndpoint: unix://${CONTAINERD_SOCK}
cgroupDriver: cgroupfs
# This host has cgroup v1 (hybrid); kubelet 1.37 refuses it unless told.
failCgroupV1: false
failSwapOn: false
podLogsDir: ${REALNODE_DIR}/pod-logs
# Imported images have no registry to come back from: never collect them.
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
evictionHard:
  memory.available: 50Mi
  nodefs.available: 1%
  nodefs.inodesFree: 1%
  imagefs.available: 1%
serializeImagePulls: false
maxPods: ${LOCAL_UP_NODE_PODS}
resolvConf: /etc/resolv.conf
EOF
  chmod 600 "${KUBELET_DIR}/kubeconfig"
}

# realnode::build_pause_image: builds the pause binary and wraps it in an
# image archive (hack/realnode/{pause,imagetar}).
realnode::build_pause_image() {
  local out="${REALNODE_DIR}/images"
  (cd "${ROOT}" &&
    CGO_ENABLED=0 go build -trimpath -o "${out}/pause" ./hack/realnode/pause &&
    go build -o "${out}/imagetar" ./hack/realnode/imagetar &&
    "${out}/imagetar" --binary "${out}/pause" --name "${REALNODE_PAUSE_IMAGE}" --out "${out}/pause.tar") \
    >>"${LOGS}/images.log" 2>&1 || die "building the pause image failed (see ${LOGS}/images.log)"
}

# realnode::ctr <args...>: ctr against this run's containerd, k8s.io namespace.
realnode::ctr() {
  "${CONTAINERD_BIN_DIR}/ctr" --address "${CONTAINERD_SOCK}" --namespace k8s.io "$@"
}

# realnode::start_containerd: starts containerd and imports the pause image.
realnode::start_containerd() {
  local t
  t="$(now)"
  # PATH: containerd finds its shim next to itself, runc by BinaryName.
  PATH="${CONTAINERD_BIN_DIR}:${PATH}" launch containerd --config "${CONTAINERD_DIR}/config.toml"
  wait_for "containerd to serve" realnode::ctr version
  realnode::ctr images import "${REALNODE_DIR}/images/pause.tar" >>"${LOGS}/images.log" 2>&1 ||
    die "importing the pause image failed (see ${LOGS}/images.log)"
  log "containerd ready, pause image imported ($(since "${t}"))"
}

# realnode::start_kubelet: starts the kubelet; it registers the node itself.
realnode::start_kubelet() {
  launch kubelet \
    --config="${KUBELET_DIR}/config.yaml" \
    --kubeconfig="${KUBELET_DIR}/kubeconfig" \
    --root-dir="${KUBELET_DIR}/root" \
    --cert-dir="${KUBELET_DIR}/pki" \
    --hostname-override="${REALNODE_NAME}" \
    --node-ip="${LOCAL_UP_REAL_NODE_IP}" \
    --node-labels="kuscia.secretflow/node-kind=real,type=real" \
    --v=1
}

# realnode::import <archive>: imports an image archive into the node's
# containerd.
realnode::import() {
  realnode::ctr images import "$1"
}

# realnode::remove_image <ref>: removes ref and every other record of the same
# image (the CRI plugin keeps one by tag, one by digest and one by image ID)
# from the node's containerd, and collects garbage before returning: the
# image's content is gone, its snapshots too unless a container still uses
# them. Prints the records removed; none when ref is not there.
realnode::remove_image() {
  local digest refs
  # `ctr images ls`: REF TYPE DIGEST SIZE... (SIZE holds a space; the first
  # three columns do not).
  digest="$(realnode::ctr images ls | awk -v ref="$1" 'NR > 1 && $1 == ref { print $3 }')"
  if [[ -z "${digest}" ]]; then
    echo "no image ${1} on ${REALNODE_NAME}"
    return 0
  fi
  mapfile -t refs < <(realnode::ctr images ls | awk -v d="${digest}" 'NR > 1 && $3 == d { print $1 }')
  realnode::ctr images rm --sync "${refs[@]}"
}

# ---------------------------------------------------------------------------
# teardown

# realnode::our_pids: processes whose command line names this run's real-node
# folder: the kubelet, containerd and its shims.
realnode::our_pids() {
  ps -eo pid=,args= | awk -v d="${REALNODE_DIR}/" \
    'index($0, d) && $2 ~ /\/(kubelet|containerd|containerd-shim[a-z0-9-]*)$/ { print $1 }'
}

# realnode::pod_cgroup_dirs: the kubepods cgroup of each hierarchy, when it
# did not exist before.
realnode::pod_cgroup_dirs() {
  local d
  for d in /sys/fs/cgroup/kubepods /sys/fs/cgroup/*/kubepods; do
    [[ -d "${d}" ]] || continue
    grep -qx "${d}" "${REALNODE_BEFORE}/cgroups" 2>/dev/null && continue
    echo "${d}"
  done
}

# realnode::pod_pids: every process in the pods' cgroups (the containers and
# their sandboxes).
realnode::pod_pids() {
  local d
  for d in $(realnode::pod_cgroup_dirs); do
    find "${d}" -name cgroup.procs -exec cat {} + 2>/dev/null
  done | sort -u
}

# realnode::kill_all <pids...>: SIGTERM, then SIGKILL after
# LOCAL_UP_STOP_GRACE seconds; returns when all are gone.
realnode::kill_all() {
  local pid deadline=$((SECONDS + LOCAL_UP_STOP_GRACE))
  (($# > 0)) || return 0
  kill -TERM "$@" 2>/dev/null || true
  for pid in "$@"; do
    while kill -0 "${pid}" 2>/dev/null; do
      if ((SECONDS >= deadline)); then kill -KILL "${pid}" 2>/dev/null || true; fi
      sleep 0.05
    done
  done
}

# realnode::stop_processes: the kubelet first (so it restarts nothing), then
# the containers, then containerd and its shims.
realnode::stop_processes() {
  local pids
  terminate kubelet
  mapfile -t pids < <(realnode::pod_pids)
  if ((${#pids[@]} > 0)); then
    kill -KILL "${pids[@]}" 2>/dev/null || true
    realnode::kill_all "${pids[@]}"
  fi
  terminate containerd
  # The shims outlive their containers until containerd deletes the tasks,
  # which it no longer will: they keep nothing worth a grace period.
  mapfile -t pids < <(realnode::our_pids)
  if ((${#pids[@]} > 0)); then
    kill -KILL "${pids[@]}" 2>/dev/null || true
    realnode::kill_all "${pids[@]}"
  fi
}

# realnode::new_mounts: mount points that did not exist before and lie in the
# places a real node mounts (its folder, netns folders, /run/containerd,
# /var/lib/kubelet), deepest first.
realnode::new_mounts() {
  local places="${LOCAL_UP_DIR}/"
  # Host-wide places only with a snapshot (see realnode::teardown).
  [[ -f "${REALNODE_BEFORE}/mounts" ]] && places+="|/run/netns/|/var/run/netns/|/run/containerd/|/var/lib/kubelet/"
  awk '{ print $5 }' /proc/self/mountinfo | sort -u |
    grep -E "^(${places})" |
    { if [[ -f "${REALNODE_BEFORE}/mounts" ]]; then grep -vxF -f "${REALNODE_BEFORE}/mounts"; else cat; fi } |
    awk '{ print length($0) "\t" $0 }' | sort -rn | cut -f2- || true
}

# realnode::unmount_all: unmounts them (lazily when busy), repeatedly, since
# mounts may be stacked.
realnode::unmount_all() {
  local m i
  for i in 1 2 3 4 5; do
    mapfile -t mounts < <(realnode::new_mounts)
    ((${#mounts[@]} > 0)) || return 0
    for m in "${mounts[@]}"; do
      umount "${m}" 2>/dev/null || umount -l "${m}" 2>/dev/null || true
    done
  done
  [[ -z "$(realnode::new_mounts)" ]] || log "warning: still mounted: $(realnode::new_mounts | tr '\n' ' ')"
}

# realnode::remove_cgroups: removes the pods' cgroups, deepest first (a cgroup
# dir is removed with rmdir once it holds no process).
realnode::remove_cgroups() {
  local d i
  for i in 1 2 3 4 5 6 7 8 9 10; do
    for d in $(realnode::pod_cgroup_dirs); do
      find "${d}" -depth -type d -exec rmdir {} + 2>/dev/null || true
    done
    [[ -z "$(realnode::pod_cgroup_dirs)" ]] && return 0
    sleep 0.2
  done
  log "warning: cgroups left: $(realnode::pod_cgroup_dirs | tr '\n' ' ')"
}

# realnode::remove_links: the bridge and the host ends of the pods' veths
# (those vanish with their netns, these are a safety net).
realnode::remove_links() {
  local l
  for l in $(ip -o link show master "${LOCAL_UP_BRIDGE}" 2>/dev/null | awk -F': ' '{ sub(/@.*/, "", $2); print $2 }'); do
    grep -qx "${l}" "${REALNODE_BEFORE}/links" 2>/dev/null || ip link del "${l}" 2>/dev/null || true
  done
  if ip link show "${LOCAL_UP_BRIDGE}" >/dev/null 2>&1 && ! grep -qx "${LOCAL_UP_BRIDGE}" "${REALNODE_BEFORE}/links" 2>/dev/null; then
    ip link del "${LOCAL_UP_BRIDGE}" || log "warning: could not delete link ${LOCAL_UP_BRIDGE}"
  fi
}

# realnode::restore_iptables: for every backend and table, deletes the KUBE-*
# and CNI-* rules and chains that were not there before (the kubelet's
# KUBE-FIREWALL, KUBE-KUBELET-CANARY, KUBE-IPTABLES-HINT, ...), through one
# iptables-restore --noflush per table.
realnode::restore_iptables() {
  local c t now_rules script chain save
  for c in $(realnode::iptables_cmds); do
    save="$("${c}-save" 2>/dev/null)" || continue
    for t in "${REALNODE_IPT_TABLES[@]}"; do
      now_rules="$(realnode::ipt_table "${t}" "${save}")" || continue
      [[ -n "${now_rules}" ]] || continue
      mapfile -t new < <(grep -vxF -f <(cat "${REALNODE_BEFORE}/${c}-${t}" 2>/dev/null; echo '#none') <<<"${now_rules}" |
        grep -E '(KUBE-|CNI-)' || true)
      ((${#new[@]} > 0)) || continue
      script="*${t}"$'\n'
      # Rules first (-A X ... becomes -D X ...), in chains that existed
      # before; the new chains are flushed and deleted after.
      for line in "${new[@]}"; do
        [[ "${line}" == "-A "* ]] || continue
        chain="${line#-A }"
        chain="${chain%% *}"
        printf '%s\n' "${new[@]}" | grep -qx ":${chain} .*" && continue
        script+="-D ${line#-A }"$'\n'
      done
      for line in "${new[@]}"; do
        [[ "${line}" == ":"* ]] || continue
        chain="${line#:}"
        script+="-F ${chain%% *}"$'\n'
      done
      for line in "${new[@]}"; do
        [[ "${line}" == ":"* ]] || continue
        chain="${line#:}"
        script+="-X ${chain%% *}"$'\n'
      done
      script+="COMMIT"$'\n'
      "${c}-restore" --noflush <<<"${script}" 2>>"${LOGS}/teardown.log" ||
        log "warning: ${c}-restore of table ${t} failed (see ${LOGS}/teardown.log)"
    done
  done
}

# realnode::restore_sysctls: puts back each recorded sysctl that changed.
realnode::restore_sysctls() {
  local key value
  [[ -f "${REALNODE_BEFORE}/sysctls" ]] || return 0
  while IFS='=' read -r key value; do
    [[ "${value}" == absent ]] && continue
    if [[ "$(sysctl -n "${key}" 2>/dev/null)" != "${value}" ]]; then
      sysctl -qw "${key}=${value}" >/dev/null || log "warning: could not restore ${key}=${value}"
    fi
  done <"${REALNODE_BEFORE}/sysctls"
}

# realnode::remove_fixed_paths: removes each fixed host path that did not
# exist before, deepest first, never one holding a mount.
realnode::remove_fixed_paths() {
  local i p
  [[ -f "${REALNODE_BEFORE}/paths" ]] || return 0
  for ((i = ${#REALNODE_FIXED_PATHS[@]} - 1; i >= 0; i--)); do
    p="${REALNODE_FIXED_PATHS[i]}"
    [[ -e "${p}" || -L "${p}" ]] || continue
    grep -qxF "${p}" "${REALNODE_BEFORE}/paths" && continue
    if awk '{ print $5 }' /proc/self/mountinfo | grep -q "^${p}\(/\|$\)"; then
      log "warning: ${p} holds a mount; not removing it"
      continue
    fi
    rm -rf "${p}"
  done
}

# realnode::teardown: stops the node and restores the host to the snapshot.
# Safe to run twice, and on a node that never fully started. Without a
# snapshot (the run never took the lock) it touches only its own processes
# and mounts: the host-wide state may then belong to another run.
realnode::teardown() {
  local t pids
  [[ -d "${REALNODE_DIR}" ]] || return 0
  t="$(now)"
  if [[ ! -d "${REALNODE_BEFORE}" ]]; then
    mapfile -t pids < <(realnode::our_pids)
    realnode::kill_all "${pids[@]}"
    realnode::unmount_all
    return 0
  fi
  realnode::stop_processes
  realnode::unmount_all
  realnode::remove_cgroups
  realnode::remove_links
  realnode::restore_iptables
  realnode::restore_sysctls
  realnode::remove_fixed_paths
  realnode::unlock
  REALNODE_STOP_TIME="$(since "${t}")"
}

# realnode::assert_unmounted: dies when anything is still mounted under
# LOCAL_UP_DIR (removing the folder would then reach into the mounts).
realnode::assert_unmounted() {
  if awk '{ print $5 }' /proc/self/mountinfo | grep -q "^${LOCAL_UP_DIR}/"; then
    die "still mounted under ${LOCAL_UP_DIR}; not removing it: $(awk '{ print $5 }' /proc/self/mountinfo | grep "^${LOCAL_UP_DIR}/" | head -3 | tr '\n' ' ')"
  fi
}
