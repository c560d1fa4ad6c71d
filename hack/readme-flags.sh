#!/usr/bin/env bash
# Prints the controller's --help without klog's logging flags, as the
# README's "Flags" section shows it:  hack/readme-flags.sh > /tmp/flags.txt
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
go run ./cmd/kusciatask-controller --help 2>&1 | awk '
  /^Flags:/ { flags = 1; next }
  !flags { next }
  /^  -/ {
    name = $1; sub(/^-/, "", name)
    keep = (name !~ /^(add_dir_header|alsologtostderr|alsologtostderrthreshold|log_backtrace_at|log_dir|log_file|log_file_max_size|logtostderr|one_output|skip_headers|skip_log_headers|stderrthreshold|legacy_stderr_threshold_behavior|vmodule)$/)
  }
  keep { print }
'
