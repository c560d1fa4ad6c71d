#!/usr/bin/env bash
# `make demo` / `make demo-down`: a local control plane (hack/local-up.sh),
# the CRDs, the examples' domains and AppImages, the controller running in the
# background, and the seed page's secretflow-task-psi.yaml taken to Succeeded.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "${ROOT}"
export LOCAL_UP_DIR="${LOCAL_UP_DIR:-${ROOT}/_output/local}"
# shellcheck source=lib/tools.sh
source hack/lib/tools.sh
KUBECTL_BIN="$(tools::bin_dir)/kubectl"
PID_FILE="${LOCAL_UP_DIR}/kusciatask-controller.pid"
LOG_FILE="${LOCAL_UP_DIR}/logs/kusciatask-controller.log"

kubectl() { "${KUBECTL_BIN}" --kubeconfig "${LOCAL_UP_DIR}/kubeconfig" "$@"; }

pretty_json() {
  if command -v jq >/dev/null; then jq; else python3 -m json.tool; fi
}

up() {
  [[ -x bin/kusciatask-controller ]] || make build
  LOCAL_UP_CRDS="${ROOT}/crds" hack/local-up.sh start
  kubectl apply --server-side -f crds/ >/dev/null
  kubectl wait --for condition=Established crd/kusciatasks.kuscia.secretflow crd/appimages.kuscia.secretflow >/dev/null
  kubectl apply -f examples/domains.yaml -f examples/appimage-secretflow.yaml -f examples/appimage-app-template.yaml

  if [[ -f "${PID_FILE}" ]] && kill -0 "$(cat "${PID_FILE}")" 2>/dev/null; then
    echo "controller already running (pid $(cat "${PID_FILE}"))"
  else
    mkdir -p "$(dirname "${LOG_FILE}")"
    bin/kusciatask-controller --kubeconfig "${LOCAL_UP_DIR}/kubeconfig" \
      --metrics-bind-address 127.0.0.1:18080 --health-probe-bind-address 127.0.0.1:18081 -v 2 \
      >"${LOG_FILE}" 2>&1 &
    echo $! >"${PID_FILE}"
    echo "controller started (pid $!, log ${LOG_FILE})"
  fi

  echo; echo "\$ kubectl apply -f examples/secretflow-task-psi.yaml"
  kubectl delete kt secretflow-task-psi --ignore-not-found --wait >/dev/null
  kubectl apply -f examples/secretflow-task-psi.yaml
  echo; echo "\$ kubectl get kt -w"
  watch_until_done secretflow-task-psi
  echo; echo "\$ kubectl get kt secretflow-task-psi -o jsonpath={.status} | jq"
  kubectl get kt secretflow-task-psi -o jsonpath='{.status}' | pretty_json
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

down() {
  if [[ -f "${PID_FILE}" ]]; then
    local pid; pid=$(cat "${PID_FILE}")
    if kill "${pid}" 2>/dev/null; then
      for _ in $(seq 50); do kill -0 "${pid}" 2>/dev/null || break; sleep 0.1; done
      kill -9 "${pid}" 2>/dev/null || true
    fi
    rm -f "${PID_FILE}"
    echo "controller stopped"
  fi
  hack/local-up.sh stop
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  *) echo "usage: $0 up|down" >&2; exit 2 ;;
esac
