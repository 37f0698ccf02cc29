#!/usr/bin/env bash
# First the role secrets audit (tests/roles/test_no_log.py: every task, template and
# argument_specs option that carries a secret is no_log / diff: false, checked statically
# and by one live --check --diff run of the Keepalived template; ~15 s, no Docker).
# Then the scenario subnet check (tests/lab/test_subnets.py). Then ansible-lint (production profile) over the roles, playbooks, inventories and scenarios.
# It runs from a copy-by-symlink of that content outside the repository: at the root,
# galaxy.yml makes ansible-lint try to install the whole repository (target/ included)
# as a collection. matrixha.stack resolves to a copy of collection/ through
# ANSIBLE_COLLECTIONS_PATH.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
out=$(mktemp)
.venv/bin/python tests/roles/test_no_log.py >"$out" 2>&1 || { cat "$out"; rm -f "$out"; echo "12: role secrets audit failed"; exit 1; }
grep -E '^(Ran|OK)' "$out"
# Scenario subnets never overlap the lab's (the scenarios run beside `make lab`).
.venv/bin/python tests/lab/test_subnets.py >"$out" 2>&1 || { cat "$out"; rm -f "$out"; echo "12: scenario subnets overlap"; exit 1; }
rm -f "$out"
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
coll="$stage/collections/ansible_collections/matrixha"
mkdir -p "$coll" "$stage/project"
cp -a collection "$coll/stack"
cp galaxy.yml "$coll/stack/"
rm -rf "$coll/stack/bin"
for p in playbooks molecule inventories collection .config .ansible-lint; do
  [[ -e $p ]] && cp -a "$p" "$stage/project/"
done
rm -rf "$stage/project/collection/bin"
cd "$stage/project"
ANSIBLE_COLLECTIONS_PATH="$stage/collections" "$root/.venv/bin/ansible-lint" --profile production
