#!/usr/bin/env bash
# Prints performance figures: module binary sizes per architecture, per-task overhead of a
# matrixha module against ansible.builtin.command, and the PgBouncer pgbench comparison.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/build-collection.sh

echo
echo "== Module binary sizes (stripped, static musl)"
printf '%-18s %12s %12s\n' module x86_64 aarch64
for f in collection/bin/*_linux_x86_64; do
  m=$(basename "$f" _linux_x86_64)
  printf '%-18s %10s K %10s K\n' "$m" "$(( $(stat -c %s "$f") / 1024 ))" \
    "$(( $(stat -c %s "collection/bin/${m}_linux_aarch64") / 1024 ))"
done

echo
echo "== Per-task wall time on localhost (50 each, interleaved, one run)"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
.venv/bin/ansible-galaxy collection install --force -p "$tmp/collections" dist/matrixha-stack-*.tar.gz >/dev/null 2>&1
ANSIBLE_COLLECTIONS_PATH="$tmp/collections" \
ANSIBLE_CALLBACK_PLUGINS="$PWD/tests/bench/callback_plugins" \
ANSIBLE_CALLBACKS_ENABLED=task_timer \
MATRIXHA_TIMINGS_FILE="$tmp/timings.jsonl" \
ANSIBLE_LOCALHOST_WARNING=false ANSIBLE_INVENTORY_UNPARSED_WARNING=false \
  .venv/bin/ansible-playbook -i localhost, -c local tests/bench/module_overhead.yml \
  -e bench_rounds=50 -e "bench_dir=$tmp" -e "ansible_python_interpreter=$PWD/.venv/bin/python" >/dev/null
python3 - "$tmp/timings.jsonl" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
def times(prefix):
    return [r["seconds"] for r in rows if r["task"].startswith(prefix)]
mod, cmd = times("Bench module"), times("Bench command")
assert len(mod) == 50 and len(cmd) == 50, (len(mod), len(cmd))
m, c = statistics.mean(mod), statistics.mean(cmd)
print(f"matrixha.stack.coturn_config : mean {m*1000:7.1f} ms  median {statistics.median(mod)*1000:7.1f} ms  (n={len(mod)})")
print(f"ansible.builtin.command true : mean {c*1000:7.1f} ms  median {statistics.median(cmd)*1000:7.1f} ms  (n={len(cmd)})")
print(f"ratio module/command         : {m/c:.2f}")
PY

if [[ -x tests/bench/pgbouncer_bench.sh ]]; then
  echo
  echo "== PgBouncer: pgbench through the pool against direct"
  tests/bench/pgbouncer_bench.sh
fi
