#!/usr/bin/env bash
# `make demo` / `make demo-down`: a local control plane (hack/local-up.sh),
# the CRDs, the examples' domains and AppImages, the controller running in the
# background, and the seed page's secretflow-task-psi.yaml taken to Succeeded.
#
# DEMO_REAL_NODE=1 runs the task's pods as real containers on one real node
# (containerd + kubelet, LOCAL_UP_REAL_NODES=1, no kwok node; needs root, see
# hack/local-up.sh): `make image` builds the controller and test application
# images, they are imported into the node, and the seed's PSI task runs with
# the test application's AppImage (examples/realnode/appimage-testapp.yaml)
# instead of SecretFlow's, whose image no node here has.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "${ROOT}"
export LOCAL_UP_DIR="${LOCAL_UP_DIR:-${ROOT}/_output/local}"
# shellcheck source=lib/tools.sh
source hack/lib/tools.sh
KUBECTL_BIN="$(tools::bin_dir)/kubectl"
PID_FILE="${LOCAL_UP_DIR}/kusciatask-controller.pid"
# The checksum of the binary the running controller was started from.
SUM_FILE="${LOCAL_UP_DIR}/kusciatask-controller.sha256"
LOG_FILE="${LOCAL_UP_DIR}/logs/kusciatask-controller.log"
# The controller's ports, like the plane's LOCAL_UP_*_PORT: two demos with
# different LOCAL_UP_DIR and ports run side by side.
LOCAL_UP_CONTROLLER_METRICS_PORT="${LOCAL_UP_CONTROLLER_METRICS_PORT:-18080}"
LOCAL_UP_CONTROLLER_PROBE_PORT="${LOCAL_UP_CONTROLLER_PROBE_PORT:-18081}"
CONTROLLER_BIN=bin/kusciatask-controller
DEMO_REAL_NODE="${DEMO_REAL_NODE:-0}"
DEMO_TASK=secretflow-task-psi

kubectl() { "${KUBECTL_BIN}" --kubeconfig "${LOCAL_UP_DIR}/kubeconfig" "$@"; }

pretty_json() {
  if command -v jq >/dev/null; then jq; else python3 -m json.tool; fi
}

