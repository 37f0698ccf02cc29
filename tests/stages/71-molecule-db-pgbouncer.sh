#!/usr/bin/env bash
# Database tier + PgBouncer in the lab: Molecule scenario `db_pgbouncer` (pgbpat1-3,
# 10.0.13.0/24, VIP 10.0.13.10): converge playbooks/db.yml and the pgbouncer role,
# idempotence, then verify that writes through every node's PgBouncer land on the leader,
# and that after a Patroni failover (Patroni stopped on the leader) new sessions through
# every PgBouncer reach the new primary with PgBouncer untouched. About 5.5 min here.
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
export ANSIBLE_COLLECTIONS_PATH="$collections:${ANSIBLE_COLLECTIONS_PATH:-$HOME/.ansible/collections}"

start=$(date +%s)
.venv/bin/molecule test -s db_pgbouncer
echo "molecule db_pgbouncer: $(($(date +%s) - start)) s"
