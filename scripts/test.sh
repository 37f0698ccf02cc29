#!/usr/bin/env bash
# Every test: sets up what is missing, then runs each stage in tests/stages/ in order.
# A stage is a script; the first that fails stops the run. Times are printed per stage.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
export PATH="$PWD/.venv/bin:$PATH"
total_start=$(date +%s)
only=${MATRIXHA_STAGES:-}
for stage in tests/stages/*.sh; do
  name=$(basename "$stage" .sh)
  if [[ -n $only && ! $name =~ $only ]]; then continue; fi
  echo "=== stage $name"
  start=$(date +%s)
  log=$(mktemp)
  if ! bash "$stage" 2>&1 | tee "$log"; then
    # CI shows only the end of the output: repeat what failed, last.
    echo "=== stage $name FAILED after $(( $(date +%s) - start )) s; its failure lines:"
    grep -n -E 'fatal: |FAILED!|ERROR|Traceback|panicked|error(\[|:)|^FAIL|AssertionError|Failed: |violation' "$log" | tail -n 25 | cut -c1-600
    rm -f "$log"
    exit 1
  fi
  rm -f "$log"
  echo "=== stage $name passed in $(( $(date +%s) - start )) s"
done
echo "=== all stages passed in $(( $(date +%s) - total_start )) s"
