#!/usr/bin/env bash
#
# A local Kubernetes control plane on 127.0.0.1, built from Go modules (no
# containers, no downloads but the Go module proxy): etcd, kube-apiserver,
# kube-controller-manager, kube-scheduler and kwok driving fake nodes and pods
# (see hack/kwok/README.md for how a pod's fate is chosen); optionally a real
# node (containerd + runc + CNI bridge + kubelet, see hack/lib/realnode.sh),
# which needs root, cgroups and overlayfs.
#
# Usage:
#   hack/local-up.sh start    start everything; prints `export KUBECONFIG=...` on
#                             stdout (progress goes to stderr), so:
#                               eval "$(hack/local-up.sh start)"
#                             When already running, says so and prints it again.
#   hack/local-up.sh stop     stop what start started, remove LOCAL_UP_DIR
#   hack/local-up.sh status   which components run (exit 0 only if all of them)
#   hack/local-up.sh load-image <archive>
#                             import an image archive (OCI or docker) into the
#                             containerd of every real node of the running plane
#   hack/local-up.sh remove-image <ref>
#                             remove an image (all its records) from the real
#                             node's containerd and collect its content, so the
#                             next pull of it downloads it again
#
# Environment (defaults in brackets):
#   LOCAL_UP_DIR             state: pki, etcd data, logs, pids, kubeconfig
#                            [<repo>/_output/local]
#   LOCAL_UP_ETCD_PORT       etcd client port [12379]
#   LOCAL_UP_ETCD_PEER_PORT  etcd peer port [12380]
#   LOCAL_UP_APISERVER_PORT  kube-apiserver secure port [16443]
#   LOCAL_UP_SERVICE_CIDR    service cluster IP range [10.0.0.0/24]
#   LOCAL_UP_POD_CIDR        pod IPs handed out by kwok [10.244.0.1/16]
#   LOCAL_UP_CRDS            CRD file or directory to apply before the
#                            controller-manager starts [none]
#   LOCAL_UP_NODES           number of fake nodes kwok-node-0..N-1 (0: none) [2]
#   LOCAL_UP_REAL_NODES      number of real nodes (0 or 1: only one per host) [0];
#                            the real node is real-node-0, labelled type=real and
#                            kuscia.secretflow/node-kind=real; the apiserver then
#                            also serves on the node's address, written to
#                            $LOCAL_UP_DIR/apiserver-node-url (for pods)
#   LOCAL_UP_REAL_NODE_IP    the real node's address [default route's source]
#   LOCAL_UP_REAL_POD_CIDR   the real node's pod IPs (CNI bridge) [10.88.0.0/24]
#   LOCAL_UP_BRIDGE          the real node's bridge [kt-br0]
#   LOCAL_UP_KUBELET_PORT    the kubelet's API port [20250]
#   LOCAL_UP_KUBELET_HEALTHZ_PORT  the kubelet's healthz port (127.0.0.1) [20248]
#   LOCAL_UP_REAL_NODE_WAIT  seconds to wait while another run's real node holds
#                            this host before refusing [0]; a holder of which
#                            nothing runs any more is stopped, not waited for
#   LOCAL_UP_NODE_CPU        each node's cpu capacity/allocatable [4]
#   LOCAL_UP_NODE_MEMORY     each node's memory [8Gi]
#   LOCAL_UP_NODE_PODS       each node's pod capacity [110]
#   LOCAL_UP_PROFILING       kube-apiserver serves /debug/pprof (true/false) [false]
#   LOCAL_UP_KWOK_CONFIG     kwok Stages [hack/kwok/stages.yaml]
#   LOCAL_UP_TIMEOUT         seconds to wait for each step [60]
#   LOCAL_UP_STOP_GRACE      seconds from SIGTERM to SIGKILL, per stop phase [5]
#
# Kubernetes' gang scheduling is on: the feature gate GenericWorkload on
# kube-apiserver, kube-scheduler and kube-controller-manager (its
# podgroup-protection controller removes the finalizer PodGroups get on
# creation) and --runtime-config=scheduling.k8s.io/v1beta1=true, so
# PodGroups are served and pods may join one with spec.schedulingGroup.
#
# Two instances can run side by side with different LOCAL_UP_DIR and ports.
# Logs: $LOCAL_UP_DIR/logs/<component>.log.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=hack/lib/tools.sh
source "${ROOT}/hack/lib/tools.sh"

