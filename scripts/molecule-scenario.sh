#!/usr/bin/env bash
# Runs `molecule test -s SCENARIO` against the lab image with the collection built from
# this tree: starts Docker, builds the lab image when its recipe changed, builds the
# collection for this machine's architecture (scripts/build-collection.sh: cargo's
# incremental build, seconds when nothing changed; into target/dist-ARCH, not dist/),
# installs exactly that tarball into a temporary collections path, and prints the time.
set -euo pipefail
cd "$(dirname "$0")/.."
scenario=${1:?usage: scripts/molecule-scenario.sh SCENARIO}

scripts/docker-up.sh
lab/build-image.sh

tarball=$(MATRIXHA_TARGETS=$(uname -m) MATRIXHA_DIST_DIR=target/dist-$(uname -m) scripts/build-collection.sh)
collections=$(mktemp -d)
trap 'rm -rf "$collections"' EXIT
.venv/bin/ansible-galaxy collection install --force -p "$collections" "$tarball" >/dev/null
# Molecule's own collections (community.docker, ansible.posix) come from the venv.
export ANSIBLE_COLLECTIONS_PATH="$collections:${ANSIBLE_COLLECTIONS_PATH:-$HOME/.ansible/collections}"

start=$(date +%s)
.venv/bin/molecule test -s "$scenario"
echo "molecule $scenario: $(($(date +%s) - start)) s"
