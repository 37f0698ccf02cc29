#!/usr/bin/env bash
# Runs `molecule test -s SCENARIO` against the lab image with the built collection:
# starts Docker, builds the lab image when its recipe changed, installs
# dist/matrixha-stack-*.tar.gz (built by `make collection` or test stage 25; built here
# for x86_64 when missing) into a temporary collections path, and prints the time.
set -euo pipefail
cd "$(dirname "$0")/.."
scenario=${1:?usage: scripts/molecule-scenario.sh SCENARIO}

scripts/docker-up.sh
lab/build-image.sh

tarball=$(ls -t dist/matrixha-stack-*.tar.gz 2>/dev/null | head -n1 || true)
if [[ -z $tarball ]]; then
  MATRIXHA_TARGETS=x86_64 scripts/build-collection.sh
  tarball=$(ls -t dist/matrixha-stack-*.tar.gz | head -n1)
fi
collections=$(mktemp -d)
trap 'rm -rf "$collections"' EXIT
.venv/bin/ansible-galaxy collection install --force -p "$collections" "$tarball" >/dev/null
# Molecule's own collections (community.docker, ansible.posix) come from the venv.
export ANSIBLE_COLLECTIONS_PATH="$collections:${ANSIBLE_COLLECTIONS_PATH:-$HOME/.ansible/collections}"

start=$(date +%s)
.venv/bin/molecule test -s "$scenario"
echo "molecule $scenario: $(($(date +%s) - start)) s"