up() {
  [[ -x "${CONTROLLER_BIN}" ]] || make build
  local controller_args=()
  if [[ "${DEMO_REAL_NODE}" == 1 ]]; then
    make image
    LOCAL_UP_REAL_NODES=1 LOCAL_UP_NODES=0 LOCAL_UP_CRDS="${ROOT}/crds" hack/local-up.sh start
    hack/local-up.sh load-image _output/images/kusciatask-controller.tar
    hack/local-up.sh load-image _output/images/kuscia-testapp.tar
    # The gate runs from the imported controller image.
    controller_args=(--gate-image=kusciatask-controller:local)
  else
    LOCAL_UP_CRDS="${ROOT}/crds" hack/local-up.sh start
  fi
  kubectl apply --server-side -f crds/ >/dev/null
  kubectl wait --for condition=Established crd/kusciatasks.kuscia.secretflow crd/appimages.kuscia.secretflow >/dev/null
  # The controller's own namespace holds its mark key (a Secret it creates).
  kubectl apply -f deploy/base/namespace.yaml
  kubectl apply -f examples/domains.yaml -f examples/appimage-secretflow.yaml -f examples/appimage-app-template.yaml \
    -f examples/realnode/appimage-testapp.yaml

  local sum; sum=$(sha256sum "${CONTROLLER_BIN}" | cut -d' ' -f1)
  if controller_running && [[ "$(cat "${SUM_FILE}" 2>/dev/null)" == "${sum}" ]]; then
    echo "controller already running (pid $(cat "${PID_FILE}"))"
  else
    if controller_running; then
      echo "${CONTROLLER_BIN} changed; restarting the controller"
      stop_controller
    fi
    mkdir -p "$(dirname "${LOG_FILE}")"
    "${CONTROLLER_BIN}" --kubeconfig "${LOCAL_UP_DIR}/kubeconfig" \
      --metrics-bind-address "127.0.0.1:${LOCAL_UP_CONTROLLER_METRICS_PORT}" \
      --health-probe-bind-address "127.0.0.1:${LOCAL_UP_CONTROLLER_PROBE_PORT}" -v 2 "${controller_args[@]}" \
      >"${LOG_FILE}" 2>&1 &
    echo $! >"${PID_FILE}"
    echo "${sum}" >"${SUM_FILE}"
    # A port in use stops the controller at once: say so instead of waiting.
    sleep 1
    if ! controller_running; then
      echo "the controller exited at start-up; its log (${LOG_FILE}):" >&2
      tail -5 "${LOG_FILE}" >&2
      exit 1
    fi
    echo "controller started (pid $!, log ${LOG_FILE})"
  fi

  kubectl delete kt "${DEMO_TASK}" --ignore-not-found --wait >/dev/null
  if [[ "${DEMO_REAL_NODE}" == 1 ]]; then
    echo; echo "\$ sed 's/appImageRef: secretflow-image/appImageRef: testapp/' examples/secretflow-task-psi.yaml | kubectl apply -f -"
    sed 's/appImageRef: secretflow-image/appImageRef: testapp/' examples/secretflow-task-psi.yaml | kubectl apply -f -
  else
    echo; echo "\$ kubectl apply -f examples/secretflow-task-psi.yaml"
    kubectl apply -f examples/secretflow-task-psi.yaml
  fi
  echo; echo "\$ kubectl get kt -w"
  watch_until_done "${DEMO_TASK}"
  echo; echo "\$ kubectl get kt ${DEMO_TASK} -o jsonpath={.status} | jq"
  kubectl get kt "${DEMO_TASK}" -o jsonpath='{.status}' | pretty_json
  if [[ "${DEMO_REAL_NODE}" == 1 ]]; then
    echo; echo "\$ kubectl logs -n alice ${DEMO_TASK}-0   # what the real container printed"
    kubectl logs -n alice "${DEMO_TASK}-0"
  fi
  cat <<MSG

The control plane and the controller keep running. Try:
  export KUBECONFIG=${LOCAL_UP_DIR}/kubeconfig
  export PATH=$(tools::bin_dir):\$PATH
  kubectl get kt,pods -A
  kubectl apply -f examples/task-template.yaml && kubectl get kt -w
  kubectl describe kt secretflow-task-psi
Controller log: ${LOG_FILE}
Stop everything with: make demo-down
MSG
}

# watch_until_done prints `kubectl get kt -w` until the task is terminal.
watch_until_done() {
  local name=$1 deadline=$((SECONDS + 120)) phase=""
  # The binary itself, not the kubectl function: $! must be kubectl's pid.
  "${KUBECTL_BIN}" --kubeconfig "${LOCAL_UP_DIR}/kubeconfig" get kt "${name}" -w &
  local watcher=$!
  while (( SECONDS < deadline )); do
    phase=$(kubectl get kt "${name}" -o jsonpath='{.status.phase}')
    [[ "${phase}" == Succeeded || "${phase}" == Failed ]] && break
    sleep 1
  done
  sleep 1
  kill "${watcher}" 2>/dev/null || true
  wait "${watcher}" 2>/dev/null || true
  if [[ "${phase}" != Succeeded ]]; then
    echo "task ${name} ended as '${phase:-unknown}'; controller log: ${LOG_FILE}" >&2
    return 1
  fi
}

controller_running() {
  [[ -f "${PID_FILE}" ]] && kill -0 "$(cat "${PID_FILE}")" 2>/dev/null
}

stop_controller() {
  if [[ -f "${PID_FILE}" ]]; then
    local pid; pid=$(cat "${PID_FILE}")
    if kill "${pid}" 2>/dev/null; then
      for _ in $(seq 50); do kill -0 "${pid}" 2>/dev/null || break; sleep 0.1; done
      kill -9 "${pid}" 2>/dev/null || true
    fi
    rm -f "${PID_FILE}" "${SUM_FILE}"
    echo "controller stopped"
  fi
}

down() {
  stop_controller
  hack/local-up.sh stop
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  *) echo "usage: $0 up|down" >&2; exit 2 ;;
esac