LOCAL_UP_DIR="${LOCAL_UP_DIR:-${ROOT}/_output/local}"
LOCAL_UP_ETCD_PORT="${LOCAL_UP_ETCD_PORT:-12379}"
LOCAL_UP_ETCD_PEER_PORT="${LOCAL_UP_ETCD_PEER_PORT:-12380}"
LOCAL_UP_APISERVER_PORT="${LOCAL_UP_APISERVER_PORT:-16443}"
LOCAL_UP_SERVICE_CIDR="${LOCAL_UP_SERVICE_CIDR:-10.0.0.0/24}"
LOCAL_UP_POD_CIDR="${LOCAL_UP_POD_CIDR:-10.244.0.1/16}"
LOCAL_UP_CRDS="${LOCAL_UP_CRDS:-}"
LOCAL_UP_NODES="${LOCAL_UP_NODES:-2}"
LOCAL_UP_REAL_NODES="${LOCAL_UP_REAL_NODES:-0}"
LOCAL_UP_REAL_NODE_IP="${LOCAL_UP_REAL_NODE_IP:-}"
LOCAL_UP_REAL_POD_CIDR="${LOCAL_UP_REAL_POD_CIDR:-10.88.0.0/24}"
LOCAL_UP_BRIDGE="${LOCAL_UP_BRIDGE:-kt-br0}"
LOCAL_UP_KUBELET_PORT="${LOCAL_UP_KUBELET_PORT:-20250}"
LOCAL_UP_KUBELET_HEALTHZ_PORT="${LOCAL_UP_KUBELET_HEALTHZ_PORT:-20248}"
LOCAL_UP_REAL_NODE_WAIT="${LOCAL_UP_REAL_NODE_WAIT:-0}"
LOCAL_UP_NODE_CPU="${LOCAL_UP_NODE_CPU:-4}"
LOCAL_UP_NODE_MEMORY="${LOCAL_UP_NODE_MEMORY:-8Gi}"
LOCAL_UP_NODE_PODS="${LOCAL_UP_NODE_PODS:-110}"
LOCAL_UP_PROFILING="${LOCAL_UP_PROFILING:-false}"
LOCAL_UP_KWOK_CONFIG="${LOCAL_UP_KWOK_CONFIG:-${ROOT}/hack/kwok/stages.yaml}"
LOCAL_UP_TIMEOUT="${LOCAL_UP_TIMEOUT:-60}"
LOCAL_UP_STOP_GRACE="${LOCAL_UP_STOP_GRACE:-5}"

