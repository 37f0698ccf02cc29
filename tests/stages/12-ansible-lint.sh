#!/usr/bin/env bash
# ansible-lint (production profile) over the roles, playbooks, inventories and scenarios.
# It runs from a copy-by-symlink of that content outside the repository: at the root,
# galaxy.yml makes ansible-lint try to install the whole repository (target/ included)
# as a collection. matrixha.stack resolves to a copy of collection/ through
# ANSIBLE_COLLECTIONS_PATH.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
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
