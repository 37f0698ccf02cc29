#!/usr/bin/env bash
# TURN tier in the lab: Molecule scenario `turn` on coturn1, coturn2 (10.0.5.11-12) and a
# client host (10.0.5.100): converge playbooks/tiers/turn.yml (each node probes itself),
# idempotence, verify (from the client: Allocate + permissions over UDP/TCP/TLS on both
# nodes, client range allowed, server subnets refused; coturn2 stopped -> its probe fails,
# coturn1 still passes). Uses the collection built by stage 25 (dist/); builds it when missing.
set -euo pipefail
cd "$(dirname "$0")/../.."

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
export ANSIBLE_COLLECTIONS_PATH="$collections:${ANSIBLE_COLLECTIONS_PATH:-$HOME/.ansible/collections}"

start=$(date +%s)
.venv/bin/molecule test -s turn
echo "molecule turn: $(($(date +%s) - start)) s"
