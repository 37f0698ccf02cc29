#!/usr/bin/env bash
# Database tier in the lab: Molecule scenario `db` on three containers (patroni1-3,
# 10.0.3.0/24): converge playbooks/db.yml, idempotence, verify (one leader, two
# streaming replicas, one sync standby, VIP write on the primary, replica refuses
# writes, switchover through the module moves the VIP's target) and one round of the
# failover drill (hard kill, VIP holder kill, switchover; 0 acknowledged rows lost).
# Uses the collection built by stage 25 (dist/); builds it when missing.
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
# Molecule's own collections (community.docker, ansible.posix) come from the venv.
export ANSIBLE_COLLECTIONS_PATH="$collections:${ANSIBLE_COLLECTIONS_PATH:-$HOME/.ansible/collections}"

start=$(date +%s)
.venv/bin/molecule test -s db
echo "molecule db: $(($(date +%s) - start)) s"