# Absolute paths: they end up in the components' command lines (which is also
# how stop recognizes its own processes) and in the kubeconfig.
LOCAL_UP_DIR="${LOCAL_UP_DIR%/}"
[[ "${LOCAL_UP_DIR}" == /* ]] || LOCAL_UP_DIR="${PWD}/${LOCAL_UP_DIR}"

PKI="${LOCAL_UP_DIR}/pki"
LOGS="${LOCAL_UP_DIR}/logs"
PIDS="${LOCAL_UP_DIR}/pids"
KUBECONFIG_FILE="${LOCAL_UP_DIR}/kubeconfig"
# Marks a directory as ours: stop and a restart only ever delete a directory
# holding it.
MARKER="${LOCAL_UP_DIR}/.local-up"

# Where pods reach the apiserver (real nodes only): https://<node IP>:<port>.
NODE_URL_FILE="${LOCAL_UP_DIR}/apiserver-node-url"

# Start order.
COMPONENTS=(etcd kube-apiserver kube-controller-manager kube-scheduler kwok)

# Gang scheduling (PodGroups), on all three components that know the gate.
FEATURE_GATES="GenericWorkload=true"

log() { echo "local-up: $*" >&2; }
die() { log "error: $*"; exit 1; }

# shellcheck source=hack/lib/realnode.sh
source "${ROOT}/hack/lib/realnode.sh"
[[ "${LOCAL_UP_NODES}" =~ ^[0-9]+$ ]] || die "LOCAL_UP_NODES=${LOCAL_UP_NODES} is not a number"
[[ "${LOCAL_UP_REAL_NODES}" =~ ^[0-9]+$ ]] || die "LOCAL_UP_REAL_NODES=${LOCAL_UP_REAL_NODES} is not a number"
# A real node's processes: asked for (start), or started before (status, stop).
if ((LOCAL_UP_REAL_NODES > 0)) || [[ -d "${REALNODE_DIR}" ]]; then
  COMPONENTS+=(containerd kubelet)
fi

kubectl() { "${KUBECTL}" --kubeconfig "${KUBECONFIG_FILE}" "$@"; }

now() { echo "${EPOCHREALTIME:-${SECONDS}}"; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1fs", b - a }'; }

binary_of() {
  case "$1" in
    etcd) echo "${ETCD}" ;;
    kube-apiserver) echo "${KUBE_APISERVER}" ;;
    kube-controller-manager) echo "${KUBE_CONTROLLER_MANAGER}" ;;
    kube-scheduler) echo "${KUBE_SCHEDULER}" ;;
    kwok) echo "${KWOK}" ;;
    kubelet) echo "${KUBELET}" ;;
    containerd) echo "${CONTAINERD_BIN_DIR:-}/containerd" ;;
  esac
}

# pid_of <component>: prints the pid if <component> of THIS instance runs: the
# pid file exists, the process lives, and its command line is our binary with
# our LOCAL_UP_DIR in it (a stale pid file never makes us touch a stranger).
pid_of() {
  local pidfile="${PIDS}/$1.pid" pid args
  [[ -f "${pidfile}" ]] || return 1
  pid="$(<"${pidfile}")"
  [[ "${pid}" =~ ^[0-9]+$ ]] || return 1
  args="$(ps -p "${pid}" -o args= 2>/dev/null)" || return 1
  [[ "${args}" == "$(binary_of "$1") "* && "${args}" == *"${LOCAL_UP_DIR}/"* ]] || return 1
  echo "${pid}"
}

# port_free <port>: nothing accepts connections on 127.0.0.1:<port>.
port_free() {
  ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# ---------------------------------------------------------------------------
# certificates

# sign <name> <subject> <extensions>: a P-256 key and a certificate signed by
# the local CA.
sign() {
  local name="$1" subject="$2" ext="$3"
  openssl req -new -nodes -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 \
    -keyout "${PKI}/${name}.key" -out "${PKI}/${name}.csr" -subj "${subject}" 2>>"${LOGS}/pki.log"
  printf '%s\n' "${ext}" >"${PKI}/${name}.ext"
  openssl x509 -req -in "${PKI}/${name}.csr" -CA "${PKI}/ca.crt" -CAkey "${PKI}/ca.key" \
    -CAcreateserial -days 365 -sha256 -extfile "${PKI}/${name}.ext" \
    -out "${PKI}/${name}.crt" 2>>"${LOGS}/pki.log"
}

generate_pki() {
  mkdir -p "${PKI}"
  openssl req -x509 -new -nodes -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 \
    -keyout "${PKI}/ca.key" -out "${PKI}/ca.crt" -days 3650 -sha256 \
    -subj "/CN=local-up-ca" \
    -addext "basicConstraints=critical,CA:TRUE" \
    -addext "keyUsage=critical,keyCertSign,cRLSign,digitalSignature" 2>>"${LOGS}/pki.log"

  sign apiserver "/CN=kube-apiserver" "$(printf '%s\n' \
    "basicConstraints=critical,CA:FALSE" \
    "keyUsage=critical,digitalSignature,keyEncipherment" \
    "extendedKeyUsage=serverAuth" \
    "subjectAltName=IP:127.0.0.1,${LOCAL_UP_REAL_NODE_IP:+IP:${LOCAL_UP_REAL_NODE_IP},}DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local")"

  # One cluster-admin identity (O=system:masters) shared by kubectl and all
  # components: the point is a working cluster, not least privilege.
  sign admin "/O=system:masters/CN=local-up-admin" "$(printf '%s\n' \
    "basicConstraints=critical,CA:FALSE" \
    "keyUsage=critical,digitalSignature,keyEncipherment" \
    "extendedKeyUsage=clientAuth")"

  # Service-account token signing key pair.
  openssl ecparam -name prime256v1 -genkey -noout -out "${PKI}/sa.key" 2>>"${LOGS}/pki.log"
  openssl ec -in "${PKI}/sa.key" -pubout -out "${PKI}/sa.pub" 2>>"${LOGS}/pki.log"
  chmod 600 "${PKI}"/*.key
}

b64() { base64 <"$1" | tr -d '\n'; }

write_kubeconfig() {
  # Certificates are embedded so the file can be copied elsewhere.
  cat >"${KUBECONFIG_FILE}" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: local-up
  cluster:
    server: https://127.0.0.1:${LOCAL_UP_APISERVER_PORT}
    certificate-authority-data: $(b64 "${PKI}/ca.crt")
users:
- name: local-up-admin
  user:
    client-certificate-data: $(b64 "${PKI}/admin.crt")
    client-key-data: $(b64 "${PKI}/admin.key")
contexts:
- name: local-up
  context:
    cluster: local-up
    user: local-up-admin
current-context: local-up
EOF
  chmod 600 "${KUBECONFIG_FILE}"
}

# ---------------------------------------------------------------------------
# processes

# The component being started or waited for; its log is shown if start fails.
CURRENT=""

# launch <component> <args...>: starts the component's binary in the
# background, detached from this shell (its own session when setsid exists, so
# a terminal's Ctrl-C or hang-up does not reach it), with no inherited
# stdin/stdout/stderr (a caller reading our output would otherwise wait for
# the components to exit).
launch() {
  local name="$1" bin
  shift
  CURRENT="${name}"
  bin="$(binary_of "${name}")"
  if command -v setsid >/dev/null; then
    setsid "${bin}" "$@" </dev/null >>"${LOGS}/${name}.log" 2>&1 &
  else
    nohup "${bin}" "$@" </dev/null >>"${LOGS}/${name}.log" 2>&1 &
  fi
  echo "$!" >"${PIDS}/${name}.pid"
}

# wait_for <description> <command...>: retries the command until it succeeds,
# failing early if the current component died or after LOCAL_UP_TIMEOUT.
wait_for() {
  local what="$1" deadline=$((SECONDS + LOCAL_UP_TIMEOUT))
  shift
  until "$@" >/dev/null 2>&1; do
    if [[ -n "${CURRENT}" ]] && ! pid_of "${CURRENT}" >/dev/null; then
      die "${CURRENT} exited while waiting for ${what}"
    fi
    if ((SECONDS >= deadline)); then
      die "timed out after ${LOCAL_UP_TIMEOUT}s waiting for ${what}"
    fi
    sleep 0.1
  done
}

# etcd answers GET /health (plain HTTP; bash's /dev/tcp, so no curl needed).
etcd_healthy() {
  (
    exec 3<>"/dev/tcp/127.0.0.1/${LOCAL_UP_ETCD_PORT}"
    printf 'GET /health HTTP/1.0\r\n\r\n' >&3
    cat <&3
  ) | grep '"health":"true"' >/dev/null # not -q: an early exit could SIGPIPE the subshell
}

crds_established() {
  kubectl wait --for=condition=Established --timeout=1s "$@"
}

# All nodes (kwok's and real ones) Ready and free of the not-ready/unreachable
# taints the node lifecycle controller may put on a node that is not Ready yet.
nodes_ready() {
  local out
  out="$(kubectl get nodes -o jsonpath='{range .items[*]}{.metadata.name}{" "}{.status.conditions[?(@.type=="Ready")].status}{" "}{.spec.taints}{"\n"}{end}')"
  [[ "$(grep -c ' True $' <<<"${out}")" -eq "$((LOCAL_UP_NODES + LOCAL_UP_REAL_NODES))" ]]
}

node_manifests() {
  local i
  for ((i = 0; i < LOCAL_UP_NODES; i++)); do
    # Nodes accept status on create: kwok's node-initialize stage keeps the
    # capacity/allocatable set here.
    cat <<EOF
---
apiVersion: v1
kind: Node
metadata:
  name: kwok-node-${i}
  annotations:
    kwok.x-k8s.io/node: fake
    node.alpha.kubernetes.io/ttl: "0"
  labels:
    kubernetes.io/arch: amd64
    kubernetes.io/hostname: kwok-node-${i}
    kubernetes.io/os: linux
    kubernetes.io/role: agent
    type: kwok
status:
  capacity: &resources
    cpu: "${LOCAL_UP_NODE_CPU}"
    memory: "${LOCAL_UP_NODE_MEMORY}"
    pods: "${LOCAL_UP_NODE_PODS}"
  allocatable: *resources
EOF
  done
}

# terminate <component...>: SIGTERM to those running, SIGKILL to any still
# running LOCAL_UP_STOP_GRACE seconds later; returns once all are gone.
terminate() {
  local name pid pids=() deadline
  for name in "$@"; do
    if pid="$(pid_of "${name}")"; then
      kill -TERM "${pid}" 2>/dev/null || true
      pids+=("${pid}")
    fi
  done
  deadline=$((SECONDS + LOCAL_UP_STOP_GRACE))
  for pid in "${pids[@]}"; do
    while kill -0 "${pid}" 2>/dev/null; do
      if ((SECONDS >= deadline)); then
        kill -KILL "${pid}" 2>/dev/null || true
      fi
      sleep 0.05
    done
  done
}

# stop_components: etcd only once kube-apiserver is gone: a kube-apiserver
# whose etcd vanished can hang on SIGTERM for minutes. Each component takes
# 1-3 s to shut down gracefully, hence the others in parallel.
STOP_TIMES=""
stop_components() {
  local t
  t="$(now)"
  terminate kwok kube-scheduler kube-controller-manager kube-apiserver
  STOP_TIMES="apiserver and controllers $(since "${t}")"
  t="$(now)"
  terminate etcd
  STOP_TIMES+=", etcd $(since "${t}")"
  rm -f "${PIDS}"/*.pid 2>/dev/null || true
}

# ---------------------------------------------------------------------------
# commands

START_OK=false
on_start_exit() {
  ${START_OK} && return
  if [[ -n "${CURRENT}" && -f "${LOGS}/${CURRENT}.log" ]]; then
    log "last lines of ${LOGS}/${CURRENT}.log:"
    tail -n 30 "${LOGS}/${CURRENT}.log" >&2 || true
  fi
  log "stopping what was started; logs stay in ${LOGS}"
  realnode::teardown
  stop_components
}

cmd_start() {
  local t0 t name port running=0 applied recursive=() crd_names=()
  t0="$(now)"

  for name in "${COMPONENTS[@]}"; do
    if pid_of "${name}" >/dev/null; then running=$((running + 1)); fi
  done
  if ((running == ${#COMPONENTS[@]})); then
    log "already running in ${LOCAL_UP_DIR}"
    echo "export KUBECONFIG=${KUBECONFIG_FILE}"
    return 0
  elif ((running > 0)); then
    cmd_status >&2 || true
    die "partly running in ${LOCAL_UP_DIR}; run '$0 stop' first"
  fi

  # Leftovers of a crashed or failed run: only ever delete our own directory,
  # after undoing what a real node left on the host.
  if [[ -d "${LOCAL_UP_DIR}" && -n "$(ls -A "${LOCAL_UP_DIR}")" ]]; then
    [[ -f "${MARKER}" ]] || die "${LOCAL_UP_DIR} exists and was not made by $0; not touching it"
    realnode::teardown
    realnode::assert_unmounted
    rm -rf "${LOCAL_UP_DIR}"
  fi
  ((LOCAL_UP_REAL_NODES == 0)) || realnode::preflight

  for port in "${LOCAL_UP_ETCD_PORT}" "${LOCAL_UP_ETCD_PEER_PORT}" "${LOCAL_UP_APISERVER_PORT}"; do
    port_free "${port}" || die "port ${port} on 127.0.0.1 is in use (set LOCAL_UP_*_PORT)"
  done
  [[ -f "${LOCAL_UP_KWOK_CONFIG}" ]] || die "no kwok config at ${LOCAL_UP_KWOK_CONFIG}"
  if [[ -n "${LOCAL_UP_CRDS}" && ! -e "${LOCAL_UP_CRDS}" ]]; then
    die "LOCAL_UP_CRDS=${LOCAL_UP_CRDS} does not exist"
  fi

  command -v openssl >/dev/null ||
    die "openssl is needed to make the control plane's certificates (Debian: apt-get install openssl)"

  # Build (or find cached) binaries; its progress lines go to stderr.
  if ((LOCAL_UP_REAL_NODES > 0)); then
    "${ROOT}/hack/build-tools.sh" kubelet >&2
  else
    "${ROOT}/hack/build-tools.sh" >&2
  fi

  mkdir -p "${LOGS}" "${PIDS}"
  touch "${MARKER}"
  trap on_start_exit EXIT
  CURRENT=pki # openssl's output goes to logs/pki.log
  generate_pki
  write_kubeconfig
  if ((LOCAL_UP_REAL_NODES > 0)); then
    CURRENT=""
    realnode::prepare
    realnode::start_containerd
  fi

  t="$(now)"
  # --unsafe-no-fsync: the data is thrown away on stop; fsync only costs time.
  launch etcd \
    --name=local-up \
    --data-dir="${LOCAL_UP_DIR}/etcd" \
    --listen-client-urls="http://127.0.0.1:${LOCAL_UP_ETCD_PORT}" \
    --advertise-client-urls="http://127.0.0.1:${LOCAL_UP_ETCD_PORT}" \
    --listen-peer-urls="http://127.0.0.1:${LOCAL_UP_ETCD_PEER_PORT}" \
    --initial-advertise-peer-urls="http://127.0.0.1:${LOCAL_UP_ETCD_PEER_PORT}" \
    --initial-cluster="local-up=http://127.0.0.1:${LOCAL_UP_ETCD_PEER_PORT}" \
    --unsafe-no-fsync \
    --log-level=warn
  wait_for "etcd to be healthy" etcd_healthy
  log "etcd healthy ($(since "${t}"))"

  # With a real node: the apiserver also serves on the node's address so pods
  # can reach it (no kube-proxy runs: the kubernetes Service leads nowhere),
  # and reaches the kubelet (logs, exec) by its InternalIP with a client
  # certificate the kubelet trusts, checking the kubelet's serving certificate.
  local bind=127.0.0.1 kubelet_flags=()
  if ((LOCAL_UP_REAL_NODES > 0)); then
    bind=0.0.0.0
    kubelet_flags=(
      --kubelet-client-certificate="${PKI}/apiserver-kubelet-client.crt"
      --kubelet-client-key="${PKI}/apiserver-kubelet-client.key"
      --kubelet-certificate-authority="${PKI}/ca.crt"
      --kubelet-preferred-address-types=InternalIP
    )
  fi
  t="$(now)"
  # --advertise-address=127.0.0.1 needs --endpoint-reconciler-type=none in
  # 1.37 (fatal otherwise). Without it the apiserver advertises the host's
  # default-route address (and fails when there is none, e.g. offline) and, on
  # SIGTERM, waits up to 20 s to remove that address from the `kubernetes`
  # Endpoints. The cost: the `kubernetes` Service has no endpoints (nothing
  # here runs in a pod, so nothing uses it).
  launch kube-apiserver \
    --advertise-address=127.0.0.1 \
    --endpoint-reconciler-type=none \
    --etcd-servers="http://127.0.0.1:${LOCAL_UP_ETCD_PORT}" \
    --bind-address="${bind}" \
    --secure-port="${LOCAL_UP_APISERVER_PORT}" \
    --tls-cert-file="${PKI}/apiserver.crt" \
    --tls-private-key-file="${PKI}/apiserver.key" \
    --client-ca-file="${PKI}/ca.crt" \
    --authorization-mode=Node,RBAC \
    --service-account-issuer=https://kubernetes.default.svc.cluster.local \
    --service-account-key-file="${PKI}/sa.pub" \
    --service-account-signing-key-file="${PKI}/sa.key" \
    --service-cluster-ip-range="${LOCAL_UP_SERVICE_CIDR}" \
    --allow-privileged=true \
    --feature-gates="${FEATURE_GATES}" \
    --runtime-config=scheduling.k8s.io/v1beta1=true \
    --profiling="${LOCAL_UP_PROFILING}" \
    "${kubelet_flags[@]}"
  wait_for "kube-apiserver /readyz" kubectl get --raw /readyz
  log "kube-apiserver ready ($(since "${t}"))"

  # CRDs before the controller-manager: its garbage collector then knows the
  # new types at once (it rediscovers resources only every 30 s).
  if [[ -n "${LOCAL_UP_CRDS}" ]]; then
    t="$(now)"
    CURRENT="" # a failing apply explains itself; no component log to show
    # crds/ also holds the admission policy's parameter, a ConfigMap in
    # kube-system, which the apiserver creates just after it turns ready.
    wait_for "the kube-system namespace" kubectl get namespace kube-system
    [[ -d "${LOCAL_UP_CRDS}" ]] && recursive=(--recursive)
    applied="$(kubectl apply --server-side --force-conflicts \
      "${recursive[@]}" -f "${LOCAL_UP_CRDS}" -o name)"
    mapfile -t crd_names < <(grep '^customresourcedefinition' <<<"${applied}" || true)
    if ((${#crd_names[@]} > 0)); then
      wait_for "CRDs to be Established" crds_established "${crd_names[@]}"
    fi
    log "${#crd_names[@]} CRD(s) from ${LOCAL_UP_CRDS} established ($(since "${t}"))"
  fi

  t="$(now)"
  # Runs the garbage collector, namespace deletion and the service-account
  # controllers. Client limits raised from 20/30 so garbage collection and
  # endpoint slices keep up with tests that create many objects.
  launch kube-controller-manager \
    --kubeconfig="${KUBECONFIG_FILE}" \
    --authentication-kubeconfig="${KUBECONFIG_FILE}" \
    --authorization-kubeconfig="${KUBECONFIG_FILE}" \
    --secure-port=0 \
    --leader-elect=false \
    --controllers='*' \
    --service-account-private-key-file="${PKI}/sa.key" \
    --root-ca-file="${PKI}/ca.crt" \
    --cluster-signing-cert-file="${PKI}/ca.crt" \
    --cluster-signing-key-file="${PKI}/ca.key" \
    --kube-api-qps=500 \
    --kube-api-burst=1000 \
    --feature-gates="${FEATURE_GATES}" \
    --profiling=false

  # kwok never schedules; the scheduler binds pods. Its default client limit
  # (QPS 50) would cap binding at 50 pods/s.
  launch kube-scheduler \
    --kubeconfig="${KUBECONFIG_FILE}" \
    --authentication-kubeconfig="${KUBECONFIG_FILE}" \
    --authorization-kubeconfig="${KUBECONFIG_FILE}" \
    --secure-port=0 \
    --leader-elect=false \
    --kube-api-qps=5000 \
    --kube-api-burst=10000 \
    --feature-gates="${FEATURE_GATES}" \
    --profiling=false

  # Options as flags: a KwokConfiguration document in --config would replace
  # kwok's defaults. --server-address= : no kubelet-like server (no port).
  # KWOK_WORKDIR: kwok also loads ~/.kwok/kwok.yaml when it exists; point its
  # work dir somewhere empty so a developer's own kwok setup cannot leak in.
  KWOK_WORKDIR="${LOCAL_UP_DIR}/kwok" launch kwok \
    --kubeconfig="${KUBECONFIG_FILE}" \
    --config="${LOCAL_UP_KWOK_CONFIG}" \
    --manage-all-nodes=false \
    --manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake \
    --cidr="${LOCAL_UP_POD_CIDR}" \
    --node-ip=10.240.0.1 \
    --node-lease-duration-seconds=40 \
    --server-address=

  CURRENT=""
  if ((LOCAL_UP_NODES > 0)); then
    node_manifests | kubectl create -f - >/dev/null
  fi
  if ((LOCAL_UP_REAL_NODES > 0)); then
    realnode::start_kubelet
    echo "https://${LOCAL_UP_REAL_NODE_IP}:${LOCAL_UP_APISERVER_PORT}" >"${NODE_URL_FILE}"
    CURRENT=kubelet
  else
    CURRENT=kwok
  fi
  wait_for "$((LOCAL_UP_NODES + LOCAL_UP_REAL_NODES)) node(s) to be Ready" nodes_ready
  CURRENT=kube-controller-manager
  wait_for "the default ServiceAccount" kubectl get serviceaccount default --namespace default
  CURRENT=""
  # A component that died after its start would otherwise go unnoticed.
  for name in "${COMPONENTS[@]}"; do
    CURRENT="${name}"
    pid_of "${name}" >/dev/null || die "${name} is not running"
  done
  log "controllers, ${LOCAL_UP_NODES} kwok and ${LOCAL_UP_REAL_NODES} real node(s) ready ($(since "${t}"))"

  START_OK=true
  log "up in $(since "${t0}"): ${LOCAL_UP_DIR}"
  echo "export KUBECONFIG=${KUBECONFIG_FILE}"
}

cmd_stop() {
  local t0
  t0="$(now)"
  if [[ ! -d "${LOCAL_UP_DIR}" ]]; then
    log "not running (no ${LOCAL_UP_DIR})"
    return 0
  fi
  [[ -f "${MARKER}" ]] || die "${LOCAL_UP_DIR} was not made by $0; not touching it"
  realnode::teardown
  stop_components
  realnode::assert_unmounted
  rm -rf "${LOCAL_UP_DIR}"
  log "stopped in $(since "${t0}") (${REALNODE_STOP_TIME:+real node ${REALNODE_STOP_TIME}, }${STOP_TIMES})"
}

# cmd_load_image <archive>: imports an image archive into every real node.
cmd_load_image() {
  local archive="${1:-}" t
  [[ -n "${archive}" && -f "${archive}" ]] || die "usage: $0 load-image <archive> (no file '${archive}')"
  [[ -d "${REALNODE_DIR}" ]] && pid_of containerd >/dev/null ||
    die "no real node runs in ${LOCAL_UP_DIR} (start with LOCAL_UP_REAL_NODES=1)"
  t="$(now)"
  realnode::import "${archive}" >&2 || die "importing ${archive} into ${REALNODE_NAME} failed"
  log "imported ${archive} into ${REALNODE_NAME} ($(since "${t}"))"
}

# cmd_remove_image <ref>: removes an image from the real node.
cmd_remove_image() {
  local ref="${1:-}" t
  [[ -n "${ref}" ]] || die "usage: $0 remove-image <ref>"
  [[ -d "${REALNODE_DIR}" ]] && pid_of containerd >/dev/null ||
    die "no real node runs in ${LOCAL_UP_DIR} (start with LOCAL_UP_REAL_NODES=1)"
  t="$(now)"
  realnode::remove_image "${ref}" || die "removing ${ref} from ${REALNODE_NAME} failed"
  log "removed ${ref} from ${REALNODE_NAME} ($(since "${t}"))"
}

cmd_status() {
  local name pid all=true
  for name in "${COMPONENTS[@]}"; do
    if pid="$(pid_of "${name}")"; then
      printf '%-24s running (pid %s)\n' "${name}" "${pid}"
    else
      printf '%-24s not running\n' "${name}"
      all=false
    fi
  done
  ${all} && echo "KUBECONFIG=${KUBECONFIG_FILE}"
  ${all}
}

case "${1:-}" in
  start) cmd_start ;;
  stop) cmd_stop ;;
  status) cmd_status ;;
  load-image) cmd_load_image "${2:-}" ;;
  remove-image) cmd_remove_image "${2:-}" ;;
  *)
    sed -n '2,/^set -euo/s/^# \{0,1\}//p' "${BASH_SOURCE[0]}" >&2
    exit 2
    ;;
esac
