#!/usr/bin/env bash
# Prints the flag sections of the controller's --help (from "Generic
# flags:" on), as the docs show them:  hack/readme-flags.sh > /tmp/flags.txt
# klog's legacy flags are not in --help any more (accepted, hidden and
# deprecated), so nothing is left out.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
go run ./cmd/kusciatask-controller --help 2>&1 | sed -n '/^Generic flags:/,$p'
